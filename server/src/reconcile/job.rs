//! The reconciliation job: runs every check and a pass over the ledger hash chains
//! (incremental, full every Nth run: see `trail_check`), stores the findings and the
//! chains' checkpoints in one transaction, and records the run. Started on a schedule,
//! from the CLI, or by a person (dashboard, operator API).
//!
//! Runs never overlap: on PostgreSQL a transaction-scoped advisory lock held for the whole
//! run lets exactly one process run at a time (the others skip), and on both engines an
//! unfinished run younger than [`LEASE`] makes another start skip.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, TransactionTrait,
};

use super::checks::{self, CheckResult, Thresholds};
use super::findings::{self, Finding};
use super::pass::{self, TrailMode, TrailPass};
use super::trail_check::{self, TrailOutcome};
use crate::db::entities::{discrepancy, reconciliation_run as run};
use crate::db::{Engine, Store};
use crate::error::ServiceError;

/// Connections a run may hold at once: the job's lock (PostgreSQL), the checks' reads, the
/// hash-chain walks' snapshots (`trail_check`) and the findings' writes, with room to spare.
const RUN_CONNECTIONS: u32 = 6;

/// An unfinished run older than this is presumed dead (its process crashed).
const LEASE: chrono::Duration = chrono::Duration::minutes(10);
/// The advisory lock key of the job: "recon" in ASCII.
const ADVISORY_KEY: i64 = 0x0072_6563_6f6e;

/// Who started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
    Cli,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "SCHEDULE",
            Trigger::Manual => "MANUAL",
            Trigger::Cli => "CLI",
        }
    }
}

/// What a finished run found.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: i64,
    /// (kind, findings, truncated) per check, in run order; the trail's `TRAIL_BROKEN` last.
    pub checks: Vec<(&'static str, usize, bool)>,
    pub trail: TrailSummary,
    pub findings: u64,
    pub opened: u64,
    pub auto_resolved: u64,
    /// CRITICAL findings still open or acknowledged after the run.
    pub critical_open: u64,
    pub duration_ms: u64,
}

/// How a run verified the ledger hash chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrailSummary {
    pub pass: TrailPass,
    pub players_checked: u64,
    pub postings_checked: u64,
    /// Players whose chain does not verify.
    pub broken: usize,
}

/// How one run is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub thresholds: Thresholds,
    pub trail: TrailMode,
}

#[derive(Debug)]
pub enum RunOutcome {
    Finished(RunSummary),
    /// Another run (in this or another process) holds the job.
    Skipped,
}

/// The job's settings (`config.rs` reads them from flags and the environment).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// `WALLET_RECONCILE_INTERVAL_SECS` (default 300); `None` (0) disables the schedule.
    pub interval: Option<Duration>,
    /// `WALLET_ORPHAN_AFTER_SECS` (default 1800) and `WALLET_STALE_ROUND_AFTER_SECS`
    /// (default 172800).
    pub thresholds: Thresholds,
    /// `WALLET_TRAIL_FULL_EVERY_RUNS` (default 288): a full pass over the hash chains every
    /// this many runs; 0 makes only the first run (and forced ones) full.
    pub trail_full_every_runs: u32,
}

/// Five minutes between scheduled runs.
pub const DEFAULT_INTERVAL_SECS: u64 = 300;

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            interval: Some(Duration::from_secs(DEFAULT_INTERVAL_SECS)),
            thresholds: Thresholds::default(),
            trail_full_every_runs: pass::DEFAULT_FULL_EVERY_RUNS,
        }
    }
}

impl Schedule {
    /// The options of a run started by the schedule (or the CLI, or a person) under these
    /// settings.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            thresholds: self.thresholds,
            trail: TrailMode::Auto {
                full_every_runs: self.trail_full_every_runs,
            },
        }
    }
}

