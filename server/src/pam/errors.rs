//! The PAM's error codes, and how the wallet's own answers map onto them (docs/PAM.md,
//! "Errors"). Refusals of a transaction are business answers: `200` with
//! `"status": "ERROR"`, as the PAM asks ("HTTP error codes only describe hard errors").
//! An unknown or expired session and a wrong API token are `401`, a request the PAM
//! cannot read `400`, and a wallet that cannot answer now `500`/`503`.
use crate::domain::Money;
use crate::error::{ApiError, ErrorCode, ServiceError};

use super::wire::TransactionType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PamCode {
    Undefined,
    GameNotFound,
    RoundNotFound,
    TransNotFound,
    CashOverdraft,
    BonusOverdraft,
    SessionNotFound,
    SessionExpired,
    MissingProvider,
    TransCurrency,
    NegativeStake,
    CancelNotFound,
    TransAlreadyCancelled,
    CancelNonWithdraw,
    BetNotAllowed,
    PlayerNotFound,
    ApiToken,
    TransAlreadySettled,
    DuplicateTrans,
    PromoOverdraft,
    Timeout,
}

impl PamCode {
    pub fn as_str(self) -> &'static str {
        use PamCode::*;
        match self {
            Undefined => "PAM_ERR_UNDEFINED",
            GameNotFound => "PAM_ERR_GAME_NOT_FOUND",
            RoundNotFound => "PAM_ERR_ROUND_NOT_FOUND",
            TransNotFound => "PAM_ERR_TRANS_NOT_FOUND",
            CashOverdraft => "PAM_ERR_CASH_OVERDRAFT",
            BonusOverdraft => "PAM_ERR_BONUS_OVERDRAFT",
            SessionNotFound => "PAM_ERR_SESSION_NOT_FOUND",
            SessionExpired => "PAM_ERR_SESSION_EXPIRED",
            MissingProvider => "PAM_ERR_MISSING_PROVIDER",
            TransCurrency => "PAM_ERR_TRANS_CURRENCY",
            NegativeStake => "PAM_ERR_NEGATIVE_STAKE",
            CancelNotFound => "PAM_ERR_CANCEL_NOT_FOUND",
            TransAlreadyCancelled => "PAM_ERR_TRANS_ALREADY_CANCELLED",
            CancelNonWithdraw => "PAM_ERR_CANCEL_NON_WITHDRAW",
            BetNotAllowed => "PAM_ERR_BET_NOT_ALLOWED",
            PlayerNotFound => "PAM_ERR_PLAYER_NOT_FOUND",
            ApiToken => "PAM_ERR_API_TOKEN",
            TransAlreadySettled => "PAM_ERR_TRANS_ALREADY_SETTLED",
            DuplicateTrans => "PAM_ERR_DUPLICATE_TRANS",
            PromoOverdraft => "PAM_ERR_PROMO_OVERDRAFT",
            Timeout => "PAM_ERR_TIMEOUT",
        }
    }
}

/// A PAM refusal: its code, message, HTTP status and, for a refused transaction, the
/// player's balance (the PAM answers "error and balance").
#[derive(Debug, Clone)]
pub struct PamError {
    pub code: PamCode,
    pub message: String,
    pub http_status: u16,
    pub balance: Option<Money>,
}

impl PamError {
    /// A business refusal: `200`, `"status": "ERROR"`.
    pub fn refused(code: PamCode, message: impl Into<String>) -> PamError {
        PamError {
            code,
            message: message.into(),
            http_status: 200,
            balance: None,
        }
    }

    /// The session or the API token is not good: `401`.
    pub fn unauthorized(code: PamCode, message: impl Into<String>) -> PamError {
        PamError {
            http_status: 401,
            ..PamError::refused(code, message)
        }
    }

    /// A request the PAM cannot read: `400`.
    pub fn bad_request(code: PamCode, message: impl Into<String>) -> PamError {
        PamError {
            http_status: 400,
            ..PamError::refused(code, message)
        }
    }

    pub fn with_balance(mut self, balance: Option<Money>) -> PamError {
        self.balance = balance;
        self
    }

    /// An error of the wallet's own that came before any rule ran: bad input, a
    /// conflicting key, an outage.
    pub fn from_service(error: ServiceError) -> PamError {
        PamError::from_api(&error.into_api())
    }

    pub fn from_api(error: &ApiError) -> PamError {
        let message = error.message.clone();
        match error.code {
            ErrorCode::IdempotencyConflict => PamError::refused(
                PamCode::DuplicateTrans,
                format!(
                    "this providerTransactionId was used for a different transaction: {message}"
                ),
            ),
            ErrorCode::MalformedRequest | ErrorCode::InvalidAmount => {
                PamError::bad_request(PamCode::Undefined, message)
            }
            ErrorCode::TransactionInProgress => PamError {
                http_status: 503,
                ..PamError::refused(PamCode::Timeout, message)
            },
            code if error.status() >= 500 => PamError {
                http_status: error.status(),
                ..PamError::refused(PamCode::Undefined, format!("{}: {message}", code.as_str()))
            },
            _ => PamError::refused(PamCode::Undefined, message),
        }
    }
}

/// The PAM's code for a refusal the wallet's rules recorded (`code` of the key's first
/// answer), for a transaction of this type.
pub fn refusal_code(code: &str, transaction_type: TransactionType) -> PamCode {
    use PamCode::*;
    match code {
        "PLAYER_NOT_FOUND" => PlayerNotFound,
        "SESSION_INVALID" => SessionNotFound,
        "SESSION_EXPIRED" => SessionExpired,
        "PLAYER_BLOCKED" => BetNotAllowed,
        "CURRENCY_MISMATCH" => TransCurrency,
        "INSUFFICIENT_FUNDS" => CashOverdraft,
        // A bet in a round the studio already ended cannot be placed; a deposit on it
        // comes after the round was settled.
        "ROUND_CLOSED" if transaction_type.is_withdraw() => BetNotAllowed,
        "ROUND_CLOSED" => TransAlreadySettled,
        // A withdraw whose cancel came first (the wallet voids it).
        "TRANSACTION_VOIDED" => TransAlreadyCancelled,
        "REFERENCE_NOT_FOUND" if transaction_type.is_cancel() => CancelNotFound,
        "REFERENCE_NOT_FOUND" => TransNotFound,
        "TRANSACTION_ROLLED_BACK" => TransAlreadyCancelled,
        "BET_ALREADY_SETTLED" => TransAlreadySettled,
        "NOT_REVERSIBLE" => CancelNonWithdraw,
        _ => Undefined,
    }
}

/// A cancel the wallet answered with an outcome other than a refund: the PAM counts it
/// as a refusal.
pub fn cancel_outcome_code(outcome: &str) -> Option<PamCode> {
    match outcome {
        "ALREADY_ROLLED_BACK" => Some(PamCode::TransAlreadyCancelled),
        "TARGET_NOT_FOUND_TOMBSTONED" => Some(PamCode::CancelNotFound),
        _ => None,
    }
}
