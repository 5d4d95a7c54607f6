//! What the run saw: requests by outcome, faults injected by kind, differences from the
//! model and statement findings expected against reported. Players add to one shared
//! tally; a report is a snapshot of it.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client::WireAnswer;

/// Differences kept word for word; the rest are only counted.
const DIFFERENCE_SAMPLES: usize = 20;
/// Statement results kept in memory (a demo runs for days).
const STATEMENT_RESULTS: usize = 200;

/// One statement: the findings the simulator wrote into it, and what the wallet found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementResult {
    pub provider_id: String,
    pub report_id: String,
    pub lines: usize,
    /// `(kind, transaction_id)`, sorted.
    pub expected: Vec<(String, String)>,
    pub reported: Vec<(String, String)>,
    pub matched_expected: i64,
    pub matched_reported: i64,
    /// Why the statement got no answer, if it did not.
    pub error: Option<String>,
}

impl StatementResult {
    pub fn agrees(&self) -> bool {
        self.error.is_none()
            && self.expected == self.reported
            && self.matched_expected == self.matched_reported
    }
}

#[derive(Debug, Clone, Default)]
struct Counts {
    rounds: u64,
    requests: BTreeMap<&'static str, u64>,
    operator_requests: u64,
    faults: BTreeMap<&'static str, u64>,
    duplicate_copies: u64,
    dropped_retries: u64,
    differences: u64,
    difference_samples: Vec<String>,
    statements: Vec<StatementResult>,
    statements_sent: u64,
    statement_mismatches: u64,
}

/// The live counters of a run.
pub struct Tally {
    started: Instant,
    counts: Mutex<Counts>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            started: Instant::now(),
            counts: Mutex::new(Counts::default()),
        }
    }
}

/// The attempt log's words for how a request ended, plus one for no answer at all.
pub fn outcome_of(answer: Option<&WireAnswer>) -> &'static str {
    let Some(answer) = answer else {
        return "NO_ANSWER";
    };
    match (answer.status, answer.code()) {
        (500.., _) => "ERROR",
        _ if answer.replayed() => "REPLAY",
        (_, Some("IDEMPOTENCY_CONFLICT")) => "CONFLICT",
        (200..=299, _) => "FIRST",
        (
            _,
            Some("INVALID_SIGNATURE" | "STALE_REQUEST" | "MALFORMED_REQUEST" | "INVALID_AMOUNT"),
        ) => "REJECTED",
        _ => "DECLINED",
    }
}

impl Tally {
    fn with<T>(&self, update: impl FnOnce(&mut Counts) -> T) -> T {
        // A panic elsewhere must not silence the report: take the counts as they are.
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        update(&mut counts)
    }

    pub fn request(&self, answer: Option<&WireAnswer>) {
        let outcome = outcome_of(answer);
        self.with(|c| *c.requests.entry(outcome).or_default() += 1);
    }

    pub fn operator_request(&self) {
        self.with(|c| c.operator_requests += 1);
    }

    pub fn round(&self) {
        self.with(|c| c.rounds += 1);
    }

    pub fn fault(&self, name: &'static str) {
        self.with(|c| *c.faults.entry(name).or_default() += 1);
    }

    /// Identical copies sent beyond the first: each must show up as a replay.
    pub fn duplicate_copies(&self, copies: u64) {
        self.with(|c| c.duplicate_copies += copies);
    }

    /// A retry after a dropped answer: it must show up as a replay.
    pub fn dropped_retry(&self) {
        self.with(|c| c.dropped_retries += 1);
    }

    pub fn difference(&self, what: String) {
        self.with(|c| {
            c.differences += 1;
            if c.difference_samples.len() < DIFFERENCE_SAMPLES {
                c.difference_samples.push(what);
            }
        });
    }

    pub fn statement(&self, result: StatementResult) {
        self.with(|c| {
            c.statements_sent += 1;
            c.statement_mismatches += u64::from(!result.agrees());
            if c.statements.len() == STATEMENT_RESULTS {
                c.statements.remove(0);
            }
            c.statements.push(result);
        });
    }

    pub fn snapshot(&self) -> Report {
        let elapsed = self.started.elapsed();
        self.with(|c| Report {
            elapsed,
            rounds: c.rounds,
            requests: c
                .requests
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            operator_requests: c.operator_requests,
            faults: c
                .faults
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            duplicate_copies: c.duplicate_copies,
            dropped_retries: c.dropped_retries,
            model_differences: c.differences,
            difference_samples: c.difference_samples.clone(),
            statements: c.statements.clone(),
            statements_sent: c.statements_sent,
            statement_mismatches: c.statement_mismatches,
        })
    }
}

