use sea_orm::entity::prelude::*;

/// An event a subscriber has not acknowledged: being retried, waiting behind an earlier
/// event of the same player, or dead (docs/EVENTS.md).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub webhook_id: String,
    /// The outbox row's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: i64,
    pub position: i64,
    /// `None` for finding events, which wait for no one.
    pub player_id: Option<String>,
    /// `PENDING` or `DEAD`.
    pub state: String,
    pub attempts: i32,
    /// Unix ms of the first try; `None` while it waits behind another event.
    pub first_attempt_ms: Option<i64>,
    pub next_attempt_ms: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
