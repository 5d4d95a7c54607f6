//! The money path: every bet, win, rollback, round close and cashier adjustment runs here,
//! exactly once per idempotency key.
//!
//! A replay is answered from one indexed read on a reader connection and never waits for
//! the writer. A first execution joins the writer's queue; the writer takes every queued
//! operation as one batch and
//! 1. loads the batch's rows in a few set-based statements (`load`): its players (locked
//!    in id order on PostgreSQL), its keys, the sessions, rounds, tombstones and bets
//!    its rules read;
//! 2. runs each operation's rules, in arrival order, as a pure function over that
//!    in-memory state (`Operation::decide`, over [`BatchState`]), so a later operation of
//!    the batch sees what an earlier one did (a duplicate in the same batch is a replay);
//! 3. writes every decision with one multi-row statement per table (`flush`) and
//!    commits once.
//!
//! Exactly once still rests on the unique index on `(scope, transaction_id)`: the keys
//! are inserted with `ON CONFLICT DO NOTHING`, and if one was claimed meanwhile (another
//! process on the same PostgreSQL) the batch is rolled back and its operations run again
//! one by one, when the lost key is found and answered as a replay. See
//! docs/PERFORMANCE.md for the measurements behind the design.
mod batch;
mod flush;
mod load;
pub mod model;
#[cfg(test)]
mod rules_props;
mod state;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use crate::db::Store;
use crate::domain::{CurrencyTable, MinorUnits, Money, TxState};
use crate::error::ServiceError;
use crate::idempotency::{
    replay_answer, Answer, AnswerColumns, Decision, KeyedRequest, StoredAnswer,
};
pub use state::{round_key, AuditRecord, BatchState, Needs};

/// One money operation: its key, the rows its rules read, and the rules.
pub trait Operation: Send + Sync + 'static {
    fn keyed(&self) -> &KeyedRequest;
    /// Adds what [`Operation::decide`] will read to the batch's needs.
    fn needs(&self, needs: &mut Needs);
    /// The rules: decides the operation over the batch's state and makes its changes
    /// there, through `state`'s methods. A pure function of `state`: nothing here waits
    /// or touches the database. An `Err` changes nothing and is not recorded.
    fn decide(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError>;
    /// What the operation's money movement is called in its `money.moved` event
    /// (docs/EVENTS.md): the operation's own name unless it says otherwise.
    fn movement_op(&self) -> &'static str {
        self.keyed().op.as_str()
    }
}

/// Runs `operation` exactly once for its key and returns its answer, or the stored one.
///
/// `signed_by` is the provider's signing key when it was checked against a cached copy:
/// the key's first read confirms that the key still stands (see [`SigningKey`]).
pub async fn execute(
    store: &Store,
    currencies: &Arc<CurrencyTable>,
    operation: Arc<dyn Operation>,
    signed_by: Option<&SigningKey>,
) -> Result<Answer, ServiceError> {
    // The fast path: a replay reads once and never waits for the writer.
    if let Some(answer) = replay(store, currencies, operation.keyed(), signed_by).await? {
        return Ok(answer);
    }
    let mut answers = write(store, currencies, vec![operation]).await?;
    answers
        .pop()
        .ok_or_else(|| ServiceError::Bug("a money batch answered nothing".into()))
}

/// Runs a player's `operations` as one, in order: each exactly once for its key, and
/// either every one takes effect or none does (a PAM round settled in one call,
/// docs/PAM.md). The answers are the operations' own, first or replayed; when one is
/// refused (any answer but `200`), it is the last answer and nothing of the group was
/// done (the refusal is not recorded either).
pub async fn execute_all(
    store: &Store,
    currencies: &Arc<CurrencyTable>,
    operations: Vec<Arc<dyn Operation>>,
) -> Result<Vec<Answer>, ServiceError> {
    let player_id = operations.first().map(|op| op.keyed().player_id.clone());
    if operations
        .iter()
        .any(|op| Some(&op.keyed().player_id) != player_id.as_ref())
    {
        return Err(ServiceError::Bug(
            "a group of money operations spans several players".into(),
        ));
    }
    write(store, currencies, operations).await
}

/// Queues operations for the player's writer as one unit and waits for their answers.
async fn write(
    store: &Store,
    currencies: &Arc<CurrencyTable>,
    operations: Vec<Arc<dyn Operation>>,
) -> Result<Vec<Answer>, ServiceError> {
    let Some(player_id) = operations.first().map(|op| op.keyed().player_id.clone()) else {
        return Ok(Vec::new());
    };
    for operation in &operations {
        operation.keyed().packed_request();
    }
    let (unit, answers) = batch::unit(operations, Arc::clone(currencies));
    store.enqueue_for(&player_id, unit)?;
    // A dropped reply means the batch never ran (BEGIN failed): nothing was committed.
    let answers = answers.await.unwrap_or_else(|_| {
        Err(ServiceError::Db(sea_orm::DbErr::Custom(
            "write batch not started".into(),
        )))
    });
    store.space().note(&answers);
    if answers.is_ok() {
        crate::failpoint::hit("after_commit_before_reply");
    }
    answers
}

