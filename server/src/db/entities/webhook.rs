use sea_orm::entity::prelude::*;

/// A webhook subscription (docs/EVENTS.md), with where its delivery stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The HMAC key of its signatures; never returned or logged.
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    /// The event types it receives, as a JSON array (`["*"]` for all).
    #[sea_orm(column_type = "Text")]
    pub types: String,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Every event at or below this position was delivered, skipped (another type) or
    /// is held in `webhook_deliveries`.
    pub dispatched_to: i64,
    /// Events acknowledged by the receiver.
    pub delivered: i64,
    /// The process delivering for this subscription, until `lease_until_ms`.
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
