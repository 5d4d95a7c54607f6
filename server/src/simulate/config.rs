//! The simulator's settings: from `server simulate` flags (`cli.rs`), or the demo's gentle
//! defaults.
use std::time::Duration;

use super::faults::FaultRates;

/// Where the periodic report goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Summary lines and the final report on standard output (`server simulate`).
    Print,
    /// One log line per report interval (the in-process demo).
    Log,
    /// Nothing: the caller reads the report (tests).
    Silent,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The wallet's base URL, e.g. `http://127.0.0.1:3000`.
    pub target: String,
    pub operator_token: String,
    /// Rounds started per second, across all players.
    pub rounds_per_second: f64,
    /// `None`: until the process stops (the demo).
    pub duration: Option<Duration>,
    pub seed: u64,
    pub providers: usize,
    pub players: usize,
    pub faults: FaultRates,
    /// How long after a dropped answer the provider resends: (min, max).
    pub resend_delay: (Duration, Duration),
    pub first_statement_after: Option<Duration>,
    pub statement_every: Option<Duration>,
    pub report_every: Duration,
    /// Prefix of every id the run creates, so runs never share one.
    pub run_tag: String,
    pub output: Output,
    /// A PEM file of certificate authorities to trust besides the platform's (`--ca-file`).
    pub ca_file: Option<std::path::PathBuf>,
}

impl SimConfig {
    /// Defaults for a run of `duration`: statements three times per run, resends up to a
    /// quarter of the run later (seconds in a short run, minutes in a long one).
    pub fn new(target: &str, operator_token: &str, duration: Option<Duration>) -> SimConfig {
        let statement_every = duration.map_or(Duration::from_secs(60), |d| {
            (d / 3).clamp(Duration::from_secs(5), Duration::from_secs(60))
        });
        SimConfig {
            target: target.trim_end_matches('/').to_owned(),
            operator_token: operator_token.to_owned(),
            rounds_per_second: 20.0,
            duration,
            seed: 1,
            providers: 3,
            players: 30,
            faults: FaultRates::default(),
            resend_delay: resend_delay_for(duration),
            first_statement_after: Some(statement_every),
            statement_every: Some(statement_every),
            report_every: Duration::from_secs(10),
            run_tag: fresh_run_tag("sim"),
            output: Output::Print,
            ca_file: None,
        }
    }

    /// The demo: a few rounds a second for as long as the server runs, a first statement
    /// within seconds (so reconciliation has findings to show) and then one every ten
    /// minutes, one log line a minute.
    pub fn demo(target: &str, operator_token: &str) -> SimConfig {
        SimConfig {
            rounds_per_second: 6.0,
            players: 12,
            first_statement_after: Some(Duration::from_secs(15)),
            statement_every: Some(Duration::from_secs(600)),
            report_every: Duration::from_secs(60),
            run_tag: fresh_run_tag("demo"),
            output: Output::Log,
            ..SimConfig::new(target, operator_token, None)
        }
    }
}

/// Seconds to minutes, scaled to the run.
fn resend_delay_for(duration: Option<Duration>) -> (Duration, Duration) {
    match duration {
        Some(d) => (
            Duration::from_secs(1),
            (d / 4).clamp(Duration::from_secs(2), Duration::from_secs(120)),
        ),
        None => (Duration::from_secs(5), Duration::from_secs(120)),
    }
}

/// A run tag nobody else has: the ids of two runs must never meet.
fn fresh_run_tag(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}
