//! `server bench`: runs the load generator against a wallet URL, prints each scenario's
//! figures, the baseline and the verification, and exits with 1 when the verification
//! failed (2 for bad flags). `server bench console` times the console's server functions.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::config::{BenchConfig, Scenario, MAX_CLIENTS, MAX_PLAYERS};

/// The flags of `server bench` (docs/PERFORMANCE.md).
#[derive(Clone, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 every answer checked out and the money reconciled, 1 it did \
                  not, 2 bad flags. See docs/PERFORMANCE.md."
)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Clone, Subcommand)]
pub enum BenchCommand {
    /// Time the console's server functions on a database as it is (seed it first)
    Console(super::console::ConsoleArgs),
    /// Provision players and write signed bets to files, for a load generator outside
    /// this binary (scripts/wrk.sh sends them with wrk)
    Presign(super::presign::PresignArgs),
}

/// The wallet a load run, or `presign`, provisions its players on.
#[derive(Clone, Args)]
pub struct WalletArgs {
    /// The wallet's base URL
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:3000")]
    pub target: String,
    /// The wallet's operator token (provisions the players)
    #[arg(
        long,
        env = "WALLET_OPERATOR_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub operator_token: Option<String>,
}

impl WalletArgs {
    /// The operator token; `Err` when it is missing.
    pub fn token(&self) -> Result<&str, String> {
        self.operator_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| "--operator-token (or WALLET_OPERATOR_TOKEN) is required".to_owned())
    }
}

/// The load run's flags.
#[derive(Clone, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Concurrent clients, each with at most one request in flight
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=MAX_CLIENTS as i64))]
    pub clients: u16,
    /// Seconds each scenario sends new requests
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = positive_seconds)]
    pub duration: Duration,
    /// Which load pattern to run
    #[arg(long, value_enum, default_value = "all")]
    pub scenario: ScenarioChoice,
    /// Run the scenarios (and, with --baseline, /healthz) this many times in turn, each
    /// for --duration, and judge them by their totals: on a shared machine the speed
    /// drifts by a quarter from one minute to the next, and taking turns spreads the drift
    /// over every scenario alike. Each round's ratios are printed too
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// Players provisioned for first, replay and mixed
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=MAX_PLAYERS as i64))]
    pub players: u32,
    /// Write the figures as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// The database the wallet runs on: the engine of the baseline, and direct SQL checks of
    /// the ledger at the end
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Run the database's own floor too (needs --database-url): pgbench TPC-B on
    /// PostgreSQL; on SQLite the wallet's own writes without HTTP, once with keys in one
    /// sequence and once with one key sequence per client as the bench sends them (about
    /// 20 s more)
    #[arg(long, requires = "database_url")]
    pub baseline: bool,
    /// pgbench's scale factor [default: the client count]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub pgbench_scale: Option<u16>,
    /// Operations a second across all clients, at most: a steady load (`scripts/soak.sh`
    /// runs at half the measured capacity) [default: as fast as the wallet answers]
    #[arg(long, value_name = "OPS", value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// Print each window of this many seconds' throughput and latency while it runs
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    pub report_every: Option<Duration>,
    /// Prefix of every id the run creates [default: bench-<random>]
    #[arg(long, value_name = "TAG")]
    pub run_tag: Option<String>,
    /// The token of the wallet's /metrics, if it is set there: the bench reads the
    /// wallet's CPU time from /metrics to print its CPU per operation
    #[arg(
        long,
        env = "WALLET_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
}

/// `--scenario`: one pattern, or all four in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioChoice {
    First,
    Replay,
    Hot,
    Mixed,
    Subscribed,
    All,
}

impl BenchArgs {
    /// `server bench console`'s database, which must exist already.
    pub fn console_database(&self) -> Option<&str> {
        match &self.command {
            Some(BenchCommand::Console(console)) => Some(&console.database.database_url),
            Some(BenchCommand::Presign(_)) | None => None,
        }
    }
}

