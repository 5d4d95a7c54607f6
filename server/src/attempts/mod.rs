//! The attempt log: each request to the wallet and operator APIs leaves one record,
//! whatever became of it (written by the middleware `http::capture`), kept for disputes,
//! counted per minute, and pruned by age.
pub mod counters;
mod log_writer;
mod outcome;
pub mod overview;
mod redact;
pub mod retention;
mod stored_once;

pub use log_writer::AttemptLog;
pub use outcome::Outcome;
pub use redact::{cap, redact, redact_and_cap};
pub use stored_once::{
    bodies_are_the_keys, drop_the_keys_copies, log_insert, log_statements, replay_body, LogBatch,
};
