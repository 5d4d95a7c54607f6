use sea_orm::entity::prelude::*;

/// A key a studio sent under a bet reference (PAM `providerBetRef`, docs/PAM.md).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pam_bet_refs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bet_ref: String,
    /// The key in the provider's key space (`wallet_transactions.transaction_id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub transaction_id: String,
    pub player_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
