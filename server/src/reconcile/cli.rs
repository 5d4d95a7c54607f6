//! `server reconcile`: one run against the database, a summary on standard output, and an
//! exit code a cron job or a deploy check can act on.
use super::job::{run_with, RunOutcome, Schedule, Trigger};
use super::pass::{TrailMode, TrailPass};
use crate::db::Store;

/// One run under `schedule`'s settings; `full` makes a full pass (every hash chain from the
/// start, the money checks over the whole ledger).
/// Exit codes: 0 no CRITICAL finding open, 1 some are.
pub async fn run(database_url: &str, schedule: Schedule, full: bool) -> anyhow::Result<i32> {
    let mut options = schedule.options();
    if full {
        options.trail = TrailMode::Force(TrailPass::Full);
    }
    let store = Store::connect(database_url, Default::default()).await?;
    let outcome = run_with(&store, Trigger::Cli, options)
        .await
        .map_err(|e| anyhow::anyhow!("reconciliation failed: {e}"))?;
    let summary = match outcome {
        RunOutcome::Skipped => {
            println!("reconciliation skipped: another run is in progress");
            return Ok(0);
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
    Ok(i32::from(summary.critical_open > 0))
}
