//! Which keys a studio sent under one bet reference (`providerBetRef`), for the PAM's
//! lookup by it (docs/PAM.md, "Lookups"). A reference is recorded before its operation
//! runs, in a write of its own: the lookup reads it joined with the keys that took effect,
//! so a reference whose operation was refused, or never committed, names nothing.
use std::sync::Arc;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::pam_bet_ref;
use crate::db::Store;
use crate::error::ServiceError;

/// One key under a reference.
#[derive(Debug, Clone)]
pub struct BetRef {
    pub provider_id: String,
    pub bet_ref: String,
    pub transaction_id: String,
    pub player_id: String,
}

/// Records a call's bet references in one write (none: no write); recording one again
/// changes nothing.
pub async fn record(store: &Store, bet_refs: Vec<BetRef>) -> Result<(), ServiceError> {
    if bet_refs.is_empty() {
        return Ok(());
    }
    let bet_refs = Arc::new(bet_refs);
    store
        .write(Box::new(move |txn| {
            let bet_refs = bet_refs.clone();
            Box::pin(async move {
                let now = Utc::now();
                let rows = bet_refs.iter().map(|bet_ref| pam_bet_ref::ActiveModel {
                    provider_id: Set(bet_ref.provider_id.clone()),
                    bet_ref: Set(bet_ref.bet_ref.clone()),
                    transaction_id: Set(bet_ref.transaction_id.clone()),
                    player_id: Set(bet_ref.player_id.clone()),
                    created_at: Set(now),
                });
                pam_bet_ref::Entity::insert_many(rows)
                    .on_conflict(
                        OnConflict::columns([
                            pam_bet_ref::Column::ProviderId,
                            pam_bet_ref::Column::BetRef,
                            pam_bet_ref::Column::TransactionId,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .do_nothing()
                    .exec(txn)
                    .await?;
                Ok(())
            })
        }))
        .await
}

/// The keys recorded under `bet_ref` for this player.
pub async fn keys(
    db: &impl ConnectionTrait,
    provider_id: &str,
    bet_ref: &str,
    player_id: &str,
) -> Result<Vec<String>, ServiceError> {
    Ok(pam_bet_ref::Entity::find()
        .select_only()
        .column(pam_bet_ref::Column::TransactionId)
        .filter(pam_bet_ref::Column::ProviderId.eq(provider_id))
        .filter(pam_bet_ref::Column::BetRef.eq(bet_ref))
        .filter(pam_bet_ref::Column::PlayerId.eq(player_id))
        .into_tuple()
        .all(db)
        .await?)
}
