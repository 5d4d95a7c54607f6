//! The contract's error codes and the one error type every service returns.
use serde::Serialize;
use serde_json::{json, Value};

/// Every error code of the wire contract, with its HTTP status and retry advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 401: missing or unknown key, or a signature that does not verify.
    InvalidSignature,
    /// 401: the timestamp is further off than `wallet::signing::MAX_CLOCK_SKEW_MS`; a
    /// re-signed retry is welcome.
    StaleRequest,
    /// 400/413: bad JSON, missing or unknown field, bad id, body too large.
    MalformedRequest,
    /// 400: amount or currency outside the contract (also credits past 18 digits).
    InvalidAmount,
    /// 404: the player does not exist.
    PlayerNotFound,
    /// 401: the session is unknown or belongs to another player, provider or game.
    SessionInvalid,
    /// 401: the session expired or a newer one superseded it.
    SessionExpired,
    /// 403: bets are refused for blocked players.
    PlayerBlocked,
    /// 422: the amount's currency is not the player's.
    CurrencyMismatch,
    /// 422: the balance is too low.
    InsufficientFunds,
    /// 409: the round is closed.
    RoundClosed,
    /// 404: the bet a win or rollback refers to does not exist (for this player).
    ReferenceNotFound,
    /// 409: the bet this win settles was rolled back or voided.
    TransactionRolledBack,
    /// 409: an earlier rollback named this bet's id.
    TransactionVoided,
    /// 409: the bet was already settled by a win.
    BetAlreadySettled,
    /// 422: the target is not a bet that can be rolled back.
    NotReversible,
    /// 409: the key was used before with another meaning; the original stands.
    IdempotencyConflict,
    /// 503: the same key is being executed right now; retry shortly.
    TransactionInProgress,
    /// 503: the database is unreachable or overloaded; nothing was committed.
    TemporaryUnavailable,
    /// 500: the outcome is unknown; the status lookup tells.
    InternalError,
    /// 429: the signing key sent more requests than `WALLET_RATE_LIMIT_PER_KEY` allows;
    /// nothing was done, retry after `Retry-After`.
    RateLimited,
    /// 401 (operator API): missing or wrong bearer token.
    Unauthorized,
    /// 404 (operator API): the provider does not exist.
    ProviderNotFound,
    /// 409 (operator API): a player's currency never changes.
    CurrencyImmutable,
    /// 409 (operator API): the key id already belongs to another provider.
    KeyInUse,
    /// 409 (operator API): the discrepancy's status does not allow the action (only OPEN
    /// ones are acknowledged, RESOLVED ones never change).
    InvalidTransition,
    /// 409 (operator API): a reconciliation run is in progress; runs never overlap.
    RunInProgress,
    /// 404: no such endpoint, or no record with the id in the path.
    NotFound,
    /// 409 (operator API): a seal was asked of a server without a seal key.
    SealingOff,
    /// 409 (operator API): the seal file holds seals this database did not make (another
    /// database's file, or a database restored from before them); nothing was sealed.
    SealFileMismatch,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedRequest | InvalidAmount => 400,
            InvalidSignature | StaleRequest | SessionInvalid | SessionExpired | Unauthorized => 401,
            PlayerBlocked => 403,
            PlayerNotFound | ReferenceNotFound | ProviderNotFound | NotFound => 404,
            RoundClosed
            | TransactionRolledBack
            | TransactionVoided
            | BetAlreadySettled
            | IdempotencyConflict
            | CurrencyImmutable
            | KeyInUse
            | InvalidTransition
            | RunInProgress
            | SealingOff
            | SealFileMismatch => 409,
            CurrencyMismatch | InsufficientFunds | NotReversible => 422,
            RateLimited => 429,
            InternalError => 500,
            TransactionInProgress | TemporaryUnavailable => 503,
        }
    }

    pub fn retryable(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            StaleRequest
                | TransactionInProgress
                | TemporaryUnavailable
                | InternalError
                | RateLimited
        )
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidSignature => "INVALID_SIGNATURE",
            StaleRequest => "STALE_REQUEST",
            MalformedRequest => "MALFORMED_REQUEST",
            InvalidAmount => "INVALID_AMOUNT",
            PlayerNotFound => "PLAYER_NOT_FOUND",
            SessionInvalid => "SESSION_INVALID",
            SessionExpired => "SESSION_EXPIRED",
            PlayerBlocked => "PLAYER_BLOCKED",
            CurrencyMismatch => "CURRENCY_MISMATCH",
            InsufficientFunds => "INSUFFICIENT_FUNDS",
            RoundClosed => "ROUND_CLOSED",
            ReferenceNotFound => "REFERENCE_NOT_FOUND",
            TransactionRolledBack => "TRANSACTION_ROLLED_BACK",
            TransactionVoided => "TRANSACTION_VOIDED",
            BetAlreadySettled => "BET_ALREADY_SETTLED",
            NotReversible => "NOT_REVERSIBLE",
            IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            TransactionInProgress => "TRANSACTION_IN_PROGRESS",
            TemporaryUnavailable => "TEMPORARY_UNAVAILABLE",
            InternalError => "INTERNAL_ERROR",
            RateLimited => "RATE_LIMITED",
            Unauthorized => "UNAUTHORIZED",
            ProviderNotFound => "PROVIDER_NOT_FOUND",
            CurrencyImmutable => "CURRENCY_IMMUTABLE",
            KeyInUse => "KEY_IN_USE",
            InvalidTransition => "INVALID_TRANSITION",
            RunInProgress => "RUN_IN_PROGRESS",
            NotFound => "NOT_FOUND",
            SealingOff => "SEALING_OFF",
            SealFileMismatch => "SEAL_FILE_MISMATCH",
        }
    }
}

