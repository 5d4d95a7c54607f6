//! Exactly once: the idempotency key of a money operation is claimed, the operation runs,
//! and its first definitive answer is stored, in one database transaction. Every later
//! request with the same key gets that answer again (a replay) or, if it means something
//! else, `409 IDEMPOTENCY_CONFLICT`.
mod fingerprint;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, FromQueryResult, QueryFilter, Statement, TryInsertResult,
};
use serde_json::{json, Map, Value};

use crate::db::entities::{player, wallet_transaction as wtx};
use crate::db::Store;
use crate::domain::{CurrencyTable, MinorUnits, Money, TransactionId};
use crate::error::{ApiError, ErrorCode, ServiceError};
pub use fingerprint::Fingerprint;

/// The row state of a claimed key whose transaction has not committed. Never visible to
/// another transaction; seen only if something is badly wrong.
const IN_PROGRESS: &str = "IN_PROGRESS";

/// One money operation as the key store sees it.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    /// The provider id, or `@operator` for cashier adjustments.
    pub scope: String,
    pub transaction_id: TransactionId,
    pub player_id: String,
    pub op: &'static str,
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
    /// The operation took effect. `transaction` is the contract's object without the common
    /// fields, which [`record`] adds.
    Done {
        state: &'static str,
        outcome: Option<&'static str>,
        fields: Map<String, Value>,
        balance: Money,
    },
    /// A final decline, recorded so every retry gets the same answer.
    Declined {
        error: ApiError,
        state: &'static str,
        balance: Option<Money>,
    },
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub http_status: u16,
    /// `status`, `transaction` and `error`, exactly as first answered.
    pub stored: Value,
    pub replayed: bool,
    /// The player's balance now.
    pub balance: Option<Money>,
}

impl Answer {
    /// The wire body: the stored answer plus `replayed`, `balance` and `request_id`.
    pub fn into_body(self, request_id: &str) -> Value {
        let mut body = Map::new();
        let stored = match self.stored {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        body.insert(
            "status".into(),
            stored.get("status").cloned().unwrap_or(Value::Null),
        );
        body.insert("replayed".into(), Value::Bool(self.replayed));
        for key in ["error", "transaction"] {
            if let Some(value) = stored.get(key) {
                body.insert(key.into(), value.clone());
            }
        }
        if let Some(balance) = self.balance {
            body.insert("balance".into(), json!(balance.to_wire()));
        }
        body.insert("request_id".into(), Value::String(request_id.to_owned()));
        Value::Object(body)
    }
}

/// The business logic of one operation, run after the key is claimed, inside the
/// transaction. An `Err` rolls everything back, the claim included.
pub trait Operation: Send + Sync + 'static {
    fn keyed(&self) -> &KeyedRequest;
    fn decide<'c>(
        &'c self,
        txn: &'c DatabaseTransaction,
        wallet_tx_id: i64,
        now: DateTime<Utc>,
    ) -> BoxFuture<'c, Result<Decision, ServiceError>>;
}

/// Runs `operation` exactly once for its key and returns its answer, or the stored one.
pub async fn execute<O: Operation>(
    store: &Store,
    currencies: &CurrencyTable,
    operation: O,
) -> Result<Answer, ServiceError> {
    // The fast path: a replay reads (once) and never waits for the writer.
    if let Some((existing, player)) = find_with_player(store.reader(), operation.keyed()).await? {
        let balance = player.as_ref().and_then(|p| player_money(currencies, p));
        return replay_answer(operation.keyed(), existing, balance);
    }
    let player_id = operation.keyed().player_id.clone();
    let operation = Arc::new(operation);
    let currencies = Arc::new(currencies.clone());
    let answer = store
        .write_for(
            &player_id,
            Box::new(move |txn| {
                let operation = Arc::clone(&operation);
                let currencies = Arc::clone(&currencies);
                Box::pin(async move { first_execution(txn, &currencies, operation.as_ref()).await })
            }),
        )
        .await;
    if answer.is_ok() {
        crate::failpoint::hit("after_commit_before_reply");
    }
    answer
}

async fn first_execution<O: Operation>(
    txn: &DatabaseTransaction,
    currencies: &CurrencyTable,
    operation: &O,
) -> Result<Answer, ServiceError> {
    let keyed = operation.keyed();
    let now = Utc::now();
    let Some(wallet_tx_id) = claim(txn, keyed, now).await? else {
        // Someone else committed this key between our fast-path read and the claim (on
        // PostgreSQL the claim waited for them): theirs is the answer.
        let existing = find(txn, keyed).await?.ok_or(ServiceError::InProgress)?;
        return replay(txn, currencies, keyed, existing).await;
    };
    crate::failpoint::hit("after_claim");
    let decision = operation.decide(txn, wallet_tx_id, now).await?;
    crate::failpoint::hit("after_money");
    record(txn, keyed, wallet_tx_id, decision, now).await
}

