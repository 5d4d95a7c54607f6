//! `server bench`: runs the load generator against a wallet URL, prints each scenario's
//! figures, the baseline and the verification, and exits with 1 when the verification
//! failed (2 for bad flags). `server bench console` times the console's server functions.
use super::config::{BenchConfig, USAGE};

pub async fn run(args: &[String]) -> anyhow::Result<i32> {
    if args.first().map(String::as_str) == Some("console") {
        return super::console::run(&args[1..]).await;
    }
    let token = std::env::var("WALLET_OPERATOR_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let config = match BenchConfig::from_args(args, token) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("server bench: {error}\n{USAGE}");
            return Ok(2);
        }
    };
    let report = super::run(config).await?;
    Ok(if report.verification.passed { 0 } else { 1 })
}
