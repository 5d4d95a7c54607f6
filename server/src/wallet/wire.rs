//! The provider API's request bodies as they travel, before parsing into domain types.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::WireMoney;

/// Largest `metadata` object accepted, serialised, in bytes.
pub const METADATA_MAX_BYTES: usize = 4096;
/// Largest rollback `reason` accepted, in bytes.
pub const REASON_MAX_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BetKind {
    Bet,
    /// Recorded, but moves no money.
    FreeBet,
}

impl BetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BetKind::Bet => "BET",
            BetKind::FreeBet => "FREE_BET",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WinKind {
    Win,
    FreeWin,
    /// Needs no bet; accepted after the round closed.
    JackpotWin,
    /// Needs no bet; accepted after the round closed.
    PromoWin,
}

impl WinKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WinKind::Win => "WIN",
            WinKind::FreeWin => "FREE_WIN",
            WinKind::JackpotWin => "JACKPOT_WIN",
            WinKind::PromoWin => "PROMO_WIN",
        }
    }

    /// Wins that settle a bet and so need one.
    pub fn needs_bet(self) -> bool {
        matches!(self, WinKind::Win | WinKind::FreeWin)
    }
}

/// `POST /wallet/v1/balance`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceRequest {
    pub player_id: String,
    pub currency: String,
}

/// `POST /wallet/v1/bet`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BetRequest {
    pub transaction_id: String,
    pub player_id: String,
    pub round_id: String,
    pub game_id: String,
    pub session_token: String,
    pub amount: WireMoney,
    /// `BET` when omitted.
    pub kind: Option<BetKind>,
    /// Closes the round after this bet; `false` when omitted.
    pub round_closed: Option<bool>,
    /// A JSON object of at most 4 KiB, stored and shown, never interpreted.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `POST /wallet/v1/win`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WinRequest {
    pub transaction_id: String,
    pub player_id: String,
    /// Required except for `PROMO_WIN` and `JACKPOT_WIN`.
    pub round_id: Option<String>,
    pub game_id: String,
    pub amount: WireMoney,
    /// `WIN` when omitted.
    pub kind: Option<WinKind>,
    /// The bet this win settles; without it, every open bet of the round.
    pub reference_transaction_id: Option<String>,
    pub round_closed: Option<bool>,
    /// Accepted and ignored: sessions gate bets only.
    pub session_token: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `POST /wallet/v1/rollback`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub transaction_id: String,
    pub player_id: String,
    pub round_id: String,
    pub game_id: String,
    /// The bet to cancel.
    pub target_transaction_id: String,
    /// What the provider thinks the bet was; the refund is always the bet's own amount.
    pub amount_hint: Option<WireMoney>,
    pub reason: Option<String>,
    pub round_closed: Option<bool>,
    /// Accepted and ignored: sessions gate bets only.
    pub session_token: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `POST /wallet/v1/rounds/close`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRoundRequest {
    pub transaction_id: String,
    pub player_id: String,
    pub round_id: String,
    pub game_id: String,
    /// Accepted and ignored.
    pub round_closed: Option<bool>,
    /// Accepted and ignored: sessions gate bets only.
    pub session_token: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// The answer to a money operation (success, decline or replay).
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationResponse {
    /// `OK` or `ERROR`.
    pub status: String,
    /// `true` when this is the stored answer of an earlier request with the same key.
    pub replayed: bool,
    /// Present when `status` is `ERROR`.
    pub error: Option<ErrorObject>,
    /// The transaction as it was when first answered.
    #[schema(value_type = Object)]
    pub transaction: Value,
    /// The player's balance now.
    pub balance: Option<WireMoney>,
    pub request_id: String,
}

/// The answer to a balance request.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceResponse {
    pub status: String,
    pub player_id: String,
    pub balance: WireMoney,
    pub request_id: String,
}

/// The contract's error object.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    pub code: crate::error::ErrorCode,
    pub retryable: bool,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

/// An error answer (requests that were not recorded).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub status: String,
    pub replayed: bool,
    pub error: ErrorObject,
    pub request_id: String,
}
