//! The operator API's bodies as they travel.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::WireMoney;

pub use crate::domain::PlayerStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    Credit,
    Debit,
}

/// `PUT /operator/v1/providers/{provider_id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderRequest {
    /// 1–200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// The provider's complete key set (at most 16, each key id once); keys not listed are
    /// revoked.
    #[schema(max_items = 16)]
    pub keys: Vec<ProviderKeyRequest>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyRequest {
    #[schema(value_type = crate::domain::schema::Id)]
    pub key_id: String,
    /// 16–256 bytes of UTF-8. Never returned or logged.
    #[schema(min_length = 16, max_length = 256)]
    pub secret: String,
}

impl std::fmt::Debug for ProviderKeyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeyRequest")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// `PUT /operator/v1/players/{player_id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayerRequest {
    /// Required when creating (a player that does not exist, without it, is
    /// `404 PLAYER_NOT_FOUND`); can never change afterwards.
    #[schema(value_type = Option<crate::domain::schema::CurrencyCode>)]
    pub currency: Option<String>,
    /// `ACTIVE` on creation when omitted; unchanged on update when omitted.
    pub status: Option<PlayerStatus>,
    /// ISO 3166-1 alpha-2, upper case (`MT`), as a PAM session answers it; the server's
    /// default (`WALLET_DEFAULT_COUNTRY`) until set; unchanged on update when omitted.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: Option<String>,
    /// ISO 639-1 (`en`; upper case is taken and stored in lower case); the server's
    /// default (`WALLET_DEFAULT_LANGUAGE`) until set; unchanged on update when omitted.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub language: Option<String>,
}

/// `POST /operator/v1/players/{player_id}/adjustments`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// The idempotency key of the adjustment, unique across all players.
    #[schema(value_type = crate::domain::schema::Id)]
    pub adjustment_id: String,
    pub direction: Direction,
    pub amount: WireMoney,
    /// At most 1024 bytes of UTF-8.
    #[schema(max_length = 1024)]
    pub reason: Option<String>,
}

/// `POST /operator/v1/providers/{provider_id}/transactions/{transaction_id}/refund`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// The idempotency key of this refund (1–112 characters of `[A-Za-z0-9._:-]`).
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,112}$")]
    pub refund_id: String,
    /// Why the bet is refunded (not blank, at most 1024 bytes of UTF-8); kept in the staff
    /// audit log.
    #[schema(min_length = 1, max_length = 1024, pattern = "\\S")]
    pub reason: String,
    /// The person asking, for the audit log (1–128 characters, not blank);
    /// `operator-api` when omitted.
    #[schema(min_length = 1, max_length = 128, pattern = "\\S")]
    pub requested_by: Option<String>,
}

/// `POST /operator/v1/sessions`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    #[schema(value_type = crate::domain::schema::Id)]
    pub player_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub provider_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub game_id: String,
    /// Seconds, 1–604800; 3600 when omitted.
    #[schema(minimum = 1, maximum = 604_800)]
    #[serde(default, deserialize_with = "whole_number")]
    pub ttl_seconds: Option<i64>,
}

/// A whole number as JSON has it: `3600` and `3600.0` are the same number (and the same
/// JSON Schema `integer`); `3600.5` is not a whole number and is refused.
fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(whole) = number.as_i64() {
        return Ok(Some(whole));
    }
    match number.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => Ok(Some(float as i64)),
        _ => Err(D::Error::custom(format!("{number} is not a whole number"))),
    }
}

/// A provider as `GET /operator/v1/providers` lists it: its keys, never their secrets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderListing {
    pub provider_id: String,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    pub keys: Vec<KeyListing>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyListing {
    pub key_id: String,
    /// RFC 3339: when the key was added.
    pub created_at: String,
    /// RFC 3339: when it last signed a request that verified (to the second, written a few
    /// seconds late on other servers); `null` if never.
    pub last_used_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub provider_id: String,
    pub name: String,
    pub key_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlayerView {
    pub player_id: String,
    pub currency: String,
    pub status: String,
    pub balance: WireMoney,
    /// `null` until set: PAM sessions then answer the server's default.
    pub country: Option<String>,
    /// `null` until set: PAM sessions then answer the server's default.
    pub language: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub session_token: String,
    pub expires_at: String,
}

/// `GET /operator/v1/providers`
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    #[schema(pattern = "^OK$")]
    pub status: String,
    /// By id.
    pub providers: Vec<ProviderListing>,
    pub request_id: String,
}

/// `PUT /operator/v1/providers/{provider_id}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderAnswer {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub provider: ProviderView,
    pub request_id: String,
}

/// `PUT` and `GET /operator/v1/players/{player_id}`
#[derive(Debug, Serialize, ToSchema)]
pub struct PlayerAnswer {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub player: PlayerView,
    pub request_id: String,
}

/// `POST /operator/v1/sessions`
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionAnswer {
    #[schema(pattern = "^OK$")]
    pub status: String,
    /// Sent by the game with each bet.
    pub session_token: String,
    /// RFC 3339.
    pub expires_at: String,
    pub request_id: String,
}