/// A provider's signing key as a request was verified with, from the wallet's cache.
///
/// On PostgreSQL several processes share the keys, and one that replaces or removes a
/// key cannot clear the others' caches at once. So a money operation verified with a
/// cached key has the key confirmed by the same statement as its first read (the
/// replay read), at no extra round trip: a key removed or replaced through any process
/// stops working at once, as docs/API.md promises. Lookups read their key instead.
#[derive(Clone)]
pub struct SigningKey {
    pub key_id: String,
    pub secret: String,
}

// Written by hand so that the secret never reaches a log line.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The key's stored answer with the player's balance now, in one indexed read; `None`
/// when the key is new.
async fn replay(
    store: &Store,
    currencies: &CurrencyTable,
    keyed: &KeyedRequest,
    signed_by: Option<&SigningKey>,
) -> Result<Option<Answer>, ServiceError> {
    let inline = store
        .inline_reads()
        .and_then(|reads| read_key_inline(reads, keyed).ok());
    let row = match (inline, store.pg_reads(), signed_by) {
        (Some(row), _, _) => row,
        (None, Some(reads), Some(signing_key)) => {
            read_key_confirming(reads, keyed, signing_key).await?
        }
        // PostgreSQL for an operator's operation, or an inline read that failed (the file
        // busy past its short wait).
        _ => read_key(store, keyed).await?,
    };
    let Some(mut row) = row else {
        return Ok(None);
    };
    // The key may be a batch committed but not yet on disk (the first execution's caller
    // still waits for it): answered only once it is durable.
    store.settled().await;
    let balance = row
        .currency
        .as_deref()
        .zip(row.balance_minor)
        .and_then(|(currency, minor)| money(currencies, currency, minor));
    let first_body = row
        .answer_columns(keyed)
        .map(|columns| columns.first_body("", currencies).into_owned());
    let first_body = first_body.as_deref().unwrap_or(&row.response_body);
    let stored = StoredAnswer {
        state: TxState::parse(&row.state)?,
        fingerprint: &row.fingerprint,
        http_status: row.http_status,
        first_body,
    };
    replay_answer(keyed, stored, balance).map(Some)
}

/// What a replay reads: the key's stored answer (or the columns it is rebuilt from) and
/// the player's balance now.
#[derive(FromQueryResult)]
struct StoredKey {
    state: String,
    fingerprint: String,
    http_status: i32,
    response_body: String,
    currency: Option<String>,
    balance_minor: Option<i64>,
    id: i64,
    op: String,
    kind: Option<String>,
    player_id: String,
    round_id: Option<String>,
    game_id: Option<String>,
    amount_minor: Option<i64>,
    amount_currency: Option<String>,
    target_transaction_id: Option<String>,
    balance_after_minor: Option<i64>,
    created_at: DateTime<Utc>,
    request_id: String,
}

impl StoredKey {
    /// The columns the first answer is rebuilt from, taken out of the row; `None` when the
    /// row keeps the answer itself.
    fn answer_columns(&mut self, keyed: &KeyedRequest) -> Option<AnswerColumns> {
        if !self.response_body.is_empty() {
            return None;
        }
        Some(AnswerColumns {
            id: self.id,
            transaction_id: keyed.transaction_id.as_str().to_owned(),
            op: std::mem::take(&mut self.op),
            kind: self.kind.take(),
            player_id: std::mem::take(&mut self.player_id),
            round_id: self.round_id.take(),
            game_id: self.game_id.take(),
            amount_minor: self.amount_minor,
            currency: self.amount_currency.take(),
            target_transaction_id: self.target_transaction_id.take(),
            balance_after_minor: self.balance_after_minor,
            created_at: self.created_at,
            request_id: std::mem::take(&mut self.request_id),
        })
    }
}

/// The columns of [`StoredKey`] after the first six, in its order.
macro_rules! answer_columns {
    () => {
        "t.id, t.op, t.kind, t.player_id, t.round_id, t.game_id, t.amount_minor, \
         t.currency AS amount_currency, t.target_transaction_id, t.balance_after_minor, \
         t.created_at, t.request_id"
    };
}

const REPLAY_READ: &str = concat!(
    "SELECT t.state, t.fingerprint, t.http_status, t.response_body, p.currency, \
     p.balance_minor, ",
    answer_columns!(),
    " FROM wallet_transactions t LEFT JOIN players p ON p.id = t.player_id \
     WHERE t.scope = $1 AND t.transaction_id = $2"
);

