//! Pieces every console page uses.
pub mod chart;
pub mod layout;
pub mod widgets;
