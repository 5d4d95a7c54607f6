//! Runs for people: start one now (dashboard, operator API) and list the recent ones.
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder, QuerySelect};

use super::job::{run_with, RunOutcome, RunSummary, Schedule, Trigger};
use super::pass::{TrailMode, TrailPass};
use crate::db::entities::reconciliation_run as run;
use crate::db::Store;
use crate::error::ServiceError;

/// A list of runs is at most this long.
pub const MAX_RUNS: u64 = 100;

/// Why a run asked for by a person did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another run (scheduled, from the CLI or another person, in this process or another)
    /// holds the job: runs never overlap. Its summary shows in the run list when it ends.
    #[error("a reconciliation run is already in progress")]
    InProgress,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<DbErr> for RunError {
    fn from(error: DbErr) -> Self {
        RunError::Service(ServiceError::Db(error))
    }
}

/// Runs the reconciliation now, with the settings of the schedule (an incremental or full
/// trail pass as the schedule would choose), and returns what it found.
pub async fn run_now(store: &Store, schedule: Schedule) -> Result<RunSummary, RunError> {
    run_now_with(store, schedule, None).await
}

/// Like [`run_now`], with the trail pass forced (`Some(TrailPass::Full)` re-walks every
/// chain from the start).
pub async fn run_now_with(
    store: &Store,
    schedule: Schedule,
    pass: Option<TrailPass>,
) -> Result<RunSummary, RunError> {
    let mut options = schedule.options();
    if let Some(pass) = pass {
        options.trail = TrailMode::Force(pass);
    }
    match run_with(store, Trigger::Manual, options).await? {
        RunOutcome::Finished(summary) => Ok(summary),
        RunOutcome::Skipped => Err(RunError::InProgress),
    }
}

/// The most recent runs, newest first (at most [`MAX_RUNS`]); a run still going has no
/// `finished_at`.
pub async fn recent_runs(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<run::Model>, DbErr> {
    run::Entity::find()
        .order_by_desc(run::Column::Id)
        .limit(limit.clamp(1, MAX_RUNS))
        .all(db)
        .await
}
