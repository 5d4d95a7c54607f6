//! The key store's view of a money operation: its key and fingerprint, the decision it
//! records as its permanent answer, and the answer a replay gets (docs/API.md,
//! idempotency). Running operations exactly once is the money path's job (`money`).
mod fingerprint;
pub mod packed_request;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use std::borrow::Cow;

use crate::domain::{CurrencyTable, MinorUnits, Money, OpType, TransactionId, TxState, WireMoney};
use crate::error::{ApiError, ErrorCode, ServiceError};
pub use fingerprint::Fingerprint;

/// The key space of cashier adjustments (the operator API), beside the providers' own:
/// no provider id can take this value, since ids never start with `@`.
pub const OPERATOR_SCOPE: &str = "@operator";

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
    /// `request_body` packed as the key's row keeps it ([`KeyedRequest::packed_request`]).
    pub packed: std::sync::OnceLock<Option<Vec<u8>>>,
}

impl KeyedRequest {
    /// The request as the key's row keeps it ([`packed_request`]), packed on first use:
    /// `money::execute` asks once a key turns out to be new, on the request's own thread,
    /// so that SQLite's single writer only copies the bytes.
    pub fn packed_request(&self) -> Option<&[u8]> {
        self.packed
            .get_or_init(|| packed_request::pack(&self.request_body))
            .as_deref()
    }
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    op: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
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
    /// The player's balance after an operation that took effect.
    pub balance_after_minor: Option<i64>,
    /// Whether the key's columns give the body back byte for byte ([`AnswerColumns`]),
    /// so that the row need not keep it.
    pub rebuilt_from_columns: bool,
}

impl Recorded {
    /// The body the key's row keeps: empty when its columns give it back.
    pub fn stored_body(&self) -> &str {
        if self.rebuilt_from_columns {
            ""
        } else {
            &self.answer.first_body
        }
    }
}

/// The permanent answer a decision makes, without touching the database (`server seed`
/// writes history with it, so seeded answers have the wallet's own shape).
pub fn first_answer(
    keyed: &KeyedRequest,
    wallet_tx_id: i64,
    decision: Decision,
    now: DateTime<Utc>,
) -> Recorded {
    match decision {
        Decision::Done {
            state,
            fields,
            balance,
        } => {
            let columns = AnswerColumns::of_first(keyed, wallet_tx_id, &balance, now);
            let balance_after_minor = columns.balance_after_minor;
            // Bets and wins are rebuilt from their columns by the very function that
            // prints them here, so the stored columns give back the bytes sent.
            let (first_body, rebuilt_from_columns) =
                match (columns.op_fields(), columns.rebuild_with(&balance)) {
                    (Some(own), Some(body)) if own == fields && state == TxState::Committed => {
                        (body, true)
                    }
                    _ => {
                        let amount = keyed.amount.as_ref().map(Money::to_wire);
                        let body = done_body(&columns, amount, &fields, state, balance.to_wire());
                        (body, false)
                    }
                };
            Recorded {
                answer: Answer {
                    http_status: 200,
                    first_body,
                    replayed: false,
                    balance: Some(balance),
                },
                state,
                outcome: fields.outcome(),
                error_code: None,
                balance_after_minor,
                rebuilt_from_columns,
            }
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
            let http_status = error.status();
            let body = Body {
                status: &raw(if http_status == 200 { "OK" } else { "ERROR" }),
                replayed: false,
                error: Some(&raw(&error.to_json())),
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
                outcome: None,
                error_code: Some(error.code.as_str()),
                balance_after_minor: None,
                rebuilt_from_columns: false,
            }
        }
    }
}

