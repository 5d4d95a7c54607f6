//! `server seed --database-url URL --transactions N [--providers 1-5] [--players N]
//! [--days D] [--seed N] [--run-tag TAG]`.
use super::SeedConfig;

pub const USAGE: &str = "\
usage: server seed --database-url URL --transactions N [--providers 1-5] [--players N]
         [--days D] [--seed N] [--run-tag TAG]
  writes N wallet transactions of realistic history (default 3 providers, N/100 players,
  30 days); stop the server first: the seed assigns ids itself";

/// Exit codes: 0 seeded, 2 bad flags.
pub async fn run(args: &[String]) -> anyhow::Result<i32> {
    let config = match parse(args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("server seed: {error}\n{USAGE}");
            return Ok(2);
        }
    };
    println!(
        "seeding {} transactions into {}",
        config.transactions,
        redact(&config.database_url)
    );
    let report = super::run(config).await?;
    println!("{}", report.render());
    Ok(0)
}

fn parse(args: &[String]) -> Result<SeedConfig, String> {
    let mut values = std::collections::HashMap::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let name = arg
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {arg:?}"))?;
        let (name, value) = match name.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (
                name.to_owned(),
                args.next()
                    .ok_or(format!("--{name} needs a value"))?
                    .clone(),
            ),
        };
        if ![
            "database-url",
            "transactions",
            "providers",
            "players",
            "days",
            "seed",
            "run-tag",
        ]
        .contains(&name.as_str())
        {
            return Err(format!("unknown flag --{name}"));
        }
        values.insert(name, value);
    }
    let number = |name: &str, max: u64| -> Result<Option<u64>, String> {
        values
            .get(name)
            .map(|text| {
                text.replace('_', "")
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or(format!("--{name}: a whole number from 1 to {max}"))
            })
            .transpose()
    };
    let url = values
        .get("database-url")
        .cloned()
        .ok_or("--database-url is required")?;
    let transactions = number("transactions", 100_000_000)?.ok_or("--transactions is required")?;
    let mut config = SeedConfig::new(&url, transactions);
    if let Some(n) = number("providers", 5)? {
        config.providers = n as usize;
    }
    config.players = number("players", 10_000_000)?.map(|n| n as usize);
    if let Some(n) = number("days", 3_650)? {
        config.days = n as u32;
    }
    if let Some(n) = number("seed", u64::MAX)? {
        config.seed = n;
    }
    if let Some(tag) = values.get("run-tag") {
        config.run_tag.clone_from(tag);
    }
    Ok(config)
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_are_read() {
        let config = parse(&args(
            "--database-url sqlite://x.db --transactions 1_000_000 --providers 2 --days 7",
        ))
        .expect("valid");
        assert_eq!(config.transactions, 1_000_000);
        assert_eq!((config.providers, config.days), (2, 7));
        assert_eq!(config.players, None);
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            "--transactions 10",
            "--database-url x",
            "--database-url x --transactions 0",
            "--database-url x --transactions 5 --providers 9",
            "--database-url x --transactions 5 --colour red",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }
}
