//! `server simulate`: runs the simulator against a wallet URL, prints a summary line
//! every few seconds and the final report, and exits with 1 when the wallet differed from
//! the model or a statement's findings differed from those injected.
use super::config::SimConfig;

pub const USAGE: &str = "\
usage: server simulate --target URL --operator-token TOKEN [--rate ROUNDS/s] [--duration SECS]
         [--seed N] [--providers 1-5] [--players N] [--statement-every SECS] [--report-every SECS]
         [--resend-delay MIN-MAX] [--run-tag TAG] [--no-faults] [--no-discrepancies]
         [--drop P] [--storm P] [--conflict P] [--bad-signature P] [--stale P]
         [--bet-timeout P] [--early-rollback P] [--win-after-rollback P] [--abandon P]
  --duration 0 runs until Ctrl-C; see docs/SIMULATOR.md";

/// Exit codes: 0 the wallet agreed with the model, 1 it did not, 2 bad flags.
pub async fn run(args: &[String]) -> anyhow::Result<i32> {
    let token = std::env::var("WALLET_OPERATOR_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let config = match SimConfig::from_args(args, token) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("server simulate: {error}\n{USAGE}");
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
