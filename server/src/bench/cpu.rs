//! CPU per operation, printed beside each scenario's throughput: the wallet process's (its
//! `process_cpu_seconds_total` on `/metrics`) and the load generator's own, each read just
//! before a scenario's clients start and again after its last answer.
//!
//! On a shared machine a scenario's throughput moves with the host's speed from one minute
//! to the next, and so does the CPU time of any fixed work. The load generator does the
//! same work per request in every run, so the wallet's CPU per operation divided by the
//! load generator's cancels much of that drift: it is the figure to compare two builds by
//! (docs/PERFORMANCE.md, "CPU per operation"). The wallet's own figure is also what
//! capacity planning needs: cores per thousand operations a second.
//!
//! Only the process behind `--target` is read: with several wallet processes behind one
//! address the figure covers the one that answered `/metrics`. The database's own CPU is
//! not in it.
use std::time::Duration;

use serde::Serialize;

/// How long a read of `/metrics` may take before the wallet's figure is left out.
const METRICS_TIMEOUT: Duration = Duration::from_secs(5);

/// CPU seconds, of both processes: used so far, or spent over a stretch of time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    /// The wallet process's; `None` when its `/metrics` could not be read.
    pub wallet_s: Option<f64>,
    /// This process's: the load generator (and, in `subscribed`, the webhook receiver).
    pub load_generator_s: f64,
}

impl CpuTimes {
    /// What was spent between `self` (read first) and `later`.
    pub fn until(self, later: CpuTimes) -> CpuTimes {
        CpuTimes {
            wallet_s: self
                .wallet_s
                .zip(later.wallet_s)
                .map(|(before, after)| (after - before).max(0.0)),
            load_generator_s: (later.load_generator_s - self.load_generator_s).max(0.0),
        }
    }

    /// Two stretches' spending together (a scenario over several rounds); the wallet's
    /// only when both have it.
    pub fn plus(self, other: CpuTimes) -> CpuTimes {
        CpuTimes {
            wallet_s: self.wallet_s.zip(other.wallet_s).map(|(a, b)| a + b),
            load_generator_s: self.load_generator_s + other.load_generator_s,
        }
    }

    /// This spending divided over `operations`; `None` when there were none.
    pub fn per_operation(self, operations: u64) -> Option<CpuPerOperation> {
        if operations == 0 {
            return None;
        }
        let micros = |seconds: f64| round1(seconds * 1e6 / operations as f64);
        let load_generator_us = micros(self.load_generator_s);
        let wallet_us = self.wallet_s.map(micros);
        Some(CpuPerOperation {
            wallet_us,
            load_generator_us,
            wallet_vs_load_generator: wallet_us
                .filter(|_| load_generator_us > 0.0)
                .map(|wallet| (wallet / load_generator_us * 100.0).round() / 100.0),
        })
    }
}

/// A scenario's CPU per operation, as printed and as written to `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuPerOperation {
    /// Microseconds of the wallet process's CPU per operation.
    pub wallet_us: Option<f64>,
    /// Microseconds of the load generator's CPU per operation.
    pub load_generator_us: f64,
    /// `wallet_us / load_generator_us`: the figure that drifts least with the host.
    pub wallet_vs_load_generator: Option<f64>,
}

impl CpuPerOperation {
    /// One line for the terminal.
    pub fn summary_line(&self, scenario: &str) -> String {
        match (self.wallet_us, self.wallet_vs_load_generator) {
            (Some(wallet), Some(ratio)) => format!(
                "{scenario:<6} cpu per operation: wallet {wallet:.1} µs, load generator {:.1} µs \
                 (wallet / load generator {ratio:.2})",
                self.load_generator_us
            ),
            _ => format!(
                "{scenario:<6} cpu per operation: load generator {:.1} µs (the wallet's \
                 /metrics could not be read: pass --metrics-token if it needs one)",
                self.load_generator_us
            ),
        }
    }
}