async fn find(
    db: &impl ConnectionTrait,
    keyed: &KeyedRequest,
) -> Result<Option<wtx::Model>, ServiceError> {
    Ok(wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(keyed.scope.as_str()))
        .filter(wtx::Column::TransactionId.eq(keyed.transaction_id.as_str()))
        .one(db)
        .await?)
}

/// The key's row and its player's, in one statement (a replay's only read).
async fn find_with_player(
    db: &DatabaseConnection,
    keyed: &KeyedRequest,
) -> Result<Option<(wtx::Model, Option<player::Model>)>, ServiceError> {
    let backend = db.get_database_backend();
    let sql = crate::db::numbered_parameters(
        backend,
        format!(
            "SELECT {}, {} FROM wallet_transactions t LEFT JOIN players p ON p.id = t.player_id \
             WHERE t.scope = $1 AND t.transaction_id = $2",
            crate::db::aliased_columns::<wtx::Entity>("t"),
            crate::db::aliased_columns::<player::Entity>("p"),
        ),
    );
    let values: [sea_orm::Value; 2] = [
        keyed.scope.as_str().into(),
        keyed.transaction_id.as_str().into(),
    ];
    let Some(row) = db
        .query_one(Statement::from_sql_and_values(backend, sql, values))
        .await?
    else {
        return Ok(None);
    };
    let player = match row.try_get::<Option<String>>("", "p_id")? {
        Some(_) => Some(player::Model::from_query_result(&row, "p_")?),
        None => None,
    };
    Ok(Some((wtx::Model::from_query_result(&row, "t_")?, player)))
}

