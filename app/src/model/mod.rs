//! The data the pages show: plain serde types shared by the server (which fills them)
//! and the browser (which renders them).
pub mod error;
pub mod pages;
pub mod records;
pub mod viewer;

pub use error::{ConsoleError, ConsoleResult};
pub use pages::*;
pub use records::*;
pub use viewer::{Role, Viewer};
