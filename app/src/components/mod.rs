//! Pieces every console page uses.
pub mod chart;
pub mod clock;
pub mod finding;
pub mod layout;
pub mod tables;
pub mod widgets;
