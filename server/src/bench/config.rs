//! `server bench` settings, from flags.
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
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::First,
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
        }
    }

    fn parse(text: &str) -> Result<Vec<Scenario>, String> {
        match text {
            "all" => Ok(Scenario::ALL.to_vec()),
            other => Scenario::ALL
                .into_iter()
                .find(|s| s.as_str() == other)
                .map(|s| vec![s])
                .ok_or(format!(
                    "--scenario: first, replay, hot, mixed or all, not {other:?}"
                )),
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
}

/// Bounds that keep a typo from provisioning a million players.
const MAX_CLIENTS: usize = 1_024;
const MAX_PLAYERS: usize = 100_000;

pub const USAGE: &str = "\
usage: server bench --target URL --operator-token TOKEN [--clients N] [--duration SECS]
         [--scenario first|replay|hot|mixed|all] [--players N] [--json FILE]
         [--database-url URL] [--baseline] [--pgbench-scale N] [--run-tag TAG]
  defaults: --clients 64 --duration 10 --scenario all --players 10000;
  --baseline needs --database-url (the database the wallet runs on); see docs/PERFORMANCE.md
       server bench console --database-url URL [--repeat N]   (times the console's queries)";

impl BenchConfig {
    /// Defaults for a run against `target`.
    pub fn new(target: &str, operator_token: &str) -> BenchConfig {
        BenchConfig {
            target: target.trim_end_matches('/').to_owned(),
            operator_token: operator_token.to_owned(),
            clients: 64,
            duration: Duration::from_secs(10),
            scenarios: Scenario::ALL.to_vec(),
            players: 10_000,
            json: None,
            baseline: false,
            database_url: None,
            pgbench_scale: None,
            run_tag: format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
            print: true,
        }
    }

    /// Parses the flags after `server bench`.
    pub fn from_args(args: &[String], env_token: Option<String>) -> Result<BenchConfig, String> {
        let flags = parse_flags(args)?;
        let get = |name: &str| {
            flags
                .iter()
                .rev()
                .find(|(flag, _)| flag == name)
                .and_then(|(_, value)| value.as_deref())
        };
        let token = get("operator-token")
            .map(str::to_owned)
            .or(env_token)
            .ok_or("--operator-token (or WALLET_OPERATOR_TOKEN) is required")?;
        let mut config = BenchConfig::new(get("target").unwrap_or("http://127.0.0.1:3000"), &token);
        if let Some(n) = get("clients") {
            config.clients = count(n, "clients", MAX_CLIENTS)?;
        }
        if let Some(text) = get("duration") {
            let seconds: f64 = text
                .trim_end_matches('s')
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
                .ok_or("--duration: seconds, more than 0")?;
            config.duration = Duration::from_secs_f64(seconds);
        }
        if let Some(text) = get("scenario") {
            config.scenarios = Scenario::parse(text)?;
        }
        if let Some(n) = get("players") {
            config.players = count(n, "players", MAX_PLAYERS)?;
        }
        if let Some(n) = get("pgbench-scale") {
            config.pgbench_scale = Some(count(n, "pgbench-scale", 10_000)?);
        }
        config.json = get("json").map(PathBuf::from);
        config.database_url = get("database-url").map(str::to_owned);
        if let Some(tag) = get("run-tag") {
            config.run_tag = tag.to_owned();
        }
        config.baseline = flags.iter().any(|(flag, _)| flag == "baseline");
        if config.baseline && config.database_url.is_none() {
            return Err("--baseline needs --database-url: the engine the wallet runs on".into());
        }
        Ok(config)
    }
}

const VALUED: [&str; 10] = [
    "target",
    "operator-token",
    "clients",
    "duration",
    "scenario",
    "players",
    "json",
    "database-url",
    "pgbench-scale",
    "run-tag",
];

/// `--name value`, `--name=value`, or the `--baseline` switch.
fn parse_flags(args: &[String]) -> Result<Vec<(String, Option<String>)>, String> {
    let mut flags = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let name = arg
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {arg:?}"))?;
        let (name, inline) = match name.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (name, None),
        };
        if name == "baseline" {
            flags.push((name.to_owned(), None));
        } else if VALUED.contains(&name) {
            let value = match inline {
                Some(value) => value,
                None => args
                    .next()
                    .ok_or(format!("--{name} needs a value"))?
                    .clone(),
            };
            flags.push((name.to_owned(), Some(value)));
        } else {
            return Err(format!("unknown flag --{name}"));
        }
    }
    Ok(flags)
}

fn count(text: &str, name: &str, max: usize) -> Result<usize, String> {
    text.replace('_', "")
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or(format!("--{name}: a whole number from 1 to {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_override_the_defaults() {
        let config = BenchConfig::from_args(
            &args("--target http://w:1/ --operator-token t --clients 8 --duration 2.5 --scenario hot --json out.json --database-url sqlite://x.db --baseline"),
            None,
        )
        .expect("valid flags");
        assert_eq!(config.target, "http://w:1");
        assert_eq!(config.clients, 8);
        assert_eq!(config.duration, Duration::from_millis(2_500));
        assert_eq!(config.scenarios, [Scenario::Hot]);
        assert_eq!(config.json, Some(PathBuf::from("out.json")));
        assert!(config.baseline);
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            "--clients 5",
            "--operator-token t --clients 0",
            "--operator-token t --scenario fast",
            "--operator-token t --baseline",
            "--operator-token t --duration -1",
            "--operator-token t --frobnicate",
        ] {
            assert!(BenchConfig::from_args(&args(bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn all_runs_every_scenario_in_order() {
        let config =
            BenchConfig::from_args(&args("--scenario all"), Some("t".into())).expect("valid");
        assert_eq!(config.scenarios, Scenario::ALL);
    }
}
