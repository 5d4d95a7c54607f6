use sea_orm::entity::prelude::*;

/// One idempotency key and what it did: the row is claimed, the money moves and the first
/// answer is stored, all in one database transaction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wallet_transactions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The provider id, or `@operator` for cashier adjustments.
    pub scope: String,
    pub transaction_id: String,
    /// `BET`, `WIN`, `ROLLBACK`, `CLOSE_ROUND` or `ADJUSTMENT`.
    pub op: String,
    pub kind: Option<String>,
    pub player_id: String,
    pub round_id: Option<String>,
    pub game_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    /// The rollback's target, or the win's reference.
    pub target_transaction_id: Option<String>,
    /// JSON of the fields that must match for a replay.
    #[sea_orm(column_type = "Text")]
    pub fingerprint: String,
    /// The current state (a bet moves on to `SETTLED` or `ROLLED_BACK`).
    pub state: String,
    pub outcome: Option<String>,
    pub error_code: Option<String>,
    /// The first answer's HTTP status; replays return it again.
    pub http_status: i32,
    /// The first answer's body exactly as sent; empty for a bet or win, whose answer is
    /// rebuilt from the columns (`idempotency::AnswerColumns`).
    #[sea_orm(column_type = "Text")]
    pub response_body: String,
    /// The first request's body, secrets redacted; empty when `request_packed` holds it
    /// (`idempotency::request_of` reads either).
    #[sea_orm(column_type = "Text")]
    pub request_body: String,
    pub request_id: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The player's balance after an operation that took effect.
    pub balance_after_minor: Option<i64>,
    /// The first request compressed (`idempotency::packed_request`).
    pub request_packed: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
