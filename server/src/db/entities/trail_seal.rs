use sea_orm::entity::prelude::*;

/// One seal of the trail (docs/TRAIL.md).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trail_seals")]
pub struct Model {
    /// The seal's number, from 1 without gaps.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub sealed_at: DateTimeUtc,
    /// Players with at least one posting, and their postings, when the seal was made.
    pub players: i64,
    pub postings: i64,
    /// The Merkle root over every player's leaf, hex.
    pub root: String,
    /// The signed line as appended to the seal file.
    #[sea_orm(column_type = "Text")]
    pub record: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
