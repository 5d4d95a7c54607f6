//! Lookups for providers (docs/API.md, "Lookups"): a transaction's status for a caller
//! whose request timed out, a round, and the provider's own transaction feed. All scoped to
//! the authenticated provider: another provider's ids are simply not found.
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{json, Value};

use crate::db::entities::{attempt, player, round, tombstone, wallet_transaction as wtx};
use crate::domain::{
    CurrencyTable, MinorUnits, Money, OpType, PlayerId, RoundId, TransactionId, TxState,
};
use crate::error::{ApiError, ServiceError};
use crate::idempotency::{first_body_of, format_time, format_wallet_tx_id};

/// A player's row, for the balance: `None` when there is no such player.
pub async fn player(
    db: &impl ConnectionTrait,
    player_id: &PlayerId,
) -> Result<Option<player::Model>, ServiceError> {
    Ok(player::Entity::find_by_id(player_id.as_str())
        .one(db)
        .await?)
}

/// The feed's page size when the caller gives none, and the most it may ask for.
pub const FEED_DEFAULT_LIMIT: u64 = 100;
pub const FEED_MAX_LIMIT: u64 = 1000;

/// What became of a transaction, how often it was attempted, and its first answer.
pub async fn transaction_status(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    provider_id: &str,
    transaction_id: &TransactionId,
) -> Result<Value, ServiceError> {
    let id = transaction_id.as_str();
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::ProviderId.eq(provider_id))
        .filter(attempt::Column::TransactionId.eq(id))
        .count(db)
        .await?;
    let related = related(db, provider_id, id).await?;
    if let Some(row) = find(db, provider_id, id).await? {
        let body: Value =
            serde_json::from_str(&first_body_of(&row, currencies)).unwrap_or(Value::Null);
        return Ok(json!({
            "transaction_id": id,
            "state": row.state,
            "op": row.op,
            "first_seen_at": format_time(row.created_at),
            // The first execution is in the log too, unless its record was lost in a crash.
            "attempts": attempts.max(1),
            "original_response": { "http_status": row.http_status, "body": body },
            "related": related,
        }));
    }
    let tomb = tombstone::Entity::find()
        .filter(tombstone::Column::ProviderId.eq(provider_id))
        .filter(tombstone::Column::TransactionId.eq(id))
        .one(db)
        .await?;
    Ok(match tomb {
        Some(tomb) => json!({
            "transaction_id": id, "state": "TOMBSTONE", "op": "BET",
            "first_seen_at": format_time(tomb.created_at), "attempts": attempts,
            "original_response": null, "related": related,
        }),
        None => json!({
            "transaction_id": id, "state": "NOT_FOUND", "op": null, "first_seen_at": null,
            "attempts": attempts, "original_response": null, "related": [],
        }),
    })
}

async fn find(
    db: &impl ConnectionTrait,
    provider_id: &str,
    id: &str,
) -> Result<Option<wtx::Model>, ServiceError> {
    Ok(wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(provider_id))
        .filter(wtx::Column::TransactionId.eq(id))
        .one(db)
        .await?)
}

/// Rollbacks that target the transaction and wins that reference it.
async fn related(
    db: &impl ConnectionTrait,
    provider_id: &str,
    id: &str,
) -> Result<Vec<Value>, ServiceError> {
    let rows = wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(provider_id))
        .filter(wtx::Column::TargetTransactionId.eq(id))
        .order_by_asc(wtx::Column::Id)
        .limit(100)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| json!({ "transaction_id": row.transaction_id, "op": row.op, "outcome": row.outcome, "state": row.state }))
        .collect())
}

/// One transaction as the feed and the round lookup show it.
fn summary(currencies: &CurrencyTable, row: &wtx::Model) -> Value {
    json!({
        "transaction_id": row.transaction_id,
        "wallet_tx_id": format_wallet_tx_id(row.id),
        "op": row.op,
        "kind": row.kind,
        "player_id": row.player_id,
        "round_id": row.round_id,
        "game_id": row.game_id,
        "amount": money(currencies, row.amount_minor, row.currency.as_deref()).map(|m| m.to_wire()),
        "state": row.state,
        "outcome": row.outcome,
        "error_code": row.error_code,
        "target_transaction_id": row.target_transaction_id,
        "committed_at": format_time(row.created_at),
    })
}

fn money(currencies: &CurrencyTable, minor: Option<i64>, currency: Option<&str>) -> Option<Money> {
    let currency = currencies.currency(currency?).ok()?;
    Some(Money::new(MinorUnits::from_stored(minor?).ok()?, currency))
}

