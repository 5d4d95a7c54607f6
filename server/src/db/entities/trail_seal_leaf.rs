use sea_orm::entity::prelude::*;

/// A player's leaf as a seal recorded it; written only when it changed since the seal
/// before (docs/TRAIL.md).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trail_seal_leaves")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub player_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seal_id: i64,
    /// How many postings the player's chain held.
    pub postings: i64,
    /// The link of the last of them.
    pub head: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
