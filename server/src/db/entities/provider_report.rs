use sea_orm::entity::prelude::*;

/// A provider's statement (docs/API.md, "Statements from providers") and the answer it got;
/// a re-upload returns `result`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub report_id: String,
    pub period_start: DateTimeUtc,
    pub period_end: DateTimeUtc,
    pub uploaded_at: DateTimeUtc,
    /// Reported transactions.
    pub rows: i64,
    pub matched: i64,
    /// `report_id`, `matched` and `discrepancies` as first answered, JSON.
    #[sea_orm(column_type = "Text")]
    pub result: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