/// A snapshot of the run's counters.
#[derive(Debug, Clone)]
pub struct Report {
    pub elapsed: Duration,
    pub rounds: u64,
    /// Wallet API requests by outcome: `FIRST`, `REPLAY`, `DECLINED`, `CONFLICT`,
    /// `REJECTED`, `ERROR`, `NO_ANSWER`.
    pub requests: BTreeMap<String, u64>,
    pub operator_requests: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Identical requests sent in storms beyond the first of each.
    pub duplicate_copies: u64,
    /// Requests resent after a dropped answer.
    pub dropped_retries: u64,
    pub model_differences: u64,
    pub difference_samples: Vec<String>,
    pub statements: Vec<StatementResult>,
    pub statements_sent: u64,
    pub statement_mismatches: u64,
}

impl Report {
    /// Zero differences from the model and every statement finding as injected.
    pub fn passed(&self) -> bool {
        self.model_differences == 0 && self.statement_mismatches == 0
    }

    pub fn fault_count(&self, name: &str) -> u64 {
        self.faults.get(name).copied().unwrap_or(0)
    }

    pub fn request_count(&self, outcome: &str) -> u64 {
        self.requests.get(outcome).copied().unwrap_or(0)
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// The requests the wallet must have answered as replays, at least.
    pub fn replays_injected(&self) -> u64 {
        self.duplicate_copies + self.dropped_retries
    }

    fn per_second(&self, count: u64) -> f64 {
        count as f64 / self.elapsed.as_secs_f64().max(0.001)
    }

    pub fn requests_per_second(&self) -> f64 {
        self.per_second(self.total_requests())
    }

    /// One line for the periodic report and the demo's log.
    pub fn summary_line(&self) -> String {
        format!(
            "{:.0} s: {} rounds ({:.1}/s), {} requests ({:.1}/s; {} replays, {} conflicts), {} faults, {} model differences, {} statements ({} disagreeing)",
            self.elapsed.as_secs_f64(),
            self.rounds,
            self.per_second(self.rounds),
            self.total_requests(),
            self.requests_per_second(),
            self.request_count("REPLAY"),
            self.request_count("CONFLICT"),
            self.faults.values().sum::<u64>(),
            self.model_differences,
            self.statements_sent,
            self.statement_mismatches,
        )
    }

    /// The final report, several lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "simulation report after {:.1} s",
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "  rounds played       {} ({:.1}/s)",
            self.rounds,
            self.per_second(self.rounds)
        );
        let _ = writeln!(
            out,
            "  wallet requests     {} ({:.1}/s): {}",
            self.total_requests(),
            self.requests_per_second(),
            join(&self.requests)
        );
        let _ = writeln!(out, "  operator requests   {}", self.operator_requests);
        let _ = writeln!(
            out,
            "  faults injected     {} (storm copies beyond the first: {}, resends after a dropped answer: {})",
            join(&self.faults),
            self.duplicate_copies,
            self.dropped_retries
        );
        let _ = writeln!(
            out,
            "  model differences   {} (must be 0)",
            self.model_differences
        );
        for sample in &self.difference_samples {
            let _ = writeln!(out, "    - {sample}");
        }
        let _ = writeln!(
            out,
            "  statements          {} sent, {} disagreeing with the injected findings",
            self.statements_sent, self.statement_mismatches
        );
        for statement in &self.statements {
            render_statement(&mut out, statement);
        }
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "  result              {verdict}");
        out
    }
}

fn join(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_statement(out: &mut String, statement: &StatementResult) {
    let verdict = if statement.agrees() {
        "as injected"
    } else {
        "DIFFERENT"
    };
    let _ = writeln!(
        out,
        "    {} {}: {} lines, matched {} (expected {}), findings {verdict}",
        statement.provider_id,
        statement.report_id,
        statement.lines,
        statement.matched_reported,
        statement.matched_expected
    );
    if !statement.agrees() {
        let _ = writeln!(out, "      expected {:?}", statement.expected);
        let _ = writeln!(out, "      reported {:?}", statement.reported);
        if let Some(error) = &statement.error {
            let _ = writeln!(out, "      error    {error}");
        }
    }
}