/// Inserts the key's row; `None` if the key already exists. The unique index on
/// (scope, transaction_id) is what makes this exactly once, across processes.
async fn claim(
    txn: &DatabaseTransaction,
    keyed: &KeyedRequest,
    now: DateTime<Utc>,
) -> Result<Option<i64>, ServiceError> {
    let row = wtx::ActiveModel {
        scope: Set(keyed.scope.clone()),
        transaction_id: Set(keyed.transaction_id.as_str().to_owned()),
        op: Set(keyed.op.to_owned()),
        kind: Set(keyed.kind.map(str::to_owned)),
        player_id: Set(keyed.player_id.clone()),
        round_id: Set(keyed.round_id.clone()),
        game_id: Set(keyed.game_id.clone()),
        amount_minor: Set(keyed.amount.as_ref().map(|m| m.minor.get())),
        currency: Set(keyed.amount.as_ref().map(|m| m.currency.code().to_owned())),
        target_transaction_id: Set(keyed.target_transaction_id.clone()),
        fingerprint: Set(keyed.fingerprint.to_json()),
        state: Set(IN_PROGRESS.to_owned()),
        http_status: Set(0),
        response_body: Set(String::new()),
        request_body: Set(keyed.request_body.clone()),
        request_id: Set(keyed.request_id.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let inserted = wtx::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([wtx::Column::Scope, wtx::Column::TransactionId])
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(txn)
        .await;
    match inserted {
        Ok(TryInsertResult::Inserted(result)) => Ok(Some(result.last_insert_id)),
        Ok(_) => Ok(None),
        Err(error) if crate::db::sqlstate(&error).as_deref() == Some("55P03") => {
            Err(ServiceError::InProgress)
        }
        Err(error) => Err(error.into()),
    }
}

/// Stores the decision as the key's permanent answer.
async fn record(
    txn: &DatabaseTransaction,
    keyed: &KeyedRequest,
    wallet_tx_id: i64,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<Answer, ServiceError> {
    let recorded = first_answer(keyed, wallet_tx_id, decision, now);
    let update = wtx::ActiveModel {
        state: Set(recorded.state.to_owned()),
        outcome: Set(recorded.outcome.map(str::to_owned)),
        error_code: Set(recorded.error_code.map(str::to_owned)),
        http_status: Set(i32::from(recorded.answer.http_status)),
        response_body: Set(recorded.first_body),
        updated_at: Set(now),
        ..Default::default()
    };
    // update_many: no read-back of the row (`update` fetches it again on SQLite).
    wtx::Entity::update_many()
        .set(update)
        .filter(wtx::Column::Id.eq(wallet_tx_id))
        .exec(txn)
        .await?;
    Ok(recorded.answer)
}

/// A decision as the key's record keeps it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub answer: Answer,
    pub state: &'static str,
    pub outcome: Option<&'static str>,
    pub error_code: Option<&'static str>,
    /// The body exactly as first sent, for the status lookup's `original_response`;
    /// replays take `status`, `error` and `transaction` from it.
    pub first_body: String,
}

/// The permanent answer a decision makes, without touching the database (`server seed`
/// writes history with it, so seeded answers have the wallet's own shape).
pub fn first_answer(
    keyed: &KeyedRequest,
    wallet_tx_id: i64,
    decision: Decision,
    now: DateTime<Utc>,
) -> Recorded {
    let (http_status, stored, state, outcome, error_code, balance) = match decision {
        Decision::Done {
            state,
            outcome,
            fields,
            balance,
        } => {
            let mut transaction = common_fields(keyed, wallet_tx_id);
            transaction.extend(fields);
            transaction.insert("state".into(), json!(state));
            transaction.insert("balance_after".into(), json!(balance.to_wire()));
            transaction.insert("committed_at".into(), json!(format_time(now)));
            let stored = json!({ "status": "OK", "transaction": transaction });
            (200, stored, state, outcome, None, Some(balance))
        }
        Decision::Declined {
            error,
            state,
            balance,
        } => {
            let stored = json!({
                "status": "ERROR",
                "error": error.to_json(),
                "transaction": { "transaction_id": keyed.transaction_id.as_str(), "state": state },
            });
            (
                error.status(),
                stored,
                state,
                None,
                Some(error.code.as_str()),
                balance,
            )
        }
    };
    let answer = Answer {
        http_status,
        stored,
        replayed: false,
        balance,
    };
    let first_body = answer.clone().into_body(&keyed.request_id).to_string();
    Recorded {
        answer,
        state,
        outcome,
        error_code,
        first_body,
    }
}

fn common_fields(keyed: &KeyedRequest, wallet_tx_id: i64) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert(
        "transaction_id".into(),
        json!(keyed.transaction_id.as_str()),
    );
    fields.insert(
        "wallet_tx_id".into(),
        json!(format_wallet_tx_id(wallet_tx_id)),
    );
    fields.insert("op".into(), json!(keyed.op));
    if let Some(kind) = keyed.kind {
        fields.insert("kind".into(), json!(kind));
    }
    fields.insert("player_id".into(), json!(keyed.player_id));
    if let Some(round_id) = &keyed.round_id {
        fields.insert("round_id".into(), json!(round_id));
    }
    if let Some(game_id) = &keyed.game_id {
        fields.insert("game_id".into(), json!(game_id));
    }
    if let Some(amount) = &keyed.amount {
        fields.insert("amount".into(), json!(amount.to_wire()));
    }
    fields
}

/// The wallet's own id of a transaction, as shown to providers.
pub fn format_wallet_tx_id(id: i64) -> String {
    format!("wtx-{id:012}")
}

/// Timestamps on the wire: RFC 3339, UTC, milliseconds.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The stored answer again, or a conflict if the request means something else.
async fn replay(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    keyed: &KeyedRequest,
    existing: wtx::Model,
) -> Result<Answer, ServiceError> {
    let balance = current_balance(db, currencies, &existing.player_id).await?;
    replay_answer(keyed, existing, balance)
}

/// The stored answer with the player's balance now, or a conflict.
fn replay_answer(
    keyed: &KeyedRequest,
    existing: wtx::Model,
    balance: Option<Money>,
) -> Result<Answer, ServiceError> {
    if existing.state == IN_PROGRESS {
        return Err(ServiceError::InProgress);
    }
    let stored_fingerprint = Fingerprint::from_json(&existing.fingerprint);
    let differing = keyed.fingerprint.differing_fields(&stored_fingerprint);
    if !differing.is_empty() {
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
    let stored: Value = serde_json::from_str(&existing.response_body).map_err(|e| {
        ServiceError::Db(sea_orm::DbErr::Custom(format!(
            "stored answer unreadable: {e}"
        )))
    })?;
    let http_status = u16::try_from(existing.http_status).unwrap_or(500);
    Ok(Answer {
        http_status,
        stored,
        replayed: true,
        balance,
    })
}

/// The player's balance now, if the player exists.
pub async fn current_balance(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    player_id: &str,
) -> Result<Option<Money>, ServiceError> {
    let Some(player) = player::Entity::find_by_id(player_id).one(db).await? else {
        return Ok(None);
    };
    Ok(player_money(currencies, &player))
}

/// A player's balance as money. `None` only if configuration dropped the currency.
pub fn player_money(currencies: &CurrencyTable, player: &player::Model) -> Option<Money> {
    let currency = currencies.currency(&player.currency).ok()?;
    let minor = MinorUnits::from_stored(player.balance_minor).ok()?;
    Some(Money::new(minor, currency))
}
