//! Reconciliation: the wallet checks itself (balances against the ledger, the ledger
//! against itself, bets against their states, money stuck in open rounds) and checks
//! providers' statements against what it recorded. Every finding is a discrepancy record
//! that people acknowledge and resolve; the job resolves what clears by itself.
mod checks;
pub mod cli;
pub mod discrepancies;
mod findings;
mod job;
pub mod matching;
pub mod pass;
pub mod runs;
mod sql;
pub mod standing;
pub mod statement;
mod trail_check;
pub mod wire;

pub use checks::{
    run as run_check, Thresholds, AMOUNT_HINT_MISMATCH, BALANCE_MISMATCH, BET_STATE_UNKNOWN,
    CLEARING_MISMATCH, DEFAULT_ORPHAN_AFTER_SECS, DEFAULT_STALE_ROUND_AFTER_SECS,
    MAX_FINDINGS_PER_CHECK, MONEY_INVARIANTS, PENDING_ROLLBACK, STALE_ROUND,
    UNBALANCED_TRANSACTION, UNCLAIMED_TOMBSTONE,
};
pub use findings::{flag_hint_mismatch, Finding, Severity, Subject, AUTO_RESOLVER};
pub use job::{
    critical_open, run_once, run_with, spawn_schedule, RunOptions, RunOutcome, RunSummary,
    Schedule, TrailSummary, Trigger, DEFAULT_INTERVAL_SECS,
};
pub use matching::{reconcile_statement, ReportResult, MAX_DISCREPANCIES};
pub use pass::{TrailMode, TrailPass, DEFAULT_FULL_EVERY_RUNS};
pub use runs::{recent_runs, run_now, run_now_with, RunError, MAX_RUNS};
pub use trail_check::TRAIL_BROKEN;
