use sea_orm::entity::prelude::*;

/// One request to the wallet or operator API, as answered.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub request_id: String,
    pub received_at: DateTimeUtc,
    pub latency_ms: i64,
    pub method: String,
    pub endpoint: String,
    pub provider_id: Option<String>,
    pub key_id: Option<String>,
    pub transaction_id: Option<String>,
    /// Only where it differs from the key's (a conflict); see `attempts::drop_the_keys_copies`.
    #[sea_orm(column_type = "Text", nullable)]
    pub fingerprint: Option<String>,
    /// `VALID`, `INVALID`, `STALE`, or `NONE` (operator API).
    pub signature: String,
    /// `FIRST`, `REPLAY`, `CONFLICT`, `DECLINED`, `REJECTED` or `ERROR`.
    pub outcome: String,
    pub http_status: i32,
    pub error_code: Option<String>,
    /// Empty for a key's first execution (`FIRST`, `DECLINED`): the key's row in
    /// `wallet_transactions` holds its request and answer.
    #[sea_orm(column_type = "Text")]
    pub request_body: String,
    /// Empty for a replay too: its answer is the key's first one with `replayed`, this
    /// attempt's request id and the balance below (see `attempts::stored_once`).
    #[sea_orm(column_type = "Text")]
    pub response_body: String,
    /// The balance a replay answered, in minor units of `balance_currency`.
    pub balance_minor: Option<i64>,
    pub balance_currency: Option<String>,
    /// The request's W3C `traceparent` header, when it had a well-formed one.
    pub traceparent: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
