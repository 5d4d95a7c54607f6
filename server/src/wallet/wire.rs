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
    #[schema(value_type = crate::domain::schema::Id)]
    pub player_id: String,
    #[schema(value_type = crate::domain::schema::CurrencyCode)]
    pub currency: String,
}

/// `POST /wallet/v1/bet`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BetRequest {
    #[schema(value_type = crate::domain::schema::Id)]
    pub transaction_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub player_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub round_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
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
    #[schema(value_type = crate::domain::schema::Id)]
    pub transaction_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub player_id: String,
    /// Required except for `PROMO_WIN` and `JACKPOT_WIN`.
    #[schema(value_type = Option<crate::domain::schema::Id>)]
    pub round_id: Option<String>,
    #[schema(value_type = crate::domain::schema::Id)]
    pub game_id: String,
    pub amount: WireMoney,
    /// `WIN` when omitted.
    pub kind: Option<WinKind>,
    /// The bet this win settles; without it, every open bet of the round.
    #[schema(value_type = Option<crate::domain::schema::Id>)]
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
    #[schema(value_type = crate::domain::schema::Id)]
    pub transaction_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub player_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub round_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub game_id: String,
    /// The bet to cancel.
    #[schema(value_type = crate::domain::schema::Id)]
    pub target_transaction_id: String,
    /// What the provider thinks the bet was; the refund is always the bet's own amount.
    pub amount_hint: Option<WireMoney>,
    /// At most 1024 bytes (UTF-8).
    #[schema(max_length = 1024)]
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
    #[schema(value_type = crate::domain::schema::Id)]
    pub transaction_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub player_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub round_id: String,
    #[schema(value_type = crate::domain::schema::Id)]
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
    /// `OK` on a 200; `ERROR` on a recorded decline (4xx), replayed with its status.
    #[schema(pattern = "^(OK|ERROR)$")]
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
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub player_id: String,
    pub balance: WireMoney,
    pub request_id: String,
}

/// The contract's error object.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    pub code: crate::error::ErrorCode,
    /// Whether sending the same request again may succeed.
    pub retryable: bool,
    pub message: String,
    /// Per code: the differing fields of an IDEMPOTENCY_CONFLICT, a statement's bad rows, …
    #[schema(value_type = Object)]
    pub details: Value,
}

/// Every error answer: a refusal (not recorded), or a recorded decline of a money
/// operation, which also carries the transaction and, when the player exists, the balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    #[schema(pattern = "^ERROR$")]
    pub status: String,
    /// `true` when a recorded decline is answered again.
    pub replayed: bool,
    pub error: ErrorObject,
    /// Recorded declines only.
    #[schema(value_type = Option<Object>)]
    pub transaction: Option<Value>,
    /// Recorded declines of an existing player only.
    pub balance: Option<WireMoney>,
    pub request_id: String,
}

/// `GET /wallet/v1/transactions/{transaction_id}`
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionLookupResponse {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub lookup: TransactionLookup,
    pub request_id: String,
}

/// What became of a transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionLookup {
    pub transaction_id: String,
    /// `COMMITTED`, `SETTLED`, `ROLLED_BACK`, `DECLINED`, `VOIDED_BY_PRIOR_ROLLBACK`,
    /// `TOMBSTONE` or `NOT_FOUND`.
    pub state: String,
    /// `null` when not found.
    pub op: Option<String>,
    /// RFC 3339; `null` when not found.
    pub first_seen_at: Option<String>,
    /// Requests that reached the key, the first included.
    pub attempts: u64,
    /// The first answer; `null` for tombstones and unknown ids.
    pub original_response: Option<OriginalResponse>,
    /// Rollbacks that target it, wins that reference it.
    pub related: Vec<RelatedTransaction>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OriginalResponse {
    pub http_status: u16,
    /// The body exactly as first sent.
    #[schema(value_type = Object)]
    pub body: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RelatedTransaction {
    pub transaction_id: String,
    pub op: String,
    pub outcome: Option<String>,
    pub state: String,
}

/// One transaction as the feed and the round lookup show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionSummary {
    pub transaction_id: String,
    /// The wallet's own id.
    pub wallet_tx_id: String,
    pub op: String,
    pub kind: Option<String>,
    pub player_id: String,
    pub round_id: Option<String>,
    pub game_id: Option<String>,
    pub amount: Option<WireMoney>,
    pub state: String,
    pub outcome: Option<String>,
    pub error_code: Option<String>,
    pub target_transaction_id: Option<String>,
    /// RFC 3339.
    pub committed_at: String,
}

/// `GET /wallet/v1/rounds/{round_id}`
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundLookupResponse {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub round: RoundLookup,
    pub request_id: String,
}

/// A round, its transactions in order and its totals; a round that never had a bet is
/// `NOT_FOUND` with no transactions (and no `game_id`, `opened_at` or `totals`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundLookup {
    pub round_id: String,
    pub player_id: String,
    pub game_id: Option<String>,
    /// `OPEN`, `CLOSED` or `NOT_FOUND`.
    pub state: String,
    pub opened_at: Option<String>,
    pub closed_at: Option<String>,
    pub transactions: Vec<TransactionSummary>,
    pub totals: Option<RoundTotals>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundTotals {
    /// Bets still standing (not rolled back, voided or declined).
    pub bets: Option<WireMoney>,
    /// Wins paid.
    pub wins: Option<WireMoney>,
}

/// `GET /wallet/v1/transactions`
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedResponse {
    #[schema(pattern = "^OK$")]
    pub status: String,
    /// Oldest first.
    pub transactions: Vec<TransactionSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    pub request_id: String,
}