/// Starts the scheduled job; the first run is one interval after start-up, so a restart
/// loop does not hammer the database.
pub fn spawn_schedule(store: Store, schedule: Schedule) {
    let Some(interval) = schedule.interval else {
        tracing::info!("scheduled reconciliation disabled");
        return;
    };
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            if let Err(error) = run_with(&store, Trigger::Schedule, schedule.options()).await {
                tracing::error!(%error, "reconciliation run failed");
            }
        }
    });
}

/// Runs every check once with the default trail policy, unless another run holds the job.
pub async fn run_once(
    store: &Store,
    trigger: Trigger,
    thresholds: Thresholds,
) -> Result<RunOutcome, ServiceError> {
    let options = RunOptions {
        thresholds,
        trail: TrailMode::default(),
    };
    run_with(store, trigger, options).await
}

/// Runs every check once, unless another run holds the job.
pub async fn run_with(
    store: &Store,
    trigger: Trigger,
    options: RunOptions,
) -> Result<RunOutcome, ServiceError> {
    // A run reads through connections of its own, closed when it ends. Through the shared
    // read pool, its reads filled every pooled SQLite connection's page cache and statement
    // cache, and the server kept that memory (a step of 11 MB at the first run of the soak,
    // docs/RELIABILITY.md, "The RSS step"). Opening them costs a few milliseconds a run.
    let own = store.for_background(RUN_CONNECTIONS);
    let outcome = run_on(&own, trigger, options).await;
    own.close_own_pool().await;
    outcome
}

async fn run_on(
    store: &Store,
    trigger: Trigger,
    options: RunOptions,
) -> Result<RunOutcome, ServiceError> {
    // Held until the run ends; dropping the transaction releases the lock.
    let lock = match store.engine() {
        Engine::Postgres => match try_advisory_lock(store).await? {
            Some(txn) => Some(txn),
            None => return Ok(skipped("another process is running reconciliation")),
        },
        Engine::Sqlite => None,
    };
    let started = Instant::now();
    let now = Utc::now();
    let Some(run_id) = start_run(store, trigger, now).await? else {
        return Ok(skipped("an unfinished run holds the lease"));
    };
    tracing::info!(run_id, trigger = trigger.as_str(), "reconciliation started");
    let summary = match check_and_store(store, run_id, options, now, started).await {
        Ok(summary) => summary,
        Err(error) => {
            // Close the run so its lease does not block the next one for nothing.
            let _ = close_failed_run(store, run_id).await;
            return Err(error);
        }
    };
    if let Some(txn) = lock {
        let _ = txn.commit().await;
    }
    tracing::info!(
        run_id,
        findings = summary.findings,
        opened = summary.opened,
        auto_resolved = summary.auto_resolved,
        critical_open = summary.critical_open,
        trail_pass = summary.trail.pass.as_str(),
        trail_postings = summary.trail.postings_checked,
        duration_ms = summary.duration_ms,
        "reconciliation finished"
    );
    Ok(RunOutcome::Finished(summary))
}

async fn check_and_store(
    store: &Store,
    run_id: i64,
    options: RunOptions,
    now: DateTime<Utc>,
    started: Instant,
) -> Result<RunSummary, ServiceError> {
    let (pass, watermark) = pass::choose(store.reader(), options.trail).await?;
    // The hash-chain pass reads in a snapshot of its own, so it runs beside the other
    // checks instead of after them: a full pass is most of a run (8 of 10 s at a million
    // transactions on SQLite), and the database works on both at once.
    let (mut results, mut trail) = tokio::try_join!(
        run_checks(store, run_id, pass, &options.thresholds, now),
        check_trail(store, run_id, pass, watermark, now),
    )?;
    add_walk_money(&mut results, &mut trail);
    finish_run(store, run_id, results, trail, now, started).await
}

