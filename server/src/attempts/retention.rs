//! Retention: the attempt log and its counters are pruned after a configurable number of
//! days, and counters older than two days are folded from minutes into hours (the
//! overview reads minutes of the last day at most). Money data (transactions, ledger
//! entries, tombstones) and discrepancy records are never pruned; nothing here touches
//! them.
//!
//! Deletes run in bounded batches, each its own unit of work through [`Store::write`], so
//! that pruning a backlog never holds the SQLite writer (or PostgreSQL locks) for long.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::entities::{attempt, attempt_counter};
use crate::db::Store;
use crate::error::ServiceError;

/// How long attempts and counters are kept unless `WALLET_ATTEMPT_RETENTION_DAYS` says.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;
/// Rows deleted per transaction at most (attempts: the rows of one chunk of ids; counters: a
/// little more, a minute is not split).
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
            match fold_old_minutes(&store, Utc::now() - MINUTE_COUNTERS_KEPT).await {
                Ok(0) => {}
                Ok(folded) => tracing::info!(folded, "old counter minutes folded into hours"),
                Err(error) => tracing::warn!(%error, "folding counter minutes failed"),
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
    let mut from_id = i64::MIN;
    loop {
        let chunk = store
            .write(Box::new(move |txn| {
                Box::pin(async move { Ok(delete_attempts_chunk(txn, from_id, cutoff).await?) })
            }))
            .await?;
        pruned.attempts += chunk.deleted;
        match chunk.next_id {
            Some(next_id) if chunk.deleted > 0 => from_id = next_id,
            _ => break,
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

/// The oldest attempts, a chunk of at most `PRUNE_BATCH_ROWS` rows at a time from the
/// smallest id: each chunk is an id range of the primary key, and its rows received before
/// `cutoff` are deleted. Ids follow arrival (to within a log batch), so the old rows are
/// the first chunks; the walk stops at the first chunk that holds none, and an old row
/// behind it (inserted out of order) goes once the rows before it are old too. This needs
/// no index on `received_at`, an entry every request would write (docs/PERFORMANCE.md,
/// "Two fewer index entries per request").
async fn delete_attempts_chunk(
    txn: &sea_orm::DatabaseTransaction,
    from_id: i64,
    cutoff: DateTime<Utc>,
) -> Result<Chunk, sea_orm::DbErr> {
    use attempt::Column;
    // The chunk's last id: an index-only walk of the primary key.
    let last: Option<i64> = attempt::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Id.gte(from_id))
        .order_by_asc(Column::Id)
        .offset(PRUNE_BATCH_ROWS - 1)
        .limit(1)
        .into_tuple()
        .one(txn)
        .await?;
    let mut in_chunk = Expr::col(Column::Id).gte(from_id);
    if let Some(last) = last {
        in_chunk = in_chunk.and(Expr::col(Column::Id).lte(last));
    }
    let result = attempt::Entity::delete_many()
        .filter(in_chunk)
        .filter(Column::ReceivedAt.lt(cutoff))
        .exec(txn)
        .await?;
    Ok(Chunk {
        deleted: result.rows_affected,
        next_id: last.map(|last| last + 1),
    })
}

/// What one chunk of the walk did, and where the next one starts (`None`: it was the last).
struct Chunk {
    deleted: u64,
    next_id: Option<i64>,
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

/// Counters keep minutes for this long, then hours: the overview's longest window is a
/// day (`overview::Window`), and an hour row is about a fortieth of its minutes' rows at
/// steady traffic (docs/PERFORMANCE.md, bytes per transaction).
pub const MINUTE_COUNTERS_KEPT: chrono::Duration = chrono::Duration::days(2);

/// Folds the counter minutes of every whole hour before `before` into one row per hour
/// and key (its `minute_unix_s` the hour's start), a few hours per unit of work. Sums,
/// maxima and buckets add up exactly; folding an hour again changes nothing. Returns the
/// rows removed.
pub async fn fold_old_minutes(store: &Store, before: DateTime<Utc>) -> Result<u64, ServiceError> {
    let end = whole_hour(before);
    let mut removed = 0;
    let mut from = first_minute(store.reader(), i64::MIN, end).await?;
    while let Some(start) = from {
        let (start, until) = span_from(start, end);
        removed += store
            .write(Box::new(move |txn| {
                Box::pin(async move { Ok(fold_span(txn, start, until).await?) })
            }))
            .await?;
        from = first_minute(store.reader(), until, end).await?;
    }
    Ok(removed)
}

fn whole_hour(time: DateTime<Utc>) -> i64 {
    time.timestamp().div_euclid(3600) * 3600
}

/// A few hours per unit of work, which bounds what one transaction reads at busy times.
fn span_from(minute_unix_s: i64, end: i64) -> (i64, i64) {
    const SPAN_S: i64 = 6 * 3600;
    let start = minute_unix_s.div_euclid(3600) * 3600;
    (start, (start + SPAN_S).min(end))
}

/// The first counter minute in `[from, end)`, from the key's leading column.
async fn first_minute(
    db: &impl sea_orm::ConnectionTrait,
    from: i64,
    end: i64,
) -> Result<Option<i64>, sea_orm::DbErr> {
    attempt_counter::Entity::find()
        .select_only()
        .column(attempt_counter::Column::MinuteUnixS)
        .filter(attempt_counter::Column::MinuteUnixS.gte(from))
        .filter(attempt_counter::Column::MinuteUnixS.lt(end))
        .order_by_asc(attempt_counter::Column::MinuteUnixS)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
}

/// One span of whole hours folded in one transaction: read, delete, write the hours back.
/// On PostgreSQL an advisory lock makes nodes fold one at a time, so that a second node
/// reads the first one's hours (a no-op) instead of adding the same minutes again.
async fn fold_span(
    txn: &sea_orm::DatabaseTransaction,
    start: i64,
    until: i64,
) -> Result<u64, sea_orm::DbErr> {
    use attempt_counter::Column;
    use sea_orm::ConnectionTrait;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7305001)")
            .await?;
    }
    let in_span = Expr::col(Column::MinuteUnixS)
        .gte(start)
        .and(Expr::col(Column::MinuteUnixS).lt(until));
    let rows = attempt_counter::Entity::find()
        .filter(in_span.clone())
        .all(txn)
        .await?;
    let hours = super::counters::Tally::by_hour(&rows);
    if hours.len() == rows.len() && rows.iter().all(|row| row.minute_unix_s % 3600 == 0) {
        return Ok(0);
    }
    attempt_counter::Entity::delete_many()
        .filter(in_span)
        .exec(txn)
        .await?;
    hours.upsert(txn).await?;
    Ok((rows.len() - hours.len()) as u64)
}
