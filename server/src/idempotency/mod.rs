//! The key store's view of a money operation: its key and fingerprint, the decision it
//! records as its permanent answer, and the answer a replay gets (docs/API.md,
//! idempotency). Running operations exactly once is the money path's job (`money`).
mod fingerprint;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::domain::{Money, OpType, TransactionId, TxState, WireMoney};
use crate::error::{ApiError, ErrorCode, ServiceError};
pub use fingerprint::Fingerprint;

/// One money operation as the key store sees it.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    /// The provider id, or `@operator` for cashier adjustments.
    pub scope: String,
    pub transaction_id: TransactionId,
    pub player_id: String,
    pub op: OpType,
    pub kind: Option<&'static str>,
    pub round_id: Option<String>,
    pub game_id: Option<String>,
    pub amount: Option<Money>,
    pub target_transaction_id: Option<String>,
    pub fingerprint: Fingerprint,
    /// The request body as received, secrets redacted, for the trace.
    pub request_body: String,
    pub request_id: String,
}

/// What the operation decided, to be stored as the key's permanent answer.
#[derive(Debug)]
pub enum Decision {
    /// The operation took effect. `fields` are the operation's own fields of the
    /// contract's `transaction` object; [`first_answer`] adds the common ones.
    Done {
        state: TxState,
        fields: OpFields,
        balance: Money,
    },
    /// A final decline, recorded so every retry gets the same answer.
    Declined {
        error: ApiError,
        state: TxState,
        balance: Option<Money>,
    },
}

/// An operation's own fields of the contract's `transaction` object (docs/API.md, the
/// answer of each operation), sent after the common ones in this order.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum OpFields {
    /// A bet's answer has the common fields only.
    Bet {},
    Win {
        #[serde(skip_serializing_if = "Option::is_none")]
        reference_transaction_id: Option<String>,
    },
    Rollback {
        target_transaction_id: String,
        /// Also the key's stored `outcome`, which the console and reconciliation read.
        outcome: &'static str,
        refunded: WireMoney,
        amount_hint_mismatch: bool,
    },
    CloseRound {
        /// `CLOSED`, or `NOT_FOUND` for a round the wallet never saw.
        round_state: &'static str,
    },
    Adjustment {
        /// `null` when the adjustment gave none.
        reason: Option<String>,
    },
}

impl OpFields {
    /// The outcome the key's row keeps: a rollback's.
    pub fn outcome(&self) -> Option<&'static str> {
        match self {
            OpFields::Rollback { outcome, .. } => Some(outcome),
            _ => None,
        }
    }
}

/// The contract's `transaction` object of an operation that took effect.
#[derive(Serialize)]
struct DoneTransaction<'a> {
    transaction_id: &'a str,
    wallet_tx_id: String,
    op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    player_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    round_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    game_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<WireMoney>,
    #[serde(flatten)]
    fields: &'a OpFields,
    state: &'static str,
    balance_after: WireMoney,
    committed_at: String,
}

/// The `transaction` object of a recorded decline.
#[derive(Serialize)]
struct DeclinedTransaction<'a> {
    transaction_id: &'a str,
    state: &'static str,
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub http_status: u16,
    /// The key's first answer exactly as it was sent; `status`, `error` and
    /// `transaction` are taken from it byte for byte.
    pub first_body: String,
    pub replayed: bool,
    /// The player's balance now.
    pub balance: Option<Money>,
}

/// The parts of a stored first answer that every later answer repeats.
#[derive(Deserialize)]
struct StoredParts<'a> {
    #[serde(borrow)]
    status: &'a RawValue,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    transaction: Option<&'a RawValue>,
}

/// An answer's wire body, in the contract's field order.
#[derive(Serialize)]
struct Body<'a> {
    status: &'a RawValue,
    replayed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    balance: Option<WireMoney>,
    request_id: &'a str,
}

impl Answer {
    /// The wire body: the first answer's `status`, `error` and `transaction`, plus
    /// `replayed`, the balance now and this request's id. The stored parts are copied as
    /// raw JSON, never parsed into values and printed again.
    pub fn into_body(self, request_id: &str) -> String {
        let Ok(parts) = serde_json::from_str::<StoredParts<'_>>(&self.first_body) else {
            // Only a row edited behind the wallet's back gets here.
            return json!({
                "status": "ERROR",
                "replayed": self.replayed,
                "error": ApiError::new(ErrorCode::InternalError, "the stored answer is unreadable").to_json(),
                "request_id": request_id,
            })
            .to_string();
        };
        let body = Body {
            status: parts.status,
            replayed: self.replayed,
            error: parts.error,
            transaction: parts.transaction,
            balance: self.balance.as_ref().map(Money::to_wire),
            request_id,
        };
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// `true` for a first answer or replay of `status: "OK"`.
    pub fn is_ok(&self) -> bool {
        self.http_status == 200
    }

