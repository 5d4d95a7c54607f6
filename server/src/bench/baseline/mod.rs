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
}

impl BaselineFigures {
    pub fn summary_line(&self) -> String {
        let ratio = match (self.ratio, self.wallet_first_per_s) {
            (Some(ratio), Some(first)) => {
                format!("; wallet first {first:.0}/s = {ratio:.2} x the baseline")
            }
            _ => String::new(),
        };
        format!(
            "baseline ({}) {}: {:.0} transactions/s with {} clients over {:.0} s ({}){ratio}",
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
        .map(|first| (first / figures.transactions_per_s * 100.0).round() / 100.0);
    Ok(figures)
}