/// An error as the contract shows it: code, message and details.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Value,
    /// Overrides the code's usual status (413 for an oversized body).
    pub http_status: Option<u16>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: json!({}),
            http_status: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::MalformedRequest, message)
    }

    pub fn too_large(limit_bytes: usize) -> ApiError {
        ApiError {
            http_status: Some(413),
            ..ApiError::malformed(format!("request body exceeds {limit_bytes} bytes"))
        }
    }

    pub fn status(&self) -> u16 {
        self.http_status.unwrap_or_else(|| self.code.http_status())
    }

    /// The contract's `error` object.
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code.as_str(),
            "retryable": self.code.retryable(),
            "message": self.message,
            "details": self.details,
        })
    }
}

impl From<crate::domain::AmountError> for ApiError {
    fn from(error: crate::domain::AmountError) -> ApiError {
        ApiError::new(ErrorCode::InvalidAmount, error.to_string())
    }
}

/// What a service call can fail with. Mapped to the wire in one place
/// ([`ServiceError::into_api`]) and logged there.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A contract error that was not recorded (bad input, conflict, overflow).
    #[error("{}: {}", .0.code.as_str(), .0.message)]
    Api(ApiError),
    /// A database error before commit: nothing was committed.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The commit itself failed: the outcome is unknown.
    #[error("commit outcome unknown: {0}")]
    OutcomeUnknown(sea_orm::DbErr),
    /// The write queue is full: shed load rather than queue without bound.
    #[error("write queue full")]
    Overloaded,
    /// The same key stayed locked by another request past the wait bound.
    #[error("transaction in progress")]
    InProgress,
    /// The wallet's own invariant failed (a debit below zero reached the ledger, the
    /// database holds a state the code never writes): `500`, because a retry would meet
    /// the same bug. Nothing was committed.
    #[error("bug: {0}")]
    Bug(String),
    /// The request was verified with a cached signing key that has since been removed or
    /// replaced (`money::SigningKey`): `401`, nothing done.
    #[error("signing key withdrawn")]
    KeyWithdrawn,
}

impl From<crate::domain::UnknownValue> for ServiceError {
    fn from(error: crate::domain::UnknownValue) -> ServiceError {
        ServiceError::Bug(error.to_string())
    }
}

impl From<ApiError> for ServiceError {
    fn from(error: ApiError) -> ServiceError {
        ServiceError::Api(error)
    }
}

impl ServiceError {
    pub fn into_api(self) -> ApiError {
        match self {
            ServiceError::Api(error) => error,
            ServiceError::Db(error) => {
                tracing::warn!(%error, "database error, nothing committed");
                ApiError::new(
                    ErrorCode::TemporaryUnavailable,
                    "the database is unavailable; nothing was committed, retry",
                )
            }
            ServiceError::OutcomeUnknown(error) => {
                tracing::error!(%error, "commit outcome unknown");
                ApiError::new(
                    ErrorCode::InternalError,
                    "the outcome is unknown; retry or use the status lookup",
                )
            }
            ServiceError::Overloaded => ApiError::new(
                ErrorCode::TemporaryUnavailable,
                "the wallet is overloaded; nothing was committed, retry shortly",
            ),
            ServiceError::InProgress => ApiError::new(
                ErrorCode::TransactionInProgress,
                "this transaction is being processed by another request; retry shortly",
            ),
            ServiceError::Bug(reason) => {
                tracing::error!(%reason, "invariant failed, nothing committed");
                ApiError::new(
                    ErrorCode::InternalError,
                    "the wallet refused an operation that would break its own invariants; nothing was committed",
                )
            }
            ServiceError::KeyWithdrawn => ApiError::new(
                ErrorCode::InvalidSignature,
                "unknown key: it was removed or replaced",
            ),
        }
    }
}
