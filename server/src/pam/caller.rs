//! Who a PAM request comes from: the studio named by `provider` (the wallet's provider of
//! that name) and the player session of `X-Player-Token`, which must be that studio's and,
//! on a player's path, that player's (docs/PAM.md, "Sessions").
use chrono::Utc;
use sea_orm::ConnectionTrait;

use super::errors::{PamCode, PamError};
use crate::db::entities::game_session;
use crate::domain::{PlayerId, ProviderId};
use crate::operator::{service, sessions};

/// A request's studio and session, checked.
#[derive(Debug, Clone)]
pub struct Caller {
    pub provider_id: ProviderId,
    pub session: game_session::Model,
}

impl Caller {
    /// The studio named `provider` and the session of `token`. `player_id`, on the paths
    /// that name a player, must be the session's player. Expired or replaced sessions are
    /// taken (what a session started must still settle and be looked up); `require_live`
    /// refuses them.
    pub async fn find(
        db: &impl ConnectionTrait,
        provider: Option<&str>,
        token: Option<&str>,
        player_id: Option<&str>,
    ) -> Result<Caller, PamError> {
        let provider = provider.filter(|p| !p.is_empty()).ok_or_else(|| {
            PamError::bad_request(
                PamCode::MissingProvider,
                "the provider query parameter is required",
            )
        })?;
        let provider_id = service::provider_named(db, provider)
            .await
            .map_err(PamError::from_service)?
            .ok_or_else(|| {
                PamError::bad_request(
                    PamCode::MissingProvider,
                    format!("no provider is named {provider:?}"),
                )
            })?;
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
            PamError::unauthorized(
                PamCode::SessionNotFound,
                "the X-Player-Token header is required",
            )
        })?;
        let session = sessions::find(db, token)
            .await
            .map_err(PamError::from_service)?
            .filter(|session| session.provider_id == provider_id.as_str())
            .ok_or_else(|| {
                PamError::unauthorized(
                    PamCode::SessionNotFound,
                    format!("no session of {provider:?} has this token"),
                )
            })?;
        if let Some(player_id) = player_id {
            if session.player_id != player_id {
                return Err(PamError::unauthorized(
                    PamCode::SessionNotFound,
                    format!("the session is not player {player_id:?}'s"),
                ));
            }
        }
        Ok(Caller {
            provider_id,
            session,
        })
    }

    /// Refuses a session that expired or that a newer one replaced.
    pub fn require_live(self) -> Result<Caller, PamError> {
        if sessions::is_live(&self.session, Utc::now()) {
            Ok(self)
        } else {
            Err(PamError::unauthorized(
                PamCode::SessionExpired,
                "the session expired or was replaced (refreshed, or a newer one opened)",
            ))
        }
    }

    pub fn player_id(&self) -> Result<PlayerId, PamError> {
        PlayerId::parse(self.session.player_id.clone()).map_err(|error| {
            PamError::bad_request(PamCode::Undefined, format!("playerId: {error}"))
        })
    }
}