impl LoadArgs {
    /// The run these flags describe; `Err` when the operator token is missing.
    pub fn config(&self) -> Result<BenchConfig, String> {
        let token = self.wallet.token()?;
        let mut config = BenchConfig::new(&self.wallet.target, token);
        config.clients = self.clients.into();
        config.duration = self.duration;
        config.rounds = self.rounds;
        config.scenarios = match self.scenario {
            ScenarioChoice::First => vec![Scenario::First],
            ScenarioChoice::Replay => vec![Scenario::Replay],
            ScenarioChoice::Hot => vec![Scenario::Hot],
            ScenarioChoice::Mixed => vec![Scenario::Mixed],
            ScenarioChoice::Subscribed => vec![Scenario::First, Scenario::Subscribed],
            ScenarioChoice::All => Scenario::ALL.to_vec(),
        };
        config.players = self.players as usize;
        config.json.clone_from(&self.json);
        config.database_url.clone_from(&self.database_url);
        config.baseline = self.baseline;
        config.pgbench_scale = self.pgbench_scale.map(usize::from);
        config.rate = self.rate;
        config.report_every = self.report_every;
        config.metrics_token = self.metrics_token.clone().filter(|t| !t.is_empty());
        if let Some(tag) = &self.run_tag {
            config.run_tag.clone_from(tag);
        }
        Ok(config)
    }
}

fn positive_rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| "operations a second, more than 0".to_owned())
}

fn positive_seconds(text: &str) -> Result<Duration, String> {
    text.trim_end_matches('s')
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| "seconds, more than 0".to_owned())
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<i32> {
    match &args.command {
        Some(BenchCommand::Console(console)) => return super::console::run(console).await,
        Some(BenchCommand::Presign(presign)) => return super::presign::run(presign).await,
        None => {}
    }
    let config = match args.load.config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}\n\nFor more information, try 'server bench --help'.");
            return Ok(2);
        }
    };
    let report = super::run(config).await?;
    Ok(if report.verification.passed { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(text: &str) -> Result<BenchConfig, String> {
        let args = Command::try_parse_from(std::iter::once("bench").chain(text.split_whitespace()))
            .map_err(|e| e.to_string())?;
        args.args.load.config()
    }

    #[test]
    fn flags_override_the_defaults() {
        let config = parse("--target http://w:1/ --operator-token t --clients 8 --duration 2.5 --scenario hot --rounds 3 --json out.json --database-url sqlite://x.db --baseline --metrics-token m")
            .expect("valid flags");
        assert_eq!(config.target, "http://w:1");
        assert_eq!(config.clients, 8);
        assert_eq!(config.duration, Duration::from_millis(2_500));
        assert_eq!(config.scenarios, [Scenario::Hot]);
        assert_eq!(config.rounds, 3);
        assert_eq!(config.json, Some(PathBuf::from("out.json")));
        assert!(config.baseline);
        assert_eq!(config.metrics_token.as_deref(), Some("m"));
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            "--operator-token t --clients 0",
            "--operator-token t --scenario fast",
            "--operator-token t --baseline",
            "--operator-token t --duration -1",
            "--operator-token t --rounds 0",
            "--operator-token t --frobnicate",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn all_runs_every_scenario_in_order() {
        let config = parse("--operator-token t --scenario all").expect("valid");
        assert_eq!(config.scenarios, Scenario::ALL);
    }

    #[test]
    fn presign_takes_its_own_flags() {
        let parsed = |text: &str| {
            Command::try_parse_from(std::iter::once("bench").chain(text.split_whitespace()))
                .map(|command| command.args.command)
        };
        match parsed(
            "presign --out /tmp/bets --requests 500 --files 4 --players 7 --operator-token t",
        ) {
            Ok(Some(BenchCommand::Presign(presign))) => {
                assert_eq!(presign.out, PathBuf::from("/tmp/bets"));
                assert_eq!(
                    (presign.requests, presign.files, presign.players),
                    (500, 4, 7)
                );
                assert_eq!(presign.wallet.target, "http://127.0.0.1:3000");
            }
            _ => panic!("presign parsed"),
        }
        for bad in [
            "presign",
            "presign --out b --files 0",
            "presign --out b --requests 0",
        ] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
    }
}
