//! `server reconcile`: one run against the database, a summary on standard output, and an
//! exit code a cron job or a deploy check can act on.
use clap::Args;

use super::job::{run_with, RunOutcome, Trigger};
use super::trail_check::{TrailMode, TrailPass};
use crate::config::{DatabaseSettings, ScheduleSettings};
use crate::db::Store;

/// The flags of `server reconcile`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit status: 0 no CRITICAL finding open, 1 CRITICAL findings are \
                        open, 2 bad flags. See docs/CONSOLE.md."
)]
pub struct ReconcileArgs {
    /// Re-walk every ledger hash chain from the start instead of from the checkpoints
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub schedule: ScheduleSettings,
}

pub async fn run(args: &ReconcileArgs) -> anyhow::Result<i32> {
    let mut options = args.schedule.schedule().options();
    if args.full {
        options.trail = TrailMode::Force(TrailPass::Full);
    }
    let store = Store::connect(&args.database.database_url, Default::default()).await?;
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
