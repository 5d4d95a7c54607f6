use sea_orm::entity::prelude::*;

/// One finding of reconciliation, internal or from a provider statement. Unique by
/// (kind, subject_type, subject_id): a re-run updates `last_seen_at`, never adds a row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "discrepancies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    /// `CRITICAL`, `WARNING` or `INFO`.
    pub severity: String,
    /// `PLAYER`, `TRANSACTION`, `ROUND` or `REPORT`.
    pub subject_type: String,
    pub subject_id: String,
    pub provider_id: Option<String>,
    /// What was seen, as JSON.
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// `OPEN`, `ACKNOWLEDGED` or `RESOLVED`.
    pub status: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub resolution_note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
