use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "game_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token: String,
    pub player_id: String,
    pub provider_id: String,
    pub game_id: String,
    pub superseded: bool,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

// Written by hand so that session tokens never reach a log line.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameSession")
            .field("player_id", &self.player_id)
            .field("provider_id", &self.provider_id)
            .field("game_id", &self.game_id)
            .field("superseded", &self.superseded)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
