//! `server simulate`: runs the simulator against a wallet URL, prints a summary line
//! every few seconds and the final report, and exits with 1 when the wallet differed from
//! the model or a statement's findings differed from those injected.
use std::time::Duration;

use clap::Args;

use super::config::SimConfig;
use super::faults::FaultRates;
use super::setup::MAX_PROVIDERS;

/// The flags of `server simulate` (docs/SIMULATOR.md).
#[derive(Clone, Args)]
#[command(
    after_help = "Exit status: 0 the wallet agreed with the model, 1 it did not, \
                        2 bad flags. See docs/SIMULATOR.md."
)]
pub struct SimulateArgs {
    /// The wallet's base URL, `http://` or `https://` (the platform's root certificates)
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:3000")]
    pub target: String,
    /// Also trust the certificate authorities in this PEM file (a staging wallet behind a
    /// private CA)
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// The wallet's operator token (creates the providers and players)
    #[arg(
        long,
        env = "WALLET_OPERATOR_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub operator_token: String,
    /// Rounds started per second, across all players (`50` or `50/s`)
    #[arg(long, value_name = "ROUNDS/S", value_parser = rounds_per_second)]
    pub rate: Option<f64>,
    /// How long to run; 0 runs until Ctrl-C
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    pub duration: Duration,
    /// Random choices: the same seed plays the same game
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated providers
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_PROVIDERS as i64))]
    pub providers: Option<u16>,
    /// Simulated players
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub players: Option<u16>,
    /// Send each provider's statement this often; 0 sends none
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub statement_every: Option<Duration>,
    /// Print a summary line this often
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub report_every: Option<Duration>,
    /// How long after a dropped answer the provider resends, `MIN-MAX` seconds
    #[arg(long, value_name = "MIN-MAX", value_parser = seconds_range)]
    pub resend_delay: Option<(Duration, Duration)>,
    /// Prefix of every id the run creates [default: sim-<random>]
    #[arg(long, value_name = "TAG")]
    pub run_tag: Option<String>,
    /// Clean play: no fault of any kind
    #[arg(long)]
    pub no_faults: bool,
    /// Statements without deliberate discrepancies
    #[arg(long)]
    pub no_discrepancies: bool,
    #[command(flatten)]
    pub faults: FaultFlags,
}

/// Each fault's probability per request or per round, 0 to 1 (defaults in docs/SIMULATOR.md).
#[derive(Clone, Args)]
#[command(next_help_heading = "Fault probabilities")]
pub struct FaultFlags {
    /// An answer lost on the way back (the provider resends)
    #[arg(long, value_name = "P")]
    pub drop: Option<f64>,
    /// A burst of identical resends at once
    #[arg(long, value_name = "P")]
    pub storm: Option<f64>,
    /// A resend with a changed body (must be refused)
    #[arg(long, value_name = "P")]
    pub conflict: Option<f64>,
    /// A request signed with a wrong key
    #[arg(long, value_name = "P")]
    pub bad_signature: Option<f64>,
    /// A request with an old timestamp
    #[arg(long, value_name = "P")]
    pub stale: Option<f64>,
    /// A bet whose answer never comes (the provider rolls it back)
    #[arg(long, value_name = "P")]
    pub bet_timeout: Option<f64>,
    /// A rollback that arrives before its bet
    #[arg(long, value_name = "P")]
    pub early_rollback: Option<f64>,
    /// A win sent after its bet was rolled back
    #[arg(long, value_name = "P")]
    pub win_after_rollback: Option<f64>,
    /// A round left open
    #[arg(long, value_name = "P")]
    pub abandon: Option<f64>,
}