/// The read through the pool (SQLite when the inline read failed) or, on PostgreSQL,
/// on the per-request reads' own connections, where it stays prepared (see
/// `db::PgReads`).
async fn read_key(store: &Store, keyed: &KeyedRequest) -> Result<Option<StoredKey>, ServiceError> {
    if let Some(reads) = store.pg_reads() {
        let row = reads
            .fetch_optional(REPLAY_READ, &[&keyed.scope, keyed.transaction_id.as_str()])
            .await?;
        return Ok(row
            .map(|row| StoredKey::from_query_result(&row.into(), ""))
            .transpose()?);
    }
    let db = store.reader();
    let backend = db.get_database_backend();
    let sql = crate::db::numbered_parameters(backend, REPLAY_READ.to_owned());
    let values: [sea_orm::Value; 2] = [
        keyed.scope.as_str().into(),
        keyed.transaction_id.as_str().into(),
    ];
    let statement = Statement::from_sql_and_values(backend, sql, values);
    Ok(StoredKey::find_by_statement(statement).one(db).await?)
}

/// The replay read with the signing key's confirmation, on PostgreSQL's per-request
/// connections (see [`SigningKey`]), batched with the other requests' (see
/// `db::PgReads::fetch_each`). One row per read: the key's verdict, and the transaction's
/// columns, null when the key is new.
const REPLAY_READS_CONFIRMING_KEYS: &str = concat!(
    "SELECT r.i, EXISTS (SELECT 1 FROM provider_keys k \
     WHERE k.key_id = r.key_id AND k.secret = r.secret) AS key_stands, t.state, t.fingerprint, \
     t.http_status, t.response_body, p.currency, p.balance_minor, ",
    answer_columns!(),
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY \
     AS r(scope, transaction_id, key_id, secret, i) \
     LEFT JOIN wallet_transactions t ON t.scope = r.scope AND t.transaction_id = r.transaction_id \
     LEFT JOIN players p ON p.id = t.player_id"
);

async fn read_key_confirming(
    reads: &crate::db::PgReads,
    keyed: &KeyedRequest,
    signing_key: &SigningKey,
) -> Result<Option<StoredKey>, ServiceError> {
    let parameters = vec![
        keyed.scope.clone(),
        keyed.transaction_id.as_str().to_owned(),
        signing_key.key_id.clone(),
        signing_key.secret.clone(),
    ];
    let row: sea_orm::QueryResult = reads
        .fetch_each(REPLAY_READS_CONFIRMING_KEYS, parameters)
        .await?
        .into();
    if !row.try_get::<bool>("", "key_stands")? {
        return Err(ServiceError::KeyWithdrawn);
    }
    if row.try_get::<Option<String>>("", "state")?.is_none() {
        return Ok(None);
    }
    Ok(Some(StoredKey::from_query_result(&row, "")?))
}

/// SQLite: the same read on the calling thread, without a hand-off to a pool's
/// connection thread (see `db::InlineReads`).
fn read_key_inline(
    reads: &crate::db::InlineReads,
    keyed: &KeyedRequest,
) -> Result<Option<StoredKey>, ServiceError> {
    use rusqlite::OptionalExtension;
    reads
        .read(|connection| {
            connection
                // `$1` and `$2` are SQLite parameters too, bound by position.
                .prepare_cached(REPLAY_READ)?
                .query_row(
                    [keyed.scope.as_str(), keyed.transaction_id.as_str()],
                    |row| {
                        let created_at: String = row.get(16)?;
                        Ok(StoredKey {
                            state: row.get(0)?,
                            fingerprint: row.get(1)?,
                            http_status: row.get(2)?,
                            response_body: row.get(3)?,
                            currency: row.get(4)?,
                            balance_minor: row.get(5)?,
                            id: row.get(6)?,
                            op: row.get(7)?,
                            kind: row.get(8)?,
                            player_id: row.get(9)?,
                            round_id: row.get(10)?,
                            game_id: row.get(11)?,
                            amount_minor: row.get(12)?,
                            amount_currency: row.get(13)?,
                            target_transaction_id: row.get(14)?,
                            balance_after_minor: row.get(15)?,
                            created_at: DateTime::parse_from_rfc3339(&created_at)
                                .map(|time| time.with_timezone(&Utc))
                                .map_err(|error| {
                                    rusqlite::Error::FromSqlConversionFailure(
                                        16,
                                        rusqlite::types::Type::Text,
                                        Box::new(error),
                                    )
                                })?,
                            request_id: row.get(17)?,
                        })
                    },
                )
                .optional()
        })
        .map_err(|error| ServiceError::Db(sea_orm::DbErr::Custom(error.to_string())))
}

/// A stored balance as money. `None` only if configuration dropped the currency.
pub fn money(currencies: &CurrencyTable, currency: &str, balance_minor: i64) -> Option<Money> {
    let currency = currencies.currency(currency).ok()?;
    let minor = MinorUnits::from_stored(balance_minor).ok()?;
    Some(Money::new(minor, currency))
}

/// A player row's balance as money.
pub fn player_money(
    currencies: &CurrencyTable,
    player: &crate::db::entities::player::Model,
) -> Option<Money> {
    money(currencies, &player.currency, player.balance_minor)
}