/// Adds the money findings of the hash-chain walk to the checks of their kinds, once per
/// subject (a full pass's aggregate may have found the same player or transaction). The
/// balance list is only as complete as the walk: with more broken chains than it lists,
/// some players' money went unread, so nothing of that kind is resolved.
fn add_walk_money(results: &mut [CheckResult], trail: &mut TrailOutcome) {
    for found in std::mem::take(&mut trail.money) {
        let Some(check) = results.iter_mut().find(|r| r.kind == found.kind) else {
            continue;
        };
        if !check.findings.iter().any(|f| f.subject == found.subject) {
            check.findings.push(found);
        }
    }
    for check in results.iter_mut() {
        match check.kind {
            checks::BALANCE_MISMATCH => {
                check.truncated |= trail.money_truncated || trail.check.truncated;
            }
            checks::UNBALANCED_TRANSACTION => check.truncated |= trail.money_truncated,
            _ => {}
        }
    }
}

async fn run_checks(
    store: &Store,
    run_id: i64,
    pass: TrailPass,
    thresholds: &Thresholds,
    now: DateTime<Utc>,
) -> Result<Vec<CheckResult>, ServiceError> {
    let mut results = Vec::with_capacity(checks::ALL.len() + 1);
    for kind in checks::ALL {
        let result = checks::run(store.reader(), kind, pass, thresholds, now).await?;
        // Progress, so a long run is visibly alive and slow checks stand out.
        tracing::info!(
            run_id,
            check = kind,
            findings = result.findings.len(),
            truncated = result.truncated,
            elapsed_ms = result.elapsed_ms as u64,
            "reconciliation check done"
        );
        results.push(result);
    }
    Ok(results)
}

async fn check_trail(
    store: &Store,
    run_id: i64,
    pass: TrailPass,
    watermark: Option<i64>,
    now: DateTime<Utc>,
) -> Result<TrailOutcome, ServiceError> {
    let trail = trail_check::verify(store, pass, watermark, now).await?;
    tracing::info!(
        run_id,
        check = trail_check::TRAIL_BROKEN,
        pass = pass.as_str(),
        players = trail.players_checked,
        postings = trail.postings_checked,
        findings = trail.check.findings.len(),
        elapsed_ms = trail.check.elapsed_ms as u64,
        "reconciliation check done"
    );
    Ok(trail)
}

async fn close_failed_run(store: &Store, run_id: i64) -> Result<(), ServiceError> {
    store
        .write(Box::new(move |txn| {
            Box::pin(async move {
                run::Entity::update(run::ActiveModel {
                    id: Set(run_id),
                    finished_at: Set(Some(Utc::now())),
                    ..Default::default()
                })
                .exec(txn)
                .await?;
                Ok(())
            })
        }))
        .await
}

fn skipped(why: &str) -> RunOutcome {
    tracing::info!(reason = why, "reconciliation skipped");
    RunOutcome::Skipped
}

/// A transaction holding the job's advisory lock, or `None` if another session has it.
async fn try_advisory_lock(store: &Store) -> Result<Option<DatabaseTransaction>, ServiceError> {
    let txn = store.reader().begin().await?;
    let row = txn
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT pg_try_advisory_xact_lock({ADVISORY_KEY}) AS locked"),
        ))
        .await?;
    let locked = row
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    Ok(locked.then_some(txn))
}

/// Records the run's start, unless a live run holds the lease. Check and insert are one
/// unit of work, so two starts cannot both pass.
async fn start_run(
    store: &Store,
    trigger: Trigger,
    now: DateTime<Utc>,
) -> Result<Option<i64>, ServiceError> {
    store
        .write(Box::new(move |txn| {
            Box::pin(async move {
                let live = run::Entity::find()
                    .filter(run::Column::FinishedAt.is_null())
                    .filter(run::Column::StartedAt.gt(now - LEASE))
                    .count(txn)
                    .await?;
                if live > 0 {
                    return Ok(None);
                }
                let row = run::ActiveModel {
                    started_at: Set(now),
                    trigger: Set(trigger.as_str().to_owned()),
                    findings: Set(0),
                    opened: Set(0),
                    auto_resolved: Set(0),
                    critical_open: Set(0),
                    duration_ms: Set(0),
                    ..Default::default()
                };
                Ok(Some(
                    run::Entity::insert(row).exec(txn).await?.last_insert_id,
                ))
            })
        }))
        .await
}

