//! The four money operations of the provider API. Each parses its wire request into a
//! validated [`KeyedRequest`] plus its own fields, and decides its outcome inside the
//! transaction that claimed the key.
mod bet;
mod close_round;
mod rollback;
mod win;

pub use bet::Bet;
pub use close_round::CloseRound;
pub use rollback::{Rollback, StaffAction};
pub use win::Win;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QuerySelect, Statement,
};
use serde_json::Value;

use super::wire::METADATA_MAX_BYTES;
use crate::db::entities::{game_session, player, round, tombstone};
use crate::domain::{CurrencyTable, IdError, Money, ProviderId, TransactionId};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{player_money, Decision, Fingerprint, KeyedRequest};

/// What every operation needs besides its body.
#[derive(Clone)]
pub struct RequestContext {
    pub provider_id: ProviderId,
    pub currencies: Arc<CurrencyTable>,
    pub request_id: String,
}

/// Parses an id field, naming it in the error.
pub fn parse_id<T>(
    field: &str,
    value: String,
    parse: fn(String) -> Result<T, IdError>,
) -> Result<T, ApiError> {
    parse(value).map_err(|error| ApiError::malformed(format!("{field}: {error}")))
}

/// `metadata` must be a JSON object of at most 4 KiB.
pub fn check_metadata(metadata: &Option<Value>) -> Result<(), ApiError> {
    match metadata {
        None => Ok(()),
        Some(Value::Object(_))
            if serde_json::to_vec(metadata).map_or(0, |v| v.len()) <= METADATA_MAX_BYTES =>
        {
            Ok(())
        }
        Some(Value::Object(_)) => Err(ApiError::malformed(format!(
            "metadata: at most {METADATA_MAX_BYTES} bytes"
        ))),
        Some(_) => Err(ApiError::malformed("metadata: must be a JSON object")),
    }
}

/// The request body as stored for the trace: session tokens are secrets and are redacted.
pub fn redacted_body(raw: &[u8]) -> String {
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(mut map)) => {
            if map.contains_key("session_token") {
                map.insert("session_token".into(), Value::String("[redacted]".into()));
            }
            Value::Object(map).to_string()
        }
        _ => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// Every operation's fingerprint has the same fields, absent ones as null, so that a key
/// reused by another operation type shows exactly which fields differ.
pub struct KeyFields<'a> {
    pub op: &'static str,
    pub player_id: &'a str,
    pub round_id: Option<&'a str>,
    pub game_id: &'a str,
    pub kind: Option<&'static str>,
    pub amount: Option<&'a Money>,
    pub reference_transaction_id: Option<&'a str>,
    pub target_transaction_id: Option<&'a str>,
    pub round_closed: bool,
}

impl KeyFields<'_> {
    /// The key store's view of the request: scope, key, fingerprint, and the columns the
    /// trace shows.
    pub fn keyed(
        self,
        transaction_id: TransactionId,
        ctx: &RequestContext,
        raw_body: &[u8],
    ) -> KeyedRequest {
        KeyedRequest {
            scope: ctx.provider_id.as_str().to_owned(),
            transaction_id,
            player_id: self.player_id.to_owned(),
            op: self.op,
            kind: self.kind,
            round_id: self.round_id.map(str::to_owned),
            game_id: Some(self.game_id.to_owned()),
            amount: self.amount.cloned(),
            target_transaction_id: self
                .target_transaction_id
                .or(self.reference_transaction_id)
                .map(str::to_owned),
            fingerprint: self.fingerprint(),
            request_body: redacted_body(raw_body),
            request_id: ctx.request_id.clone(),
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        let wire = self.amount.map(Money::to_wire);
        Fingerprint::new()
            .with("op", self.op)
            .with("player_id", self.player_id)
            .with("round_id", self.round_id)
            .with("game_id", self.game_id)
            .with("kind", self.kind)
            .with("amount.value", wire.as_ref().map(|w| w.value.clone()))
            .with("amount.currency", wire.as_ref().map(|w| w.currency.clone()))
            .with("amount.scale", wire.as_ref().map(|w| w.scale))
            .with("reference_transaction_id", self.reference_transaction_id)
            .with("target_transaction_id", self.target_transaction_id)
            .with("round_closed", self.round_closed)
    }
}

/// Reads the player and, on PostgreSQL, locks the row until commit: every operation on one
/// player is serialised, which is what keeps a bet and its racing rollback from both
/// moving money. (SQLite has one writer, so the lock clause is not needed there.)
pub async fn lock_player(
    txn: &DatabaseTransaction,
    player_id: &str,
) -> Result<Option<player::Model>, ServiceError> {
    Ok(player::Entity::find_by_id(player_id)
        .lock_exclusive()
        .one(txn)
        .await?)
}

pub fn declined(code: ErrorCode, message: impl Into<String>, balance: Option<Money>) -> Decision {
    Decision::Declined {
        error: ApiError::new(code, message),
        state: "DECLINED",
        balance,
    }
}

pub fn player_not_found(player_id: &str) -> Decision {
    declined(
        ErrorCode::PlayerNotFound,
        format!("player {player_id} does not exist"),
        None,
    )
}

