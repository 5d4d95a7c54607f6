//! `server bench` settings (`cli.rs` reads them from flags).
use std::path::PathBuf;
use std::time::Duration;

/// One load pattern; `all` runs the four in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Distinct bets spread over every player.
    First,
    /// Already executed transactions sent again.
    Replay,
    /// Every client betting on one player, all crediting one provider account.
    Hot,
    /// Bets, wins, rollbacks and round closes, 5 % of them sent twice.
    Mixed,
    /// `first` with one webhook subscriber attached, receiving every movement.
    Subscribed,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::First,
        Scenario::Subscribed,
        Scenario::Replay,
        Scenario::Hot,
        Scenario::Mixed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::First => "first",
            Scenario::Replay => "replay",
            Scenario::Hot => "hot",
            Scenario::Mixed => "mixed",
            Scenario::Subscribed => "subscribed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The wallet's base URL.
    pub target: String,
    pub operator_token: String,
    /// Concurrent clients, each with at most one request in flight.
    pub clients: usize,
    /// How long each scenario sends new requests (the last ones are still answered).
    pub duration: Duration,
    /// How many times the scenarios run in turn; figures and ratios are their totals.
    pub rounds: u32,
    pub scenarios: Vec<Scenario>,
    /// Players provisioned for `first`, `replay` and `mixed`.
    pub players: usize,
    /// Where to write the figures as JSON.
    pub json: Option<PathBuf>,
    /// Run the database's own baseline too (needs `database_url`).
    pub baseline: bool,
    /// The database the wallet runs on: the engine of the baseline, and direct SQL checks
    /// of the ledger at the end.
    pub database_url: Option<String>,
    /// pgbench's scale factor; by default the client count, so that TPC-B's branch rows
    /// are no more contended than the wallet's players.
    pub pgbench_scale: Option<usize>,
    /// Prefix of every id the run creates, so runs never share one.
    pub run_tag: String,
    /// Print progress and the report (off in tests).
    pub print: bool,
    /// Operations a second across all clients, at most (`None`: as fast as answered).
    pub rate: Option<f64>,
    /// Print the latencies of each window this long while a scenario runs.
    pub report_every: Option<Duration>,
    /// The bearer token of the wallet's `/metrics`, when it asks for one: the bench reads
    /// the wallet's CPU time there (`bench::cpu`).
    pub metrics_token: Option<String>,
}

/// Bounds that keep a typo from provisioning a million players.
pub const MAX_CLIENTS: usize = 1_024;
pub const MAX_PLAYERS: usize = 100_000;

impl BenchConfig {
    /// Defaults for a run against `target`.
    pub fn new(target: &str, operator_token: &str) -> BenchConfig {
        BenchConfig {
            target: target.trim_end_matches('/').to_owned(),
            operator_token: operator_token.to_owned(),
            clients: 64,
            duration: Duration::from_secs(10),
            rounds: 1,
            scenarios: Scenario::ALL.to_vec(),
            players: 10_000,
            json: None,
            baseline: false,
            database_url: None,
            pgbench_scale: None,
            run_tag: format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
            print: true,
            rate: None,
            report_every: None,
            metrics_token: None,
        }
    }
}