/// Stores every finding and the trail's checkpoints, resolves what cleared and closes the
/// run, in one transaction: a crash mid-way leaves the previous state, never half a run.
async fn finish_run(
    store: &Store,
    run_id: i64,
    mut results: Vec<CheckResult>,
    trail: TrailOutcome,
    now: DateTime<Utc>,
    started: Instant,
) -> Result<RunSummary, ServiceError> {
    let trail_summary = TrailSummary {
        pass: trail.pass,
        players_checked: trail.players_checked,
        postings_checked: trail.postings_checked,
        broken: trail.check.findings.len(),
    };
    let checkpoints = Arc::new(trail.checkpoints);
    let trail_columns = (
        trail.pass.as_str(),
        i64::try_from(trail.postings_checked).unwrap_or(i64::MAX),
        trail.last_entry_id,
    );
    // A broken chain stops the walk before the money past the break: a balance finding about
    // such a player stays open until the chain verifies again.
    let unwalked: Arc<Vec<String>> = Arc::new(
        trail
            .check
            .findings
            .iter()
            .map(|f| f.subject.id())
            .collect(),
    );
    results.push(trail.check);
    let checks: Vec<(&'static str, usize, bool)> = results
        .iter()
        .map(|r| (r.kind, r.findings.len(), r.truncated))
        .collect();
    // Complete lists only: a cut-short or partial list says nothing about what cleared.
    let complete: Vec<&'static str> = results
        .iter()
        .filter(|r| r.complete())
        .map(|r| r.kind)
        .collect();
    let all: Arc<Vec<Finding>> = Arc::new(results.into_iter().flat_map(|r| r.findings).collect());
    let complete = Arc::new(complete);
    let findings_count = all.len() as u64;
    let (opened, auto_resolved, critical_open) = store
        .write(Box::new(move |txn| {
            let all = Arc::clone(&all);
            let complete = Arc::clone(&complete);
            let unwalked = Arc::clone(&unwalked);
            let checkpoints = Arc::clone(&checkpoints);
            Box::pin(async move {
                trail_check::save_checkpoints(txn, &checkpoints).await?;
                let opened = findings::upsert(txn, &all, now).await?;
                let mut resolved = 0;
                for kind in complete.iter() {
                    let keep: &[String] = if *kind == checks::BALANCE_MISMATCH {
                        &unwalked
                    } else {
                        &[]
                    };
                    resolved += findings::resolve_cleared(txn, kind, keep, now, run_id).await?;
                }
                let critical_open = critical_open(txn).await?;
                let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
                run::Entity::update(run::ActiveModel {
                    id: Set(run_id),
                    finished_at: Set(Some(Utc::now())),
                    findings: Set(all.len() as i64),
                    opened: Set(opened as i64),
                    auto_resolved: Set(resolved as i64),
                    critical_open: Set(critical_open as i64),
                    duration_ms: Set(duration_ms),
                    trail_pass: Set(Some(trail_columns.0.to_owned())),
                    trail_postings: Set(Some(trail_columns.1)),
                    trail_last_entry_id: Set(Some(trail_columns.2)),
                    ..Default::default()
                })
                .exec(txn)
                .await?;
                Ok((opened, resolved, critical_open))
            })
        }))
        .await?;
    Ok(RunSummary {
        run_id,
        checks,
        trail: trail_summary,
        findings: findings_count,
        opened,
        auto_resolved,
        critical_open,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// CRITICAL findings nobody resolved, internal or from statements.
pub async fn critical_open(db: &impl ConnectionTrait) -> Result<u64, sea_orm::DbErr> {
    discrepancy::Entity::find()
        .filter(discrepancy::Column::Severity.eq("CRITICAL"))
        .filter(discrepancy::Column::Status.is_in(["OPEN", "ACKNOWLEDGED"]))
        .count(db)
        .await
}
