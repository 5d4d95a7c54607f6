use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "players")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub currency: String,
    /// `ACTIVE` or `BLOCKED`.
    pub status: String,
    pub balance_minor: i64,
    /// The head of the player's ledger hash chain (`None` before the first posting).
    pub ledger_head: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// ISO 3166-1 alpha-2, for PAM sessions; `None`: the server's default.
    pub country: Option<String>,
    /// ISO 639-1, for PAM sessions; `None`: the server's default.
    pub language: Option<String>,
    /// How many `money.moved` events the player has had (docs/EVENTS.md).
    pub event_sequence: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
