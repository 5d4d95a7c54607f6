//! The live feed: the attempt log read by id, so every server process's attempts show up
//! once their batch is written, whichever process the dashboard talks to.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db::entities::{attempt, wallet_transaction as wtx};

/// The most attempts one call returns.
pub const FEED_MAX_LIMIT: u64 = 500;
/// A player's feed covers the attempts of the player's latest this many transactions;
/// older ones are a search away.
const PLAYER_MAX_KEYS: u64 = 500;
/// The condition of the partial index on rare outcomes, as its migration wrote it.
const RARE_OUTCOMES: &str = "outcome NOT IN ('FIRST', 'REPLAY')";

/// Narrows the feed; every field is an exact match.
#[derive(Debug, Clone, Default)]
pub struct FeedFilter {
    pub provider_id: Option<String>,
    pub endpoint: Option<String>,
    /// `FIRST`, `REPLAY`, `CONFLICT`, `DECLINED`, `REJECTED` or `ERROR`.
    pub outcome: Option<String>,
    /// Attempts whose transaction (same provider) belongs to this player: those of the
    /// player's latest 500 transactions.
    pub player_id: Option<String>,
}

/// A page of attempts and the cursor to poll with next.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub attempts: Vec<attempt::Model>,
    /// The highest attempt id seen so far: pass it back to get what came after.
    pub next_cursor: Option<i64>,
}

/// Without a cursor, the newest `limit` attempts, newest first (the feed's first screen).
/// With one, the attempts after it, oldest first, so a poller appends them in order and
/// pages forward with `next_cursor` until it catches up.
pub async fn live_feed(
    db: &impl ConnectionTrait,
    after_attempt_id: Option<i64>,
    filter: &FeedFilter,
    limit: u64,
) -> Result<FeedPage, DbErr> {
    let limit = limit.clamp(1, FEED_MAX_LIMIT);
    let mut select = attempt::Entity::find();
    if let Some(provider) = &filter.provider_id {
        select = select.filter(attempt::Column::ProviderId.eq(provider.as_str()));
    }
    if let Some(endpoint) = &filter.endpoint {
        select = select.filter(attempt::Column::Endpoint.eq(endpoint.as_str()));
    }
    if let Some(outcome) = &filter.outcome {
        select = select.filter(attempt::Column::Outcome.eq(outcome.as_str()));
        // `idx_attempts_console_outcome` holds only the rare outcomes (migration
        // m20261208_000021): FIRST and REPLAY, the bulk of the log, find their page walking
        // the primary key. A rare one names the index's condition word for word, which is
        // how SQLite knows that a partial index applies.
        if !["FIRST", "REPLAY"].contains(&outcome.as_str()) {
            select = select.filter(Expr::cust(RARE_OUTCOMES));
        }
    }
    if let Some(player) = &filter.player_id {
        let keys = player_keys(db, player).await?;
        if keys.is_empty() {
            return Ok(FeedPage {
                attempts: Vec::new(),
                next_cursor: after_attempt_id,
            });
        }
        select = select.filter(keys.into_iter().fold(
            Condition::any(),
            |any, (scope, transaction_id)| {
                any.add(
                    attempt::Column::ProviderId
                        .eq(scope)
                        .and(attempt::Column::TransactionId.eq(transaction_id)),
                )
            },
        ));
    }
    let attempts = match after_attempt_id {
        None => {
            select
                .order_by_desc(attempt::Column::Id)
                .limit(limit)
                .all(db)
                .await?
        }
        Some(after) => {
            select
                .filter(attempt::Column::Id.gt(after))
                .order_by_asc(attempt::Column::Id)
                .limit(limit)
                .all(db)
                .await?
        }
    };
    let newest = attempts.iter().map(|a| a.id).max();
    Ok(FeedPage {
        next_cursor: newest.or(after_attempt_id),
        attempts,
    })
}

/// The player's most recent keys, newest first: the feed of one player starts from the
/// player's transactions (an index range) and looks up their attempts by key, instead of
/// walking the whole log looking for them.
async fn player_keys(
    db: &impl ConnectionTrait,
    player: &str,
) -> Result<Vec<(String, String)>, DbErr> {
    wtx::Entity::find()
        .select_only()
        .column(wtx::Column::Scope)
        .column(wtx::Column::TransactionId)
        .filter(wtx::Column::PlayerId.eq(player))
        .order_by_desc(wtx::Column::Id)
        .limit(PLAYER_MAX_KEYS)
        .into_tuple()
        .all(db)
        .await
}