    /// The stored error's code, for a recorded decline.
    pub fn error_code(&self) -> Option<String> {
        let parts = serde_json::from_str::<StoredParts<'_>>(&self.first_body).ok()?;
        let error: Value = serde_json::from_str(parts.error?.get()).ok()?;
        error.get("code")?.as_str().map(str::to_owned)
    }
}

/// A decision as the key's record keeps it. `answer.first_body` is the body exactly as
/// first sent, for the status lookup's `original_response`; replays take `status`,
/// `error` and `transaction` from it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub answer: Answer,
    pub state: TxState,
    pub outcome: Option<&'static str>,
    pub error_code: Option<&'static str>,
}

/// The permanent answer a decision makes, without touching the database (`server seed`
/// writes history with it, so seeded answers have the wallet's own shape).
pub fn first_answer(
    keyed: &KeyedRequest,
    wallet_tx_id: i64,
    decision: Decision,
    now: DateTime<Utc>,
) -> Recorded {
    let (http_status, error, transaction, state, outcome, error_code, balance) = match decision {
        Decision::Done {
            state,
            fields,
            balance,
        } => {
            let transaction = DoneTransaction {
                transaction_id: keyed.transaction_id.as_str(),
                wallet_tx_id: format_wallet_tx_id(wallet_tx_id),
                op: keyed.op.as_str(),
                kind: keyed.kind,
                player_id: &keyed.player_id,
                round_id: keyed.round_id.as_deref(),
                game_id: keyed.game_id.as_deref(),
                amount: keyed.amount.as_ref().map(Money::to_wire),
                fields: &fields,
                state: state.as_str(),
                balance_after: balance.to_wire(),
                committed_at: format_time(now),
            };
            let transaction = raw(&transaction);
            (
                200,
                None,
                transaction,
                state,
                fields.outcome(),
                None,
                Some(balance),
            )
        }
        Decision::Declined {
            error,
            state,
            balance,
        } => {
            let transaction = raw(&DeclinedTransaction {
                transaction_id: keyed.transaction_id.as_str(),
                state: state.as_str(),
            });
            let code = Some(error.code.as_str());
            let (http_status, error) = (error.status(), Some(raw(&error.to_json())));
            (http_status, error, transaction, state, None, code, balance)
        }
    };
    // The wire body printed once, by the same [`Body`] as every later answer.
    let status = raw(if http_status == 200 { "OK" } else { "ERROR" });
    let body = Body {
        status: &status,
        replayed: false,
        error: error.as_deref(),
        transaction: Some(&transaction),
        balance: balance.as_ref().map(Money::to_wire),
        request_id: &keyed.request_id,
    };
    Recorded {
        answer: Answer {
            http_status,
            first_body: serde_json::to_string(&body).unwrap_or_default(),
            replayed: false,
            balance,
        },
        state,
        outcome,
        error_code,
    }
}

/// A value printed as JSON once, to be placed in a body as it is.
fn raw<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("answers serialise")
}

/// The wallet's own id of a transaction, as shown to providers.
pub fn format_wallet_tx_id(id: i64) -> String {
    format!("wtx-{id:012}")
}

/// Timestamps on the wire: RFC 3339, UTC, milliseconds.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What a key's row keeps of its first answer.
pub struct StoredAnswer<'a> {
    pub state: TxState,
    pub fingerprint: &'a str,
    pub http_status: i32,
    pub first_body: &'a str,
}

/// The stored answer with the player's balance now, or a conflict if the request means
/// something else.
pub fn replay_answer(
    keyed: &KeyedRequest,
    stored: StoredAnswer<'_>,
    balance: Option<Money>,
) -> Result<Answer, ServiceError> {
    if stored.state == TxState::InProgress {
        return Err(ServiceError::InProgress);
    }
    if !keyed.fingerprint.matches_stored(stored.fingerprint) {
        let differing = keyed.fingerprint.differing_from_stored(stored.fingerprint);
        return Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "transaction_id {} was already used with other values; the original stands",
                keyed.transaction_id
            ),
        )
        .with_details(json!({ "fields": differing }))
        .into());
    }
    let http_status = u16::try_from(stored.http_status).unwrap_or(500);
    Ok(Answer {
        http_status,
        first_body: stored.first_body.to_owned(),
        replayed: true,
        balance,
    })
}