/// The round's state, its transactions in order, and totals.
pub async fn round(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    provider_id: &str,
    player_id: &PlayerId,
    round_id: &RoundId,
) -> Result<Value, ServiceError> {
    let key = (
        provider_id.to_owned(),
        player_id.as_str().to_owned(),
        round_id.as_str().to_owned(),
    );
    let Some(found) = round::Entity::find_by_id(key).one(db).await? else {
        return Ok(
            json!({ "round_id": round_id.as_str(), "player_id": player_id.as_str(), "state": "NOT_FOUND", "transactions": [] }),
        );
    };
    let rows = wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(provider_id))
        .filter(wtx::Column::PlayerId.eq(player_id.as_str()))
        .filter(wtx::Column::RoundId.eq(round_id.as_str()))
        .order_by_asc(wtx::Column::Id)
        .limit(FEED_MAX_LIMIT)
        .all(db)
        .await?;
    let (mut bets, mut wins) = (0i64, 0i64);
    for row in &rows {
        let amount = row.amount_minor.unwrap_or(0);
        let state = TxState::parse(&row.state);
        match (OpType::parse(&row.op), state, row.kind.as_deref()) {
            (Ok(OpType::Bet), Ok(TxState::Committed | TxState::Settled), Some("BET")) => {
                bets += amount
            }
            (Ok(OpType::Win), Ok(TxState::Committed), _) => wins += amount,
            _ => {}
        }
    }
    let currency = rows.iter().find_map(|row| row.currency.clone());
    let total =
        |minor: i64| money(currencies, Some(minor), currency.as_deref()).map(|m| m.to_wire());
    Ok(json!({
        "round_id": round_id.as_str(),
        "player_id": player_id.as_str(),
        "game_id": found.game_id,
        "state": found.state,
        "opened_at": format_time(found.opened_at),
        "closed_at": found.closed_at.map(format_time),
        "transactions": rows.iter().map(|row| summary(currencies, row)).collect::<Vec<_>>(),
        // Bets still standing (not rolled back, voided or declined) and wins paid.
        "totals": { "bets": total(bets), "wins": total(wins) },
    }))
}

/// The feed's query, parsed.
pub struct FeedQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after_id: i64,
    pub limit: u64,
}

impl FeedQuery {
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> Result<FeedQuery, ApiError> {
        let time = |name: &str, value: Option<&str>| {
            value
                .map(|v| DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)))
                .transpose()
                .map_err(|_| ApiError::malformed(format!("{name}: an RFC 3339 timestamp")))
        };
        // `c` and 1–18 digits, as `next_cursor` gives it (and the OpenAPI document says).
        let after_id = match cursor {
            None => 0,
            Some(cursor) => cursor
                .strip_prefix("c")
                .filter(|n| (1..=18).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::malformed("cursor: use the next_cursor of the previous page")
                })?,
        };
        let limit = match limit {
            None => FEED_DEFAULT_LIMIT,
            Some(limit) => limit
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=FEED_MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::malformed(format!("limit: 1–{FEED_MAX_LIMIT}")))?,
        };
        Ok(FeedQuery {
            from: time("from", from)?,
            to: time("to", to)?,
            after_id,
            limit,
        })
    }
}

/// The provider's own transactions with their current state, oldest first.
pub async fn feed(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    provider_id: &str,
    query: &FeedQuery,
) -> Result<Value, ServiceError> {
    let mut select = wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(provider_id))
        .filter(wtx::Column::Id.gt(query.after_id));
    if let Some(from) = query.from {
        select = select.filter(wtx::Column::CreatedAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(wtx::Column::CreatedAt.lt(to));
    }
    let rows = select
        .order_by_asc(wtx::Column::Id)
        .limit(query.limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > query.limit;
    let page: Vec<&wtx::Model> = rows.iter().take(query.limit as usize).collect();
    let next_cursor = if more {
        page.last().map(|row| format!("c{}", row.id))
    } else {
        None
    };
    Ok(json!({
        "transactions": page.iter().map(|row| summary(currencies, row)).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    }))
}

/// A player's round as stored, for the PAM's round lookup: `None` when the wallet never
/// saw a bet in it.
pub async fn round_row(
    db: &impl ConnectionTrait,
    provider_id: &str,
    player_id: &str,
    round_id: &str,
) -> Result<Option<round::Model>, ServiceError> {
    let key = (
        provider_id.to_owned(),
        player_id.to_owned(),
        round_id.to_owned(),
    );
    Ok(round::Entity::find_by_id(key).one(db).await?)
}

/// The keys of a provider's key space among `transaction_ids` that a player used and that
/// took effect (declined ones moved nothing and are left out), oldest first.
pub async fn effective_keys(
    db: &impl ConnectionTrait,
    provider_id: &str,
    player_id: &str,
    transaction_ids: &[String],
) -> Result<Vec<wtx::Model>, ServiceError> {
    if transaction_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(provider_id))
        .filter(wtx::Column::TransactionId.is_in(transaction_ids.iter().cloned()))
        .filter(wtx::Column::PlayerId.eq(player_id))
        .filter(
            wtx::Column::State
                .is_not_in([TxState::Declined.as_str(), TxState::InProgress.as_str()]),
        )
        .order_by_asc(wtx::Column::Id)
        .all(db)
        .await?)
}
