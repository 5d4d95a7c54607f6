//! `server seed`: writes realistic history into a database, for measuring the console and
//! the disk at scale (docs/PERFORMANCE.md).
use clap::Args;

use super::SeedConfig;

/// The flags of `server seed`.
#[derive(Clone, Args)]
#[command(after_help = "Stop the server first: the seed assigns ids itself. \
                        Exit status: 0 seeded, 2 bad flags.")]
pub struct SeedArgs {
    /// The database to fill (created and migrated if need be); never taken from
    /// DATABASE_URL, so that history is not written into a real database by accident
    #[arg(long, value_name = "URL")]
    pub database_url: String,
    /// Wallet transactions to write (deposits, bets, wins, rollbacks, closes, declines);
    /// `1_000_000` is accepted
    #[arg(long, value_name = "N", value_parser = whole_number::<100_000_000>)]
    pub transactions: u64,
    /// Providers, 1 to 5
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(1..=5))]
    pub providers: u8,
    /// Players [default: one per hundred transactions, at least ten]
    #[arg(long, value_name = "N", value_parser = whole_number::<10_000_000>)]
    pub players: Option<u64>,
    /// How far back the history starts
    #[arg(long, value_name = "DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(1..=3_650))]
    pub days: u16,
    /// Random choices; the same seed gives the same history (ids aside)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Prefix of every id, so several seeds can share a database [default: seed-<random>]
    #[arg(long, value_name = "TAG")]
    pub run_tag: Option<String>,
}

impl SeedArgs {
    pub fn config(&self) -> SeedConfig {
        let mut config = SeedConfig::new(&self.database_url, self.transactions);
        config.providers = self.providers.into();
        config.players = self.players.map(|n| n as usize);
        config.days = self.days.into();
        config.seed = self.seed;
        if let Some(tag) = &self.run_tag {
            config.run_tag.clone_from(tag);
        }
        config
    }
}

/// A whole number from 1 to `MAX`, `_` allowed between digits.
fn whole_number<const MAX: u64>(text: &str) -> Result<u64, String> {
    text.replace('_', "")
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=MAX).contains(n))
        .ok_or_else(|| format!("a whole number from 1 to {MAX}"))
}

pub async fn run(args: &SeedArgs) -> anyhow::Result<i32> {
    let config = args.config();
    println!(
        "seeding {} transactions into {}",
        config.transactions,
        crate::db::redact_url(&config.database_url)
    );
    let report = super::run(config).await?;
    println!("{}", report.render());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: SeedArgs,
    }

    fn parse(text: &str) -> Result<SeedConfig, String> {
        Command::try_parse_from(std::iter::once("seed").chain(text.split_whitespace()))
            .map(|command| command.args.config())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn flags_are_read() {
        let config =
            parse("--database-url sqlite://x.db --transactions 1_000_000 --providers 2 --days 7")
                .expect("valid");
        assert_eq!(config.transactions, 1_000_000);
        assert_eq!((config.providers, config.days), (2, 7));
        assert_eq!(config.players, None);
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            "--database-url x",
            "--database-url x --transactions 0",
            "--database-url x --transactions 5 --providers 9",
            "--database-url x --transactions 5 --colour red",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
