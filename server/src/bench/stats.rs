//! What one client saw, merged into a scenario's figures: every request's latency, the
//! answers by status and error code, and the answers that differed from the model.
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::cpu::{CpuPerOperation, CpuTimes};

/// Wrong answers kept word for word; the rest are only counted.
const WRONG_SAMPLES: usize = 20;

/// One client's record. Each client owns one, so recording takes no lock.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Every request's latency in microseconds (a 10 s run at 10,000/s keeps 400 KB).
    latencies_us: Vec<u32>,
    statuses: BTreeMap<String, u64>,
    /// Operations that got a definitive answer (retries of one operation count once).
    pub operations: u64,
    /// Operations that never got a definitive answer within the retry budget.
    pub unresolved: u64,
    wrong: u64,
    wrong_samples: Vec<String>,
    /// `--report-every`: every latency also goes here, emptied by the reporter each window.
    pub window: Option<Window>,
    /// The CPU the scenario spent, when it was read around it (`bench::cpu`).
    pub cpu: Option<CpuTimes>,
    /// When the last client sent its last request, where clients check their answers
    /// only after that (`replay`): the scenario's time ends there, not after the checks.
    pub stopped: Option<std::time::Instant>,
}

/// The latencies of the window in progress, shared by every client and the reporter.
pub type Window = std::sync::Arc<std::sync::Mutex<Vec<u32>>>;

impl Recorder {
    /// A request and how it was answered: `"200"`, `"503 TEMPORARY_UNAVAILABLE"`, or
    /// `"transport error"`.
    pub fn request(&mut self, latency: Duration, outcome: String) {
        let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        self.latencies_us.push(micros);
        if let Some(window) = &self.window {
            window.lock().expect("window lock").push(micros);
        }
        *self.statuses.entry(outcome).or_default() += 1;
    }

    /// An answer that differs from the model; `what` says how.
    pub fn wrong(&mut self, what: String) {
        self.wrong += 1;
        if self.wrong_samples.len() < WRONG_SAMPLES {
            self.wrong_samples.push(what);
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.latencies_us.extend(other.latencies_us);
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.operations += other.operations;
        self.unresolved += other.unresolved;
        self.wrong += other.wrong;
        self.cpu = match (self.cpu, other.cpu) {
            (Some(mine), Some(theirs)) => Some(mine.plus(theirs)),
            (mine, theirs) => mine.or(theirs),
        };
        self.stopped = self.stopped.max(other.stopped);
        for sample in other.wrong_samples {
            if self.wrong_samples.len() < WRONG_SAMPLES {
                self.wrong_samples.push(sample);
            }
        }
    }

    /// A line for one `--report-every` window: what was answered in it, and how fast.
    pub fn window_line(at: Duration, length: Duration, mut latencies_us: Vec<u32>) -> String {
        latencies_us.sort_unstable();
        let at_q = |q: f64| percentile_ms(&latencies_us, q);
        format!(
            "window {:.0} s: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            at.as_secs_f64(),
            latencies_us.len() as f64 / length.as_secs_f64().max(1e-9),
            at_q(0.50),
            at_q(0.99),
            at_q(1.0)
        )
    }

    /// The scenario's figures over `elapsed`.
    pub fn figures(&self, scenario: &str, clients: usize, elapsed: Duration) -> Figures {
        let mut latencies_us = self.latencies_us.clone();
        latencies_us.sort_unstable();
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let requests = latencies_us.len() as u64;
        let at = |q: f64| percentile_ms(&latencies_us, q);
        Figures {
            scenario: scenario.to_owned(),
            clients,
            elapsed_s: round2(seconds),
            requests,
            requests_per_s: round2(requests as f64 / seconds),
            operations: self.operations,
            operations_per_s: round2(self.operations as f64 / seconds),
            latency_ms_p50: at(0.50),
            latency_ms_p95: at(0.95),
            latency_ms_p99: at(0.99),
            latency_ms_max: at(1.0),
            statuses: self.statuses.clone(),
            unresolved: self.unresolved,
            wrong_answers: self.wrong,
            wrong_samples: self.wrong_samples.clone(),
            cpu: self.cpu.and_then(|cpu| cpu.per_operation(self.operations)),
        }
    }
}

/// A scenario's result, as printed and as written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub scenario: String,
    pub clients: usize,
    /// From the first request to the last answer.
    pub elapsed_s: f64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    pub requests_per_s: f64,
    /// Operations with a definitive answer.
    pub operations: u64,
    pub operations_per_s: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    pub statuses: BTreeMap<String, u64>,
    pub unresolved: u64,
    pub wrong_answers: u64,
    pub wrong_samples: Vec<String>,
    /// CPU per operation of the wallet and of the load generator (`bench::cpu`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuPerOperation>,
}

impl Figures {
    /// One line for the terminal.
    pub fn summary_line(&self) -> String {
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, count)| format!("{status} x{count}"))
            .collect();
        format!(
            "{:<6} {} clients, {:.1} s: {:.0} requests/s ({:.0} operations/s); latency ms p50 {:.1} p95 {:.1} p99 {:.1} max {:.1}; {}; unresolved {}, wrong answers {}",
            self.scenario,
            self.clients,
            self.elapsed_s,
            self.requests_per_s,
            self.operations_per_s,
            self.latency_ms_p50,
            self.latency_ms_p95,
            self.latency_ms_p99,
            self.latency_ms_max,
            statuses.join(", "),
            self.unresolved,
            self.wrong_answers
        )
    }
}

/// The nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    round2(f64::from(sorted_us[rank - 1]) / 1000.0)
}

/// Two decimals, as every figure and ratio of the bench is reported.
pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 0.5), 50.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert_eq!(percentile_ms(&sorted, 1.0), 100.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn merged_recorders_add_up() {
        let mut a = Recorder::default();
        a.request(Duration::from_millis(2), "200".into());
        a.operations = 1;
        let mut b = Recorder::default();
        b.request(Duration::from_millis(4), "200".into());
        b.request(Duration::from_millis(1), "503 TEMPORARY_UNAVAILABLE".into());
        b.operations = 1;
        b.wrong("balance".into());
        a.merge(b);
        let figures = a.figures("first", 2, Duration::from_secs(1));
        assert_eq!(figures.requests, 3);
        assert_eq!(figures.operations, 2);
        assert_eq!(figures.statuses["200"], 2);
        assert_eq!(figures.wrong_answers, 1);
        assert_eq!(figures.latency_ms_max, 4.0);
    }
}
