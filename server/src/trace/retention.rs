//! Retention: the attempt log and its counters are pruned after a configurable number of
//! days. Money data (transactions, ledger entries, tombstones) and discrepancy records are
//! never pruned; nothing here touches them.
//!
//! Deletes run in bounded batches, each its own unit of work through [`Store::write`], so
//! that pruning a backlog never holds the SQLite writer (or PostgreSQL locks) for long.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

use crate::db::entities::{attempt, attempt_counter};
use crate::db::Store;
use crate::error::ServiceError;

/// How long attempts and counters are kept unless `WALLET_ATTEMPT_RETENTION_DAYS` says.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;
/// Rows deleted per transaction at most (counters: a little more, a minute is not split).
pub const PRUNE_BATCH_ROWS: u64 = 10_000;
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            days: DEFAULT_RETENTION_DAYS,
        }
    }
}

impl Retention {
    /// Records received before this are pruned.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::days(i64::from(self.days))
    }
}

/// Prunes once at start, then hourly, for as long as the runtime lives.
pub fn spawn(store: Store, retention: Retention) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match prune(&store, retention.cutoff(Utc::now())).await {
                Ok(pruned) if pruned != Pruned::default() => {
                    tracing::info!(?pruned, days = retention.days, "attempt log pruned")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "attempt log pruning failed"),
            }
        }
    });
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub attempts: u64,
    pub counters: u64,
}

/// Deletes attempts received before `cutoff` and counters of minutes before it.
pub async fn prune(store: &Store, cutoff: DateTime<Utc>) -> Result<Pruned, ServiceError> {
    let mut pruned = Pruned::default();
    loop {
        let deleted = store
            .write(Box::new(move |txn| {
                Box::pin(async move { Ok(delete_attempts_batch(txn, cutoff).await?) })
            }))
            .await?;
        pruned.attempts += deleted;
        if deleted < PRUNE_BATCH_ROWS {
            break;
        }
    }
    let cutoff_minute_s = cutoff.timestamp().div_euclid(60) * 60;
    loop {
        let deleted = store
            .write(Box::new(move |txn| {
                Box::pin(async move { Ok(delete_counters_batch(txn, cutoff_minute_s).await?) })
            }))
            .await?;
        pruned.counters += deleted;
        if deleted == 0 {
            break;
        }
    }
    Ok(pruned)
}

/// The oldest attempts up to a batch: `DELETE … WHERE id IN (SELECT id … LIMIT n)`, which
/// both engines run from the `received_at` index.
async fn delete_attempts_batch(
    txn: &sea_orm::DatabaseTransaction,
    cutoff: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let oldest = attempt::Entity::find()
        .select_only()
        .column(attempt::Column::Id)
        .filter(attempt::Column::ReceivedAt.lt(cutoff))
        .order_by_asc(attempt::Column::ReceivedAt)
        .limit(PRUNE_BATCH_ROWS)
        .into_query();
    let result = attempt::Entity::delete_many()
        .filter(attempt::Column::Id.in_subquery(oldest))
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}

/// The oldest counter minutes up to about a batch of rows. The table has no row id, so
/// the batch ends at the minute of its n-th oldest row; one minute holds few rows.
async fn delete_counters_batch(
    txn: &sea_orm::DatabaseTransaction,
    cutoff_minute_s: i64,
) -> Result<u64, sea_orm::DbErr> {
    use attempt_counter::Column;
    let boundary: Option<i64> = attempt_counter::Entity::find()
        .select_only()
        .column(Column::MinuteUnixS)
        .filter(Column::MinuteUnixS.lt(cutoff_minute_s))
        .order_by_asc(Column::MinuteUnixS)
        .offset(PRUNE_BATCH_ROWS - 1)
        .limit(1)
        .into_tuple()
        .one(txn)
        .await?;
    let condition = match boundary {
        Some(boundary) => Expr::col(Column::MinuteUnixS).lte(boundary),
        None => Expr::col(Column::MinuteUnixS).lt(cutoff_minute_s),
    };
    let result = attempt_counter::Entity::delete_many()
        .filter(condition)
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}
