//! How a request ended: what the attempt log stores and the counters count.

/// How a request ended, for the log and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The key's first execution, and it took effect (or a read that succeeded).
    First,
    /// The stored answer of an earlier request with the same key.
    Replay,
    /// Same key, other meaning: `409 IDEMPOTENCY_CONFLICT`.
    Conflict,
    /// The key's first execution ended in a recorded decline.
    Declined,
    /// Refused before reaching a key: authentication, parsing, invalid amount.
    Rejected,
    /// A server-side failure: nothing committed, or outcome unknown.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::First => "FIRST",
            Outcome::Replay => "REPLAY",
            Outcome::Conflict => "CONFLICT",
            Outcome::Declined => "DECLINED",
            Outcome::Rejected => "REJECTED",
            Outcome::Error => "ERROR",
        }
    }

    /// Without a handler's note, the status tells.
    pub fn from_status(status: u16) -> Outcome {
        match status {
            500.. => Outcome::Error,
            400.. => Outcome::Rejected,
            _ => Outcome::First,
        }
    }
}