/// The player's balance as money.
pub fn balance_of(
    currencies: &CurrencyTable,
    player: &player::Model,
) -> Result<Money, ServiceError> {
    player_money(currencies, player).ok_or_else(|| {
        ServiceError::Db(sea_orm::DbErr::Custom(format!(
            "player {} has an unconfigured currency",
            player.id
        )))
    })
}

/// What a bet's checks read: the player (locked until commit on PostgreSQL), the session
/// it names, the round and a tombstone for the bet's id.
pub struct BetContext {
    pub player: player::Model,
    pub session: Option<game_session::Model>,
    pub round: Option<round::Model>,
    pub tombstone: Option<tombstone::Model>,
}

/// The four reads of a bet in one statement (on PostgreSQL after the player's lock): one
/// hand-off to the connection's thread in SQLite's single writer instead of four, two
/// round trips on PostgreSQL instead of four. `None` when the player does not exist.
pub async fn bet_context(
    txn: &DatabaseTransaction,
    keys: BetKeys<'_>,
) -> Result<Option<BetContext>, ServiceError> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        // Lock the player first, in a statement of its own. Under READ COMMITTED the next
        // statement's snapshot is taken after the lock was granted, so it sees what the
        // lock holder committed (a racing rollback's tombstone). A `FOR UPDATE OF p` on
        // the joined statement would re-read only the player's row after waiting and
        // keep the tombstone it did not see before. (SQLite has one writer: no race.)
        let locked = player::Entity::find_by_id(keys.player_id)
            .select_only()
            .column(player::Column::Id)
            .lock_exclusive()
            .into_tuple::<String>()
            .one(txn)
            .await?;
        if locked.is_none() {
            return Ok(None);
        }
    }
    let sql = format!(
        "SELECT {}, {}, {}, {} FROM players p \
         LEFT JOIN game_sessions s ON s.token = $2 \
         LEFT JOIN rounds r ON r.provider_id = $3 AND r.player_id = p.id AND r.round_id = $4 \
         LEFT JOIN tombstones t ON t.provider_id = $3 AND t.transaction_id = $5 \
         WHERE p.id = $1",
        crate::db::aliased_columns::<player::Entity>("p"),
        crate::db::aliased_columns::<game_session::Entity>("s"),
        crate::db::aliased_columns::<round::Entity>("r"),
        crate::db::aliased_columns::<tombstone::Entity>("t"),
    );
    let sql = crate::db::numbered_parameters(backend, sql);
    let values: [sea_orm::Value; 5] = [
        keys.player_id.into(),
        keys.session_token.into(),
        keys.provider_id.into(),
        keys.round_id.into(),
        keys.transaction_id.into(),
    ];
    let Some(row) = txn
        .query_one(Statement::from_sql_and_values(backend, sql, values))
        .await?
    else {
        return Ok(None);
    };
    // A left join that found nothing leaves the row's key NULL.
    let present = |key: &str| row.try_get::<Option<String>>("", key);
    Ok(Some(BetContext {
        player: player::Model::from_query_result(&row, "p_")?,
        session: match present("s_token")? {
            Some(_) => Some(game_session::Model::from_query_result(&row, "s_")?),
            None => None,
        },
        round: match present("r_round_id")? {
            Some(_) => Some(round::Model::from_query_result(&row, "r_")?),
            None => None,
        },
        tombstone: match present("t_transaction_id")? {
            Some(_) => Some(tombstone::Model::from_query_result(&row, "t_")?),
            None => None,
        },
    }))
}

/// The keys a bet's context is read by.
pub struct BetKeys<'a> {
    pub provider_id: &'a str,
    pub player_id: &'a str,
    pub session_token: &'a str,
    pub round_id: &'a str,
    pub transaction_id: &'a str,
}

pub async fn find_round(
    txn: &DatabaseTransaction,
    provider_id: &str,
    player_id: &str,
    round_id: &str,
) -> Result<Option<round::Model>, ServiceError> {
    Ok(round::Entity::find_by_id((
        provider_id.to_owned(),
        player_id.to_owned(),
        round_id.to_owned(),
    ))
    .one(txn)
    .await?)
}

pub fn is_closed(round: &Option<round::Model>) -> bool {
    round.as_ref().is_some_and(|r| r.state == "CLOSED")
}

/// Closes an existing round; an unknown round is not created. Returns whether it exists.
pub async fn close_round(
    txn: &DatabaseTransaction,
    provider_id: &str,
    player_id: &str,
    round_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let Some(existing) = find_round(txn, provider_id, player_id, round_id).await? else {
        return Ok(false);
    };
    if existing.state != "CLOSED" {
        round::Entity::update_many()
            .col_expr(round::Column::State, Expr::value("CLOSED"))
            .col_expr(round::Column::ClosedAt, Expr::value(Some(now)))
            .filter(round::Column::ProviderId.eq(provider_id))
            .filter(round::Column::PlayerId.eq(player_id))
            .filter(round::Column::RoundId.eq(round_id))
            .exec(txn)
            .await?;
    }
    Ok(true)
}

pub async fn find_tombstone(
    txn: &DatabaseTransaction,
    provider_id: &str,
    transaction_id: &str,
) -> Result<Option<tombstone::Model>, ServiceError> {
    Ok(tombstone::Entity::find()
        .filter(tombstone::Column::ProviderId.eq(provider_id))
        .filter(tombstone::Column::TransactionId.eq(transaction_id))
        .one(txn)
        .await?)
}
