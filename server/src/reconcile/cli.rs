//! `server reconcile [--full]`: one run against `DATABASE_URL`, a summary on standard
//! output, and an exit code a cron job or a deploy check can act on (1 while CRITICAL
//! findings are open, 2 for a bad argument). `--full` re-walks every ledger hash chain from
//! the start instead of from the checkpoints.
use super::job::{run_with, RunOutcome, Schedule, Trigger};
use super::trail_check::{TrailMode, TrailPass};
use crate::config::Config;
use crate::db::Store;

/// Handles the subcommand if the arguments name it: `Some(exit code)`, or `None` when the
/// process should start the server as usual.
pub async fn dispatch(args: &[String]) -> anyhow::Result<Option<i32>> {
    if args.get(1).map(String::as_str) != Some("reconcile") {
        return Ok(None);
    }
    let mut options = Schedule::from_env()?.options();
    match args.get(2).map(String::as_str) {
        None => {}
        Some("--full") => options.trail = TrailMode::Force(TrailPass::Full),
        Some(other) => {
            eprintln!(
                "server reconcile: unknown argument {other:?} (usage: server reconcile [--full])"
            );
            return Ok(Some(2));
        }
    }
    let config = Config::from_env()?;
    let store = Store::connect(&config.database_url, config.writer).await?;
    let outcome = run_with(&store, Trigger::Cli, options)
        .await
        .map_err(|e| anyhow::anyhow!("reconciliation failed: {e}"))?;
    let summary = match outcome {
        RunOutcome::Skipped => {
            println!("reconciliation skipped: another run is in progress");
            return Ok(Some(0));
        }
        RunOutcome::Finished(summary) => summary,
    };
    println!(
        "reconciliation run {}: {} findings ({} new, {} resolved automatically) in {} ms",
        summary.run_id,
        summary.findings,
        summary.opened,
        summary.auto_resolved,
        summary.duration_ms
    );
    for (kind, count, truncated) in &summary.checks {
        let more = if *truncated { " (cut short)" } else { "" };
        println!("  {kind:<24} {count}{more}");
    }
    println!(
        "trail: {} pass, {} players, {} postings verified",
        summary.trail.pass.as_str(),
        summary.trail.players_checked,
        summary.trail.postings_checked
    );
    println!("open CRITICAL discrepancies: {}", summary.critical_open);
    Ok(Some(i32::from(summary.critical_open > 0)))
}