impl SimulateArgs {
    /// The run these flags describe; `Err` names a flag whose value is out of range.
    pub fn config(&self) -> Result<SimConfig, String> {
        let duration = (!self.duration.is_zero()).then_some(self.duration);
        let mut config = SimConfig::new(&self.target, &self.operator_token, duration);
        if let Some(rate) = self.rate {
            config.rounds_per_second = rate;
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(n) = self.providers {
            config.providers = n.into();
        }
        if let Some(n) = self.players {
            config.players = n.into();
        }
        if let Some(tag) = &self.run_tag {
            config.run_tag.clone_from(tag);
        }
        if let Some(every) = self.statement_every {
            config.statement_every = (!every.is_zero()).then_some(every);
            config.first_statement_after = config.statement_every;
        }
        if let Some(every) = self.report_every {
            config.report_every = every.max(Duration::from_secs(1));
        }
        if let Some(range) = self.resend_delay {
            config.resend_delay = range;
        }
        if self.no_faults {
            config.faults = FaultRates::none();
        }
        if self.no_discrepancies {
            config.faults.statement_discrepancies = false;
        }
        config.ca_file.clone_from(&self.ca_file);
        self.faults.apply(&mut config.faults)?;
        Ok(config)
    }
}

impl FaultFlags {
    fn apply(&self, rates: &mut FaultRates) -> Result<(), String> {
        // By the flag names `FaultRates::fields_mut` gives, so that an order changed on
        // either side cannot send one flag's value to another fault.
        let given = [
            ("drop", self.drop),
            ("storm", self.storm),
            ("conflict", self.conflict),
            ("bad-signature", self.bad_signature),
            ("stale", self.stale),
            ("bet-timeout", self.bet_timeout),
            ("early-rollback", self.early_rollback),
            ("win-after-rollback", self.win_after_rollback),
            ("abandon", self.abandon),
        ];
        for (name, rate) in rates.fields_mut() {
            let flag = given.iter().find(|(flag, _)| *flag == name);
            match flag {
                Some((_, Some(value))) => *rate = *value,
                Some((_, None)) => {}
                None => return Err(format!("no flag for the fault {name:?}")),
            }
        }
        rates.validate()
    }
}

/// Exit codes: 0 the wallet agreed with the model, 1 it did not, 2 bad flags.
pub async fn run(args: &SimulateArgs) -> anyhow::Result<i32> {
    let config = match args.config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}\n\nFor more information, try 'server simulate --help'.");
            return Ok(2);
        }
    };
    println!(
        "simulating {} providers and {} players against {} at {} rounds/s for {}; seed {}, run tag {}",
        config.providers,
        config.players,
        config.target,
        config.rounds_per_second,
        config
            .duration
            .map_or("ever (Ctrl-C stops)".to_owned(), |d| format!("{} s", d.as_secs_f64())),
        config.seed,
        config.run_tag,
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let report = super::run_until(config, stop).await?;
    println!("{}", report.render());
    Ok(if report.passed() { 0 } else { 1 })
}

fn number(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| "a number".to_owned())
}

fn rounds_per_second(text: &str) -> Result<f64, String> {
    let rate = number(text.trim_end_matches("/s"))?;
    if rate <= 0.0 {
        return Err("more than 0 rounds per second".to_owned());
    }
    Ok(rate)
}

/// Seconds, 0 or more, with an optional `s`.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let seconds = number(text.trim_end_matches('s'))?;
    if !(0.0..=1e9).contains(&seconds) {
        return Err("seconds, 0 or more".to_owned());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `MIN-MAX` in seconds.
fn seconds_range(text: &str) -> Result<(Duration, Duration), String> {
    let (min, max) = text.split_once('-').ok_or("MIN-MAX in seconds")?;
    let (min, max) = (seconds(min)?, seconds(max)?);
    if min > max {
        return Err("MIN is above MAX".to_owned());
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn parse(text: &str) -> Result<SimConfig, String> {
        let args =
            Command::try_parse_from(std::iter::once("simulate").chain(text.split_whitespace()))
                .map_err(|e| e.to_string())?;
        args.args.config()
    }

    #[test]
    fn flags_override_the_defaults() {
        let config = parse("--target http://w:1/ --operator-token t --rate 50/s --duration 20 --seed 9 --players 5 --drop=0.5 --no-discrepancies")
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
            "--operator-token t --resend-delay 5-1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_zero_duration_runs_until_stopped() {
        let config = parse("--operator-token t --duration 0").expect("valid");
        assert_eq!(config.duration, None);
    }
}
