//! Every attempt is traceable: each request to the wallet and operator APIs leaves one
//! record in the attempt log, whatever became of it.
mod capture;
pub mod counters;
mod log_writer;
pub mod overview;
mod redact;
pub mod retention;
mod stored_once;

pub use capture::{body_limit, capture, OperationNote, Outcome, SignatureNote, MAX_BODY_BYTES};
pub use log_writer::AttemptLog;
pub use redact::{cap, redact, redact_and_cap};
pub use stored_once::{
    bodies_are_the_keys, drop_the_keys_copies, log_insert, log_statements, replay_body, LogBatch,
};
