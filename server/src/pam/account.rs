//! The player's side of the PAM (docs/PAM.md): the session's details and its refresh, the
//! balance, and a game round.
use sea_orm::ConnectionTrait;

use super::caller::Caller;
use super::errors::{PamCode, PamError};
use super::transactions::pam_balance;
use super::wire::{Balance, GameRound, Session};
use crate::db::entities::{game_session, player};
use crate::db::Store;
use crate::domain::{CurrencyTable, PlayerId};
use crate::idempotency::format_time;
use crate::money::player_money;
use crate::operator::sessions;
use crate::wallet::lookups;

/// What a session answer says of a player whose country or language the operator never
/// set (`WALLET_DEFAULT_COUNTRY`, `WALLET_DEFAULT_LANGUAGE`).
#[derive(Debug, Clone)]
pub struct LocaleDefaults {
    pub country: String,
    pub language: String,
}

impl Default for LocaleDefaults {
    fn default() -> LocaleDefaults {
        LocaleDefaults {
            country: DEFAULT_COUNTRY.to_owned(),
            language: DEFAULT_LANGUAGE.to_owned(),
        }
    }
}

pub const DEFAULT_COUNTRY: &str = "MT";
pub const DEFAULT_LANGUAGE: &str = "en";

/// `GET /players/session`: the session's details.
pub async fn session(
    db: &impl ConnectionTrait,
    defaults: &LocaleDefaults,
    caller: &Caller,
) -> Result<Session, PamError> {
    let player = player_of(db, &caller.session.player_id).await?;
    Ok(session_answer(&caller.session, &player, defaults))
}

/// `PUT /players/session`: a new token for the same session; the old one stops working.
pub async fn refresh(
    store: &Store,
    defaults: &LocaleDefaults,
    caller: &Caller,
) -> Result<Session, PamError> {
    let new = sessions::refresh(store, caller.session.token.clone())
        .await
        .map_err(PamError::from_service)?
        .ok_or_else(|| {
            PamError::unauthorized(
                PamCode::SessionExpired,
                "the session expired or was replaced",
            )
        })?;
    let player = player_of(store.reader(), &new.player_id).await?;
    Ok(session_answer(&new, &player, defaults))
}

fn session_answer(
    session: &game_session::Model,
    player: &player::Model,
    defaults: &LocaleDefaults,
) -> Session {
    Session {
        player_id: player.id.clone(),
        token: session.token.clone(),
        currency: player.currency.clone(),
        country: player
            .country
            .clone()
            .unwrap_or_else(|| defaults.country.clone()),
        language: player
            .language
            .clone()
            .unwrap_or_else(|| defaults.language.clone()),
        game_id: session.game_id.clone(),
    }
}

/// `GET /players/{playerId}/balance`: the player's cash, from the ledger's balance.
pub async fn balance(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    caller: &Caller,
) -> Result<Balance, PamError> {
    let player = player_of(db, &caller.session.player_id).await?;
    let currency = currencies.currency(&player.currency).map_err(|_| {
        PamError::refused(
            PamCode::Undefined,
            "the player's currency is not configured",
        )
    })?;
    Ok(pam_balance(
        player_money(currencies, &player).as_ref(),
        &currency,
    ))
}

/// `GET /players/{playerId}/gamerounds/{roundId}`: a round of this studio's.
pub async fn round(
    db: &impl ConnectionTrait,
    caller: &Caller,
    round_id: &str,
) -> Result<GameRound, PamError> {
    let found = lookups::round_row(
        db,
        caller.provider_id.as_str(),
        &caller.session.player_id,
        round_id,
    )
    .await
    .map_err(PamError::from_service)?
    .ok_or_else(|| {
        PamError::refused(
            PamCode::RoundNotFound,
            format!("no round {round_id:?} for this player"),
        )
    })?;
    Ok(GameRound {
        provider_game_id: found.game_id,
        provider_round_id: found.round_id,
        start_time: format_time(found.opened_at),
        end_time: found.closed_at.map(format_time),
    })
}

async fn player_of(db: &impl ConnectionTrait, player_id: &str) -> Result<player::Model, PamError> {
    let id = PlayerId::parse(player_id.to_owned())
        .map_err(|error| PamError::bad_request(PamCode::Undefined, format!("playerId: {error}")))?;
    lookups::player(db, &id)
        .await
        .map_err(PamError::from_service)?
        .ok_or_else(|| {
            PamError::refused(PamCode::PlayerNotFound, format!("no player {player_id:?}"))
        })
}
