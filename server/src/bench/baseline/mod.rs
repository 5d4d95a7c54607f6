//! The database's own limit, measured in the same run as the wallet so that the two
//! compare on a noisy machine: pgbench's TPC-B on PostgreSQL, and on SQLite the money
//! path's own statements run directly (no HTTP) on a fresh file with the same pragmas and
//! the same group commit.
mod pgbench;
mod sqlite;

use serde::Serialize;

use super::config::BenchConfig;

#[derive(Debug, Clone, Serialize)]
pub struct BaselineFigures {
    /// `postgres` or `sqlite`.
    pub engine: String,
    /// What ran, in words.
    pub name: String,
    pub clients: usize,
    pub duration_s: f64,
    /// The baseline's transactions per second.
    pub transactions_per_s: f64,
    /// The wallet's `first` operations per second in this run, if it ran.
    pub wallet_first_per_s: Option<f64>,
    /// `wallet_first_per_s / transactions_per_s`.
    pub ratio: Option<f64>,
    /// Latency and anything else the baseline reported.
    pub detail: String,
    /// SQLite: the same floor with keys and rounds named as the bench's clients name
    /// them, one sequence per client (see `sqlite::Keys`).
    pub client_keys_per_s: Option<f64>,
}

impl BaselineFigures {
    /// The wallet's `first` against the floor with the clients' keys.
    pub fn client_keys_ratio(&self) -> Option<f64> {
        match (self.wallet_first_per_s, self.client_keys_per_s) {
            (Some(first), Some(floor)) if floor > 0.0 => Some(super::stats::round2(first / floor)),
            _ => None,
        }
    }
}

impl BaselineFigures {
    pub fn summary_line(&self) -> String {
        let ratio = match (self.ratio, self.wallet_first_per_s) {
            (Some(ratio), Some(first)) => {
                format!("; wallet first {first:.0}/s = {ratio:.2} x the baseline")
            }
            _ => String::new(),
        };
        let client_keys = self.client_keys_per_s.map_or_else(String::new, |rate| {
            format!("; with one key sequence per client as the bench sends them: {rate:.0}/s")
        });
        format!(
            "baseline ({}) {}: {:.0} transactions/s with {} clients over {:.0} s ({}){ratio}{client_keys}",
            self.engine,
            self.name,
            self.transactions_per_s,
            self.clients,
            self.duration_s,
            self.detail
        )
    }
}

/// Runs the baseline of the engine `database_url` names.
pub async fn run(
    database_url: &str,
    config: &BenchConfig,
    wallet_first_per_s: Option<f64>,
) -> anyhow::Result<BaselineFigures> {
    let mut figures = if database_url.starts_with("postgres") {
        pgbench::run(database_url, config).await?
    } else if database_url.starts_with("sqlite:") {
        sqlite::run(database_url, config).await?
    } else {
        anyhow::bail!("--database-url must start with sqlite: or postgres://");
    };
    figures.wallet_first_per_s = wallet_first_per_s;
    figures.ratio = wallet_first_per_s
        .filter(|_| figures.transactions_per_s > 0.0)
        .map(|first| super::stats::round2(first / figures.transactions_per_s));
    Ok(figures)
}
