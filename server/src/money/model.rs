//! The rows a batch decides over, as loaded from the database and parsed once.
use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::domain::{CurrencyTable, OpType, PlayerStatus, RoundState, TxState};
use crate::idempotency::AnswerColumns;

/// A player as the batch holds it: loaded (and on PostgreSQL locked) once, then moved by
/// every posting of the batch in arrival order.
#[derive(Debug, Clone)]
pub struct Player {
    pub id: String,
    pub currency: String,
    pub status: PlayerStatus,
    pub balance_minor: i64,
    /// The head of the player's hash chain (`None` before the first posting).
    pub ledger_head: Option<String>,
    /// The balance as loaded: the write is a compare-and-set on it.
    pub loaded_balance_minor: i64,
    /// How many `money.moved` events the player has had (the last one's `sequence`).
    pub event_sequence: i64,
    /// Whether the batch posted to the player (its row is written back).
    pub posted: bool,
}

/// One idempotency key's row: what a replay, a win's bet lookup and a rollback's target
/// check read.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: i64,
    pub player_id: String,
    pub op: OpType,
    pub kind: Option<String>,
    pub round_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub state: TxState,
    pub http_status: i32,
    /// The fingerprint's JSON, compared field by field on a replay.
    pub fingerprint: String,
    /// The first answer's body exactly as sent; empty when the row keeps none and
    /// `columns` rebuild it.
    pub response_body: String,
    pub columns: Option<Box<AnswerColumns>>,
}

impl KeyRow {
    /// The key's first answer exactly as sent.
    pub fn first_body(&self, currencies: &CurrencyTable) -> Cow<'_, str> {
        match &self.columns {
            Some(columns) => columns.first_body(&self.response_body, currencies),
            None => Cow::Borrowed(&self.response_body),
        }
    }
}

/// A game session, as a bet checks it.
#[derive(Debug, Clone)]
pub struct Session {
    pub player_id: String,
    pub provider_id: String,
    pub game_id: String,
    pub superseded: bool,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Round {
    pub game_id: String,
    pub state: RoundState,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A rollback that arrived before its bet.
#[derive(Debug, Clone)]
pub struct Tombstone {
    pub player_id: String,
    pub rollback_transaction_id: String,
    pub created_at: DateTime<Utc>,
    pub late_bet_at: Option<DateTime<Utc>>,
}
