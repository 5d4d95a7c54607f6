use sea_orm::entity::prelude::*;

/// How far the reconciliation job verified one player's hash chain.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trail_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub player_id: String,
    /// The last verified ledger entry of the player (0: none, or the chain is broken).
    pub entry_id: i64,
    /// That entry's link (the genesis link with entry 0).
    pub chain_hash: String,
    /// Where the chain broke (`None` with a reason: at the head).
    pub broken_entry_id: Option<i64>,
    /// Why the chain does not verify; `None` while it does.
    #[sea_orm(column_type = "Text", nullable)]
    pub broken_reason: Option<String>,
    /// The sum of the player's entries up to `entry_id`, as the walk that verified them
    /// added it up; `None` when the money was not verified that far (the next run walks
    /// the player from the start).
    pub balance_minor: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
