//! The four money operations of the provider API. Each parses its wire request into a
//! validated [`KeyedRequest`] plus its own fields, and decides its outcome as a pure
//! function over the batch's state (`money::Operation`).
mod bet;
mod close_round;
mod rollback;
mod win;

pub use bet::Bet;
pub use close_round::CloseRound;
pub use rollback::{Rollback, StaffAction};
pub use win::Win;

use std::sync::Arc;

use serde_json::Value;

use super::wire::METADATA_MAX_BYTES;
use crate::domain::{CurrencyTable, IdError, Money, OpType, ProviderId, TransactionId, TxState};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{Decision, Fingerprint, KeyedRequest};
use crate::money::model::Player;

/// What every operation needs besides its body.
#[derive(Clone)]
pub struct RequestContext {
    pub provider_id: ProviderId,
    pub currencies: Arc<CurrencyTable>,
    pub request_id: String,
}

/// Parses an id field, naming it in the error.
pub fn parse_id<T>(
    field: &str,
    value: String,
    parse: fn(String) -> Result<T, IdError>,
) -> Result<T, ApiError> {
    parse(value).map_err(|error| ApiError::malformed(format!("{field}: {error}")))
}

/// `metadata` must be a JSON object of at most 4 KiB.
pub fn check_metadata(metadata: &Option<Value>) -> Result<(), ApiError> {
    match metadata {
        None => Ok(()),
        Some(Value::Object(_))
            if serde_json::to_vec(metadata).map_or(0, |v| v.len()) <= METADATA_MAX_BYTES =>
        {
            Ok(())
        }
        Some(Value::Object(_)) => Err(ApiError::malformed(format!(
            "metadata: at most {METADATA_MAX_BYTES} bytes"
        ))),
        Some(_) => Err(ApiError::malformed("metadata: must be a JSON object")),
    }
}

/// A request body as the key's record and the trace store it: secret fields redacted
/// (the handlers get this from their one parse, `http::parse_json_redacted`).
pub fn redacted_body(raw: &[u8]) -> String {
    match serde_json::from_slice::<Value>(raw) {
        Ok(mut value) => {
            crate::attempts::redact(&mut value);
            value.to_string()
        }
        _ => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// Every operation's fingerprint has the same fields, absent ones as null, so that a key
/// reused by another operation type shows exactly which fields differ.
pub struct KeyFields<'a> {
    pub op: OpType,
    pub player_id: &'a str,
    pub round_id: Option<&'a str>,
    pub game_id: &'a str,
    pub kind: Option<&'static str>,
    pub amount: Option<&'a Money>,
    pub reference_transaction_id: Option<&'a str>,
    pub target_transaction_id: Option<&'a str>,
    pub round_closed: bool,
}

impl KeyFields<'_> {
    /// The key store's view of the request: scope, key, fingerprint, and the columns the
    /// trace shows.
    pub fn keyed(
        self,
        transaction_id: TransactionId,
        ctx: &RequestContext,
        request_body: String,
    ) -> KeyedRequest {
        KeyedRequest {
            scope: ctx.provider_id.as_str().to_owned(),
            transaction_id,
            player_id: self.player_id.to_owned(),
            op: self.op,
            kind: self.kind,
            round_id: self.round_id.map(str::to_owned),
            game_id: Some(self.game_id.to_owned()),
            amount: self.amount.cloned(),
            target_transaction_id: self
                .target_transaction_id
                .or(self.reference_transaction_id)
                .map(str::to_owned),
            fingerprint: self.fingerprint(),
            request_body,
            request_id: ctx.request_id.clone(),
            packed: Default::default(),
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        let wire = self.amount.map(Money::to_wire);
        Fingerprint::new()
            .with("op", self.op.as_str())
            .with("player_id", self.player_id)
            .with("round_id", self.round_id)
            .with("game_id", self.game_id)
            .with("kind", self.kind)
            .with("amount.value", wire.as_ref().map(|w| w.value.clone()))
            .with("amount.currency", wire.as_ref().map(|w| w.currency.clone()))
            .with("amount.scale", wire.as_ref().map(|w| w.scale))
            .with("reference_transaction_id", self.reference_transaction_id)
            .with("target_transaction_id", self.target_transaction_id)
            .with("round_closed", self.round_closed)
    }
}

pub fn declined(code: ErrorCode, message: impl Into<String>, balance: Option<Money>) -> Decision {
    Decision::Declined {
        error: ApiError::new(code, message),
        state: TxState::Declined,
        balance,
    }
}

pub fn player_not_found(player_id: &str) -> Decision {
    declined(
        ErrorCode::PlayerNotFound,
        format!("player {player_id} does not exist"),
        None,
    )
}

/// The player's balance as money.
pub fn balance_of(currencies: &CurrencyTable, player: &Player) -> Result<Money, ServiceError> {
    crate::money::money(currencies, &player.currency, player.balance_minor).ok_or_else(|| {
        ServiceError::Bug(format!(
            "player {} has an unconfigured currency {}",
            player.id, player.currency
        ))
    })
}
