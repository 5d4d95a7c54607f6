use sea_orm::entity::prelude::*;

/// One side of a double-entry posting. Append-only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub wallet_transaction_id: i64,
    /// `player:<id>`, `provider:<id>:<CUR>` or `operator:cashier:<CUR>`.
    pub account: String,
    pub currency: String,
    /// Signed: a bet is negative on the player's account and positive on the provider's.
    pub amount_minor: i64,
    /// The player's balance after this entry (player accounts only).
    pub balance_after_minor: Option<i64>,
    /// On the player entry of a posting: the player's hash chain link.
    pub chain_hash: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
