//! The simulator's settings: from `server simulate` flags, or the demo's gentle defaults.
use std::time::Duration;

use super::faults::FaultRates;
use super::setup::MAX_PROVIDERS;

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

    /// Parses `server simulate` flags (everything after the subcommand).
    pub fn from_args(args: &[String], env_token: Option<String>) -> Result<SimConfig, String> {
        let flags = Flags::parse(args)?;
        let duration = match flags.get("duration") {
            Some(text) => match parse_seconds(text, "duration")? {
                zero if zero.is_zero() => None,
                some => Some(some),
            },
            None => Some(Duration::from_secs(60)),
        };
        let target = flags.get("target").unwrap_or("http://127.0.0.1:3000");
        let token = flags
            .get("operator-token")
            .map(str::to_owned)
            .or(env_token)
            .ok_or("--operator-token (or WALLET_OPERATOR_TOKEN) is required")?;
        let mut config = SimConfig::new(target, &token, duration);
        config.apply(&flags)?;
        Ok(config)
    }

    fn apply(&mut self, flags: &Flags) -> Result<(), String> {
        if let Some(rate) = flags.get("rate") {
            self.rounds_per_second = parse_number(rate.trim_end_matches("/s"), "rate")?;
            if self.rounds_per_second <= 0.0 {
                return Err("--rate: more than 0 rounds per second".to_owned());
            }
        }
        if let Some(seed) = flags.get("seed") {
            self.seed = seed.parse().map_err(|_| "--seed: an unsigned integer")?;
        }
        if let Some(n) = flags.get("providers") {
            self.providers = parse_count(n, "providers", 1, MAX_PROVIDERS)?;
        }
        if let Some(n) = flags.get("players") {
            self.players = parse_count(n, "players", 1, 10_000)?;
        }
        if let Some(tag) = flags.get("run-tag") {
            self.run_tag = tag.to_owned();
        }
        if let Some(every) = flags.get("statement-every") {
            let every = parse_seconds(every, "statement-every")?;
            self.statement_every = (!every.is_zero()).then_some(every);
            self.first_statement_after = self.statement_every;
        }
        if let Some(every) = flags.get("report-every") {
            self.report_every = parse_seconds(every, "report-every")?.max(Duration::from_secs(1));
        }
        if let Some(range) = flags.get("resend-delay") {
            self.resend_delay = parse_range(range)?;
        }
        self.apply_faults(flags)
    }

    fn apply_faults(&mut self, flags: &Flags) -> Result<(), String> {
        if flags.has("no-faults") {
            self.faults = FaultRates::none();
        }
        if flags.has("no-discrepancies") {
            self.faults.statement_discrepancies = false;
        }
        for (name, rate) in self.faults.fields_mut() {
            if let Some(text) = flags.get(name) {
                *rate = parse_number(text, name)?;
            }
        }
        self.faults.validate()
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

/// The flags that take a value; the others are switches.
const VALUED: [&str; 20] = [
    "target",
    "operator-token",
    "rate",
    "duration",
    "seed",
    "providers",
    "players",
    "statement-every",
    "report-every",
    "resend-delay",
    "run-tag",
    "drop",
    "storm",
    "conflict",
    "bad-signature",
    "stale",
    "bet-timeout",
    "early-rollback",
    "win-after-rollback",
    "abandon",
];
const SWITCHES: [&str; 2] = ["no-faults", "no-discrepancies"];

struct Flags(Vec<(String, Option<String>)>);

impl Flags {
    fn parse(args: &[String]) -> Result<Flags, String> {
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
            if SWITCHES.contains(&name) {
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
        Ok(Flags(flags))
    }

    /// The last value given for `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(flag, _)| flag == name)
            .and_then(|(_, value)| value.as_deref())
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(flag, _)| flag == name)
    }
}

fn parse_number(text: &str, name: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or(format!("--{name}: a number"))
}

fn parse_seconds(text: &str, name: &str) -> Result<Duration, String> {
    let seconds = parse_number(text.trim_end_matches('s'), name)?;
    if !(0.0..=1e9).contains(&seconds) {
        return Err(format!("--{name}: seconds, 0 or more"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_count(text: &str, name: &str, min: usize, max: usize) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or(format!("--{name}: a whole number from {min} to {max}"))
}

/// `MIN-MAX` in seconds.
fn parse_range(text: &str) -> Result<(Duration, Duration), String> {
    let (min, max) = text
        .split_once('-')
        .ok_or("--resend-delay: MIN-MAX in seconds")?;
    let (min, max) = (
        parse_seconds(min, "resend-delay")?,
        parse_seconds(max, "resend-delay")?,
    );
    if min > max {
        return Err("--resend-delay: MIN is above MAX".to_owned());
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_override_the_defaults() {
        let config = SimConfig::from_args(
            &args("--target http://w:1/ --operator-token t --rate 50/s --duration 20 --seed 9 --players 5 --drop=0.5 --no-discrepancies"),
            None,
        )
        .expect("valid flags");
        assert_eq!(config.target, "http://w:1");
        assert_eq!(config.rounds_per_second, 50.0);
        assert_eq!(config.duration, Some(Duration::from_secs(20)));
        assert_eq!((config.seed, config.players), (9, 5));
        assert_eq!(config.faults.dropped_response, 0.5);
        assert!(!config.faults.statement_discrepancies);
        assert_eq!(
            config.resend_delay,
            (Duration::from_secs(1), Duration::from_secs(5))
        );
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            "--operator-token t --rate 0",
            "--operator-token t --drop 2",
            "--operator-token t --frobnicate",
            "--operator-token t --providers 9",
            "--rate 5",
        ] {
            assert!(SimConfig::from_args(&args(bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_zero_duration_runs_until_stopped() {
        let config =
            SimConfig::from_args(&args("--duration 0"), Some("t".to_owned())).expect("valid");
        assert_eq!(config.duration, None);
    }
}
