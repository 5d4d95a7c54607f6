//! Where reconciliation stands, as the alerts read it (`/metrics`, docs/OPERATIONS.md,
//! "Metrics and alerts"): the findings nobody has resolved, the pending rollbacks and the
//! last finished run.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::PENDING_ROLLBACK;
use crate::db::entities::{discrepancy, reconciliation_run as run, wallet_transaction as wtx};

/// The statuses of a finding nobody has resolved (an index on `(status, kind)` serves them).
const UNRESOLVED: [&str; 2] = ["OPEN", "ACKNOWLEDGED"];

/// Reconciliation's side of the alerts, read in one go.
#[derive(Debug, Default)]
pub struct Standing {
    /// `(kind, severity, count)` of the findings not resolved.
    pub findings: Vec<(String, String, i64)>,
    pub pending_rollbacks: u64,
    pub oldest_pending_age: chrono::Duration,
    /// The last finished run, one that succeeded.
    pub last_run: Option<LastRun>,
    /// Whether the newest finished run failed.
    pub last_failed: bool,
}

#[derive(Debug)]
pub struct LastRun {
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub critical_open: i64,
}

impl Standing {
    pub async fn read(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Standing, DbErr> {
        let findings = discrepancy::Entity::find()
            .select_only()
            .column(discrepancy::Column::Kind)
            .column(discrepancy::Column::Severity)
            .column_as(Expr::col(discrepancy::Column::Id).count(), "count")
            .filter(discrepancy::Column::Status.is_in(UNRESOLVED))
            .group_by(discrepancy::Column::Kind)
            .group_by(discrepancy::Column::Severity)
            .order_by_asc(discrepancy::Column::Kind)
            .order_by_asc(discrepancy::Column::Severity)
            .into_tuple::<(String, String, i64)>()
            .all(db)
            .await?;
        let pending: Vec<String> = discrepancy::Entity::find()
            .select_only()
            .column(discrepancy::Column::Details)
            .filter(discrepancy::Column::Status.is_in(UNRESOLVED))
            .filter(discrepancy::Column::Kind.eq(PENDING_ROLLBACK))
            .into_tuple()
            .all(db)
            .await?;
        let finished = run::Entity::find()
            .filter(run::Column::FinishedAt.is_not_null())
            .order_by_desc(run::Column::Id);
        let last_failed = finished
            .clone()
            .one(db)
            .await?
            .is_some_and(|run| run.trail_pass.is_none());
        // A run that failed is closed with its finish time and nothing else; only a run
        // that got to the end wrote its pass.
        let last_run = finished
            .filter(run::Column::TrailPass.is_not_null())
            .one(db)
            .await?
            .and_then(|run| {
                Some(LastRun {
                    finished_at: run.finished_at?,
                    duration_ms: run.duration_ms,
                    critical_open: run.critical_open,
                })
            });
        Ok(Standing {
            findings,
            pending_rollbacks: pending.len() as u64,
            oldest_pending_age: oldest_bet(db, &pending)
                .await?
                .map_or(chrono::Duration::zero(), |since| now - since),
            last_run,
            last_failed,
        })
    }
}

/// When the oldest bet of these pending-rollback findings (their `details`) was placed.
/// Transactions are numbered as they are written (SQLite: after the largest id, under
/// the write lock; PostgreSQL: from a sequence), so the smallest id is the oldest bet: one
/// lookup by primary key, however many are pending.
async fn oldest_bet(
    db: &impl ConnectionTrait,
    details: &[String],
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let oldest = details
        .iter()
        .filter_map(|details| {
            serde_json::from_str::<serde_json::Value>(details).ok()?["wallet_transaction_id"]
                .as_i64()
        })
        .min();
    let Some(id) = oldest else {
        return Ok(None);
    };
    wtx::Entity::find_by_id(id)
        .select_only()
        .column(wtx::Column::CreatedAt)
        .into_tuple()
        .one(db)
        .await
}