/// Reads both processes' CPU time.
pub struct CpuMeter {
    client: reqwest::Client,
    metrics_url: String,
    token: Option<String>,
}

impl CpuMeter {
    /// For the wallet at `target` (its base URL); `token` for a `/metrics` that asks for
    /// one (`WALLET_METRICS_TOKEN`).
    pub fn new(target: &str, token: Option<String>) -> CpuMeter {
        CpuMeter {
            client: reqwest::Client::new(),
            metrics_url: format!("{}/metrics", target.trim_end_matches('/')),
            token,
        }
    }

    /// Both processes' CPU time used so far.
    pub async fn read(&self) -> CpuTimes {
        let wallet_s = self.wallet_s().await;
        CpuTimes {
            wallet_s,
            load_generator_s: own_cpu_s(),
        }
    }

    async fn wallet_s(&self) -> Option<f64> {
        let mut request = self.client.get(&self.metrics_url).timeout(METRICS_TIMEOUT);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let text = request
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?
            .text()
            .await
            .ok()?;
        process_cpu_seconds(&text)
    }
}

/// This process's CPU time, every thread's together.
fn own_cpu_s() -> f64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    now.tv_sec as f64 + now.tv_nsec as f64 / 1e9
}

/// The value of `process_cpu_seconds_total` in a Prometheus text exposition.
fn process_cpu_seconds(text: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("process_cpu_seconds_total")?;
        // Labels, if any, end at the first `}`; the value comes next, then maybe a timestamp.
        let rest = match rest.strip_prefix('{') {
            Some(labelled) => &labelled[labelled.find('}')? + 1..],
            None => rest,
        };
        if !rest.starts_with(' ') {
            return None; // another metric whose name starts the same
        }
        rest.split_whitespace().next()?.parse().ok()
    })
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_counter_is_read_from_the_exposition() {
        let text = "# HELP process_cpu_seconds_total Total user and system CPU time\n\
                    # TYPE process_cpu_seconds_total counter\n\
                    process_cpu_seconds_total_extra 9\n\
                    process_cpu_seconds_total 12.5\n";
        assert_eq!(process_cpu_seconds(text), Some(12.5));
        let labelled = "process_cpu_seconds_total{job=\"w\"} 3.25 1700000000\n";
        assert_eq!(process_cpu_seconds(labelled), Some(3.25));
        assert_eq!(process_cpu_seconds("oncewallet_requests_total 4\n"), None);
    }

    #[test]
    fn spending_is_divided_over_the_operations() {
        let before = CpuTimes {
            wallet_s: Some(10.0),
            load_generator_s: 1.0,
        };
        let after = CpuTimes {
            wallet_s: Some(12.0),
            load_generator_s: 2.0,
        };
        let spent = before.until(after).plus(before.until(after));
        let per = spent.per_operation(40_000).expect("operations ran");
        assert_eq!(per.wallet_us, Some(100.0));
        assert_eq!(per.load_generator_us, 50.0);
        assert_eq!(per.wallet_vs_load_generator, Some(2.0));
        assert!(per.summary_line("first").contains("wallet 100.0 µs"));
        assert_eq!(spent.per_operation(0), None);
    }

    #[test]
    fn without_the_wallets_metrics_only_the_load_generator_is_shown() {
        let unread = CpuTimes {
            wallet_s: None,
            load_generator_s: 0.0,
        };
        let later = CpuTimes {
            wallet_s: Some(5.0),
            load_generator_s: 0.5,
        };
        let per = unread
            .until(later)
            .per_operation(1_000)
            .expect("operations ran");
        assert_eq!(per.wallet_us, None);
        assert_eq!(per.wallet_vs_load_generator, None);
        assert!(per.summary_line("replay").contains("--metrics-token"));
    }

    #[test]
    fn this_process_cpu_time_advances() {
        let before = own_cpu_s();
        let mut spin = 0u64;
        while own_cpu_s() - before < 0.01 {
            spin = spin.wrapping_add(1);
        }
        assert!(spin > 0);
    }
}
