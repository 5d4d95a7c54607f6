use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: String,
    pub provider_id: String,
    pub secret: String,
    pub created_at: DateTimeUtc,
    /// When the key last signed a request that verified; a few seconds late.
    pub last_used_at: Option<DateTimeUtc>,
}

// Written by hand so that the secret never reaches a log line.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKey")
            .field("key_id", &self.key_id)
            .field("provider_id", &self.provider_id)
            .field("secret", &"[redacted]")
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
