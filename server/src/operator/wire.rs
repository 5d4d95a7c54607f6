//! The operator API's bodies as they travel.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::WireMoney;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlayerStatus {
    Active,
    /// Bets are refused; wins, rollbacks and round closes still settle.
    Blocked,
}

impl PlayerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayerStatus::Active => "ACTIVE",
            PlayerStatus::Blocked => "BLOCKED",
        }
    }
}

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
    pub name: String,
    /// The provider's complete key set; keys not listed are revoked.
    pub keys: Vec<ProviderKeyRequest>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyRequest {
    pub key_id: String,
    /// 16–256 characters. Never returned or logged.
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
    /// Required when creating; can never change afterwards.
    pub currency: Option<String>,
    /// `ACTIVE` on creation when omitted; unchanged on update when omitted.
    pub status: Option<PlayerStatus>,
}

/// `POST /operator/v1/players/{player_id}/adjustments`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// The idempotency key of the adjustment, unique across all players.
    pub adjustment_id: String,
    pub direction: Direction,
    pub amount: WireMoney,
    pub reason: Option<String>,
}

/// `POST /operator/v1/providers/{provider_id}/transactions/{transaction_id}/refund`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// The idempotency key of this refund (1–112 characters of `[A-Za-z0-9._:-]`).
    pub refund_id: String,
    /// Why the bet is refunded; kept in the staff audit log.
    pub reason: String,
    /// The person asking, for the audit log; `operator-api` when omitted.
    pub requested_by: Option<String>,
}

/// `POST /operator/v1/sessions`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub player_id: String,
    pub provider_id: String,
    pub game_id: String,
    /// 1–604800; 3600 when omitted.
    pub ttl_seconds: Option<i64>,
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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub session_token: String,
    pub expires_at: String,
}
