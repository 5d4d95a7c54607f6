//! Game sessions: the operator opens one per player, provider and game; bets need a live
//! one (docs/API.md, "Bet"). The PAM adapter reads them by token and refreshes them
//! (docs/PAM.md).
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};

use super::wire::SessionView;
use crate::db::entities::{game_session, player, provider};
use crate::db::Store;
use crate::domain::{GameId, PlayerId, PlayerStatus, ProviderId};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::format_time;

const TTL_SECONDS: std::ops::RangeInclusive<i64> = 1..=604_800;
const DEFAULT_TTL_SECONDS: i64 = 3600;

pub struct NewSession {
    pub player_id: PlayerId,
    pub provider_id: ProviderId,
    pub game_id: GameId,
    pub ttl_seconds: Option<i64>,
}

/// Opens a game session; a newer session for the same player, provider and game
/// supersedes the older ones for bets.
pub async fn create_session(
    store: &Store,
    session: NewSession,
) -> Result<SessionView, ServiceError> {
    let ttl = session.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !TTL_SECONDS.contains(&ttl) {
        return Err(ApiError::malformed("ttl_seconds: 1–604800").into());
    }
    let token = new_session_token();
    let session = Arc::new(session);
    let token_for_write = Arc::new(token.clone());
    let expires_at = store
        .write(Box::new(move |txn| {
            let (session, token) = (session.clone(), token_for_write.clone());
            Box::pin(async move { write_session(txn, &session, &token, ttl).await })
        }))
        .await?;
    Ok(SessionView {
        session_token: token,
        expires_at: format_time(expires_at),
    })
}

/// A game session's token: 160 random bits as 40 hex digits, the longest the PAM's
/// schema takes (32 to 40 characters, docs/PAM.md), and plenty against guessing.
fn new_session_token() -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

async fn write_session(
    txn: &DatabaseTransaction,
    session: &NewSession,
    token: &str,
    ttl_seconds: i64,
) -> Result<DateTime<Utc>, ServiceError> {
    let now = Utc::now();
    let player = player::Entity::find_by_id(session.player_id.as_str())
        .one(txn)
        .await?;
    let Some(player) = player else {
        return Err(ApiError::new(
            ErrorCode::PlayerNotFound,
            format!("player {} does not exist", session.player_id),
        )
        .into());
    };
    if player.status == PlayerStatus::Blocked.as_str() {
        return Err(ApiError::new(ErrorCode::PlayerBlocked, "the player is blocked").into());
    }
    if provider::Entity::find_by_id(session.provider_id.as_str())
        .one(txn)
        .await?
        .is_none()
    {
        return Err(ApiError::new(
            ErrorCode::ProviderNotFound,
            format!("provider {} does not exist", session.provider_id),
        )
        .into());
    }
    game_session::Entity::update_many()
        .col_expr(game_session::Column::Superseded, Expr::value(true))
        .filter(game_session::Column::PlayerId.eq(session.player_id.as_str()))
        .filter(game_session::Column::ProviderId.eq(session.provider_id.as_str()))
        .filter(game_session::Column::GameId.eq(session.game_id.as_str()))
        .filter(game_session::Column::Superseded.eq(false))
        .exec(txn)
        .await?;
    let expires_at = now + Duration::seconds(ttl_seconds);
    game_session::Entity::insert(game_session::ActiveModel {
        token: Set(token.to_owned()),
        player_id: Set(session.player_id.as_str().to_owned()),
        provider_id: Set(session.provider_id.as_str().to_owned()),
        game_id: Set(session.game_id.as_str().to_owned()),
        superseded: Set(false),
        created_at: Set(now),
        expires_at: Set(expires_at),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(expires_at)
}

/// The session of this token, whatever its state.
pub async fn find(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<game_session::Model>, ServiceError> {
    Ok(game_session::Entity::find_by_id(token).one(db).await?)
}

/// Whether a session still lets its player bet: not expired, not replaced.
pub fn is_live(session: &game_session::Model, now: DateTime<Utc>) -> bool {
    !session.superseded && session.expires_at > now
}

/// Replaces a live session by a new one with a new token, for the same player, provider
/// and game, ending when the old one would have: a refresh renews the token, not the
/// session's life. The old token stops working at once (it is superseded). `None` when
/// the token names no live session.
pub async fn refresh(
    store: &Store,
    token: String,
) -> Result<Option<game_session::Model>, ServiceError> {
    let token = Arc::new(token);
    store
        .write(Box::new(move |txn| {
            let token = token.clone();
            Box::pin(async move { write_refresh(txn, &token).await })
        }))
        .await
}

async fn write_refresh(
    txn: &DatabaseTransaction,
    token: &str,
) -> Result<Option<game_session::Model>, ServiceError> {
    let now = Utc::now();
    let old = game_session::Entity::find_by_id(token)
        .lock_exclusive()
        .one(txn)
        .await?;
    let Some(old) = old.filter(|session| is_live(session, now)) else {
        return Ok(None);
    };
    game_session::Entity::update_many()
        .col_expr(game_session::Column::Superseded, Expr::value(true))
        .filter(game_session::Column::Token.eq(token))
        .exec(txn)
        .await?;
    let new = game_session::Model {
        token: new_session_token(),
        created_at: now,
        ..old
    };
    game_session::Entity::insert(game_session::ActiveModel::from(new.clone()))
        .exec_without_returning(txn)
        .await?;
    Ok(Some(new))
}
