use sea_orm::entity::prelude::*;

/// The attempts of one minute with one (provider, endpoint, outcome, status, error code,
/// currency), summed. Empty strings stand for "none" in the key columns.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attempt_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute_unix_s: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub endpoint: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub outcome: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub http_status: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub error_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency: String,
    pub count: i64,
    pub amount_minor_sum: i64,
    pub latency_ms_sum: i64,
    pub latency_ms_max: i64,
    pub latency_le1_ms: i64,
    pub latency_le2_ms: i64,
    pub latency_le5_ms: i64,
    pub latency_le10_ms: i64,
    pub latency_le20_ms: i64,
    pub latency_le50_ms: i64,
    pub latency_le100_ms: i64,
    pub latency_le200_ms: i64,
    pub latency_le500_ms: i64,
    pub latency_le1000_ms: i64,
    pub latency_le2000_ms: i64,
    pub latency_le5000_ms: i64,
    pub latency_over5000_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