/// The first answer of an operation that took effect, printed by the same [`Body`] as
/// every later answer.
fn done_body(
    columns: &AnswerColumns,
    amount: Option<WireMoney>,
    fields: &OpFields,
    state: TxState,
    balance_after: WireMoney,
) -> String {
    let transaction = raw(&DoneTransaction {
        transaction_id: &columns.transaction_id,
        wallet_tx_id: format_wallet_tx_id(columns.id),
        op: &columns.op,
        kind: columns.kind.as_deref(),
        player_id: &columns.player_id,
        round_id: columns.round_id.as_deref(),
        game_id: columns.game_id.as_deref(),
        amount,
        fields,
        state: state.as_str(),
        balance_after: balance_after.clone(),
        committed_at: format_time(columns.created_at),
    });
    let body = Body {
        status: &raw("OK"),
        replayed: false,
        error: None,
        transaction: Some(&transaction),
        balance: Some(balance_after),
        request_id: &columns.request_id,
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The columns of a key's row that the first answer of a bet or win is rebuilt from, so
/// that the row keeps no copy of it (docs/PERFORMANCE.md, bytes per transaction). Other
/// answers (declines, rollbacks, closes, adjustments) are kept as sent.
#[derive(Debug, Clone, Default)]
pub struct AnswerColumns {
    pub id: i64,
    pub transaction_id: String,
    pub op: String,
    pub kind: Option<String>,
    pub player_id: String,
    pub round_id: Option<String>,
    pub game_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    /// A win's reference (the column holds a rollback's target too).
    pub target_transaction_id: Option<String>,
    pub balance_after_minor: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub request_id: String,
}

impl AnswerColumns {
    /// The columns the key's row gets for a first execution.
    fn of_first(
        keyed: &KeyedRequest,
        id: i64,
        balance: &Money,
        now: DateTime<Utc>,
    ) -> AnswerColumns {
        AnswerColumns {
            id,
            transaction_id: keyed.transaction_id.as_str().to_owned(),
            op: keyed.op.as_str().to_owned(),
            kind: keyed.kind.map(str::to_owned),
            player_id: keyed.player_id.clone(),
            round_id: keyed.round_id.clone(),
            game_id: keyed.game_id.clone(),
            amount_minor: keyed.amount.as_ref().map(|m| m.minor.get()),
            currency: keyed.amount.as_ref().map(|m| m.currency.code().to_owned()),
            target_transaction_id: keyed.target_transaction_id.clone(),
            balance_after_minor: Some(balance.minor.get()),
            created_at: now,
            request_id: keyed.request_id.clone(),
        }
    }

    /// The operation's own fields, for a bet or a win.
    fn op_fields(&self) -> Option<OpFields> {
        match OpType::parse(&self.op).ok()? {
            OpType::Bet => Some(OpFields::Bet {}),
            OpType::Win => Some(OpFields::Win {
                reference_transaction_id: self.target_transaction_id.clone(),
            }),
            _ => None,
        }
    }

    /// The first answer of a bet or win whose balance is in its amount's currency.
    fn rebuild_with(&self, balance: &Money) -> Option<String> {
        let fields = self.op_fields()?;
        let currency = balance.currency.code();
        if self.currency.as_deref() != Some(currency) {
            return None;
        }
        let amount = Money::new(
            MinorUnits::from_stored(self.amount_minor?).ok()?,
            balance.currency.clone(),
        );
        let state = TxState::Committed;
        Some(done_body(
            self,
            Some(amount.to_wire()),
            &fields,
            state,
            balance.to_wire(),
        ))
    }

    /// The key's first answer: `stored` as kept, or rebuilt from the columns when the row
    /// keeps none. Empty only if a currency was dropped from the configuration since.
    pub fn first_body<'a>(&self, stored: &'a str, currencies: &CurrencyTable) -> Cow<'a, str> {
        if !stored.is_empty() {
            return Cow::Borrowed(stored);
        }
        let rebuilt = (|| {
            let currency = currencies.currency(self.currency.as_deref()?).ok()?;
            let after = MinorUnits::from_stored(self.balance_after_minor?).ok()?;
            self.rebuild_with(&Money::new(after, currency))
        })();
        Cow::Owned(rebuilt.unwrap_or_default())
    }
}

/// A key row's first answer exactly as sent: the row's copy, or rebuilt from its columns.
pub fn first_body_of<'a>(
    row: &'a crate::db::entities::wallet_transaction::Model,
    currencies: &CurrencyTable,
) -> Cow<'a, str> {
    if row.response_body.is_empty() {
        Cow::Owned(
            AnswerColumns::from(row)
                .first_body("", currencies)
                .into_owned(),
        )
    } else {
        Cow::Borrowed(&row.response_body)
    }
}

/// A key row's first request as it was received (secrets redacted): the row's text, or
/// its packed copy unpacked ([`packed_request`]).
pub fn request_of(row: &crate::db::entities::wallet_transaction::Model) -> Cow<'_, str> {
    match &row.request_packed {
        Some(packed) => Cow::Owned(
            packed_request::unpack(packed)
                .unwrap_or_else(|| "(a packed request this version cannot read)".to_owned()),
        ),
        None => Cow::Borrowed(&row.request_body),
    }
}

impl From<&crate::db::entities::wallet_transaction::Model> for AnswerColumns {
    fn from(row: &crate::db::entities::wallet_transaction::Model) -> AnswerColumns {
        AnswerColumns {
            id: row.id,
            transaction_id: row.transaction_id.clone(),
            op: row.op.clone(),
            kind: row.kind.clone(),
            player_id: row.player_id.clone(),
            round_id: row.round_id.clone(),
            game_id: row.game_id.clone(),
            amount_minor: row.amount_minor,
            currency: row.currency.clone(),
            target_transaction_id: row.target_transaction_id.clone(),
            balance_after_minor: row.balance_after_minor,
            created_at: row.created_at,
            request_id: row.request_id.clone(),
        }
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
