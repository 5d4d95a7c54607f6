use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tombstones")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider_id: String,
    /// The id of the bet that was rolled back before it arrived.
    #[sea_orm(primary_key, auto_increment = false)]
    pub transaction_id: String,
    pub player_id: String,
    pub rollback_transaction_id: String,
    pub created_at: DateTimeUtc,
    /// When the late bet arrived and was voided.
    pub late_bet_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
