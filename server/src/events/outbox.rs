//! The outbox (docs/EVENTS.md, "How events leave the wallet"): rows written in the
//! transaction of the change they describe, numbered in commit order, read in that order
//! and turned into the bodies receivers get.
//!
//! The money path writes its rows itself, in the batch's statements (`money::flush`);
//! reconciliation and people acting on findings write theirs through
//! [`record_findings`].
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use serde::Serialize;

use crate::db::entities::discrepancy;
use crate::db::sql::Sql;
use crate::db::{InlineReads, Store};
use crate::domain::{CurrencyTable, MinorUnits, Money};
use crate::error::ServiceError;

/// Rows one numbering pass takes at most.
const NUMBER_AT_ONCE: i64 = 5000;
/// `pg_try_advisory_xact_lock`'s key for numbering: one node at a time.
pub const NUMBERING_LOCK: i64 = 0x6f75_7462_6f78; // "outbox"

/// One outbox row as read back.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    /// The order receivers see (the id on SQLite).
    pub position: i64,
    pub event_type: String,
    pub player_id: Option<String>,
    pub sequence: Option<i64>,
    pub wallet_tx_id: Option<i64>,
    pub op: Option<String>,
    /// A finding event's `data`, as written.
    pub data: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// Where events and what their bodies are built from are read: the pool, and on SQLite
/// also the calling thread's own connection (`db::InlineReads`). A delivery round reads a
/// few hundred rows; through the pool every statement is a hand-off to a connection's
/// thread and back and every row a decoded `QueryResult`, which on two cores cost the
/// money path more than the reads themselves (docs/PERFORMANCE.md, "Events").
#[derive(Clone, Copy)]
pub struct EventReads<'a> {
    pool: &'a DatabaseConnection,
    inline: Option<&'a InlineReads>,
}

impl<'a> EventReads<'a> {
    /// The store's reads: in place where it has them.
    pub fn of(store: &'a Store) -> EventReads<'a> {
        EventReads {
            pool: store.reader(),
            inline: store.inline_reads(),
        }
    }

    /// Reads through `pool` only.
    pub fn pool(pool: &'a DatabaseConnection) -> EventReads<'a> {
        EventReads { pool, inline: None }
    }

    /// `read` on this thread's connection; `None` without one, or when it failed (while
    /// the file is recovered after a crash): the caller then reads through the pool.
    fn in_place<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        match self.inline?.read(read) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::debug!(%error, "reading events in place failed; through the pool");
                None
            }
        }
    }
}

/// `evt_` and the outbox row's id: stable, since the row never changes.
pub fn event_id(id: i64) -> String {
    format!("evt_{id:012}")
}

/// The outbox id an `event_id` names.
pub fn parse_event_id(text: &str) -> Option<i64> {
    let digits = text.strip_prefix("evt_")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

const COLUMNS: &str =
    "id, event_type, player_id, sequence, wallet_transaction_id, op, data, occurred_at";

/// What events are read in order of: the position `number` gave on PostgreSQL, the id on
/// SQLite (one writer, so ids become visible in order).
pub(super) fn position_column(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "position",
        _ => "id",
    }
}

/// PostgreSQL: numbers the committed rows that have no position yet, in id order after
/// the largest position. Transactions commit out of id order, so a row with a smaller id
/// may become visible after a larger one was delivered; numbering what is visible, in one
/// node at a time, gives an order in which nothing committed is ever skipped. A player's
/// events stay in order: the batch that writes event N+1 waited for N's commit (it holds
/// the player's row lock) and took a larger id, so whenever N+1 is visible N is too.
/// Returns how many rows it numbered (0 while another node numbers).
pub async fn number(db: &DatabaseConnection) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(0);
    }
    let txn = db.begin().await?;
    let locked = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [NUMBERING_LOCK.into()],
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        return Ok(0);
    }
    let numbered = txn
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH base AS (SELECT COALESCE(MAX(position), 0) AS p FROM outbox_events \
             WHERE position IS NOT NULL), \
             fresh AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM \
             (SELECT id FROM outbox_events WHERE position IS NULL ORDER BY id LIMIT $1) f) \
             UPDATE outbox_events o SET position = base.p + fresh.n FROM base, fresh \
             WHERE o.id = fresh.id",
            [NUMBER_AT_ONCE.into()],
        ))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(numbered)
}

/// Rows one pruning statement deletes at most: a short write between the money path's
/// batches (on SQLite it joins the writer's next batch).
const PRUNE_AT_ONCE: i64 = 2000;
/// Statements one pruning pass runs at most; the next pass goes on where it stopped.
const PRUNE_STATEMENTS: usize = 50;

/// Deletes the outbox rows nobody needs any more (docs/EVENTS.md, "Retention"): every
/// subscription's cursor has passed them, no delivery holds them (retried or dead), and
/// they were numbered at least `retention` ago. The row with the largest position stays,
/// whatever its age: PostgreSQL numbers after it and new subscriptions start at it.
///
/// A row's age is known without reading it: each pass remembers the largest position it
/// saw and when, so a position seen `retention` ago bounds the rows older than that. A
/// process that starts again waits `retention` before it prunes anything; several
/// PostgreSQL nodes each prune the same rows, and deleting a deleted row does nothing.
pub struct Pruner {
    retention: std::time::Duration,
    /// `(when, the largest position then)`, oldest first.
    seen: std::collections::VecDeque<(std::time::Instant, i64)>,
    /// Every row up to here that no delivery held is deleted; a held one is deleted when
    /// its delivery lets go of it (`released`).
    done_to: i64,
}

impl Pruner {
    pub fn new(retention: std::time::Duration) -> Pruner {
        Pruner {
            retention,
            seen: std::collections::VecDeque::new(),
            done_to: 0,
        }
    }

    /// One pass; returns the position up to which the outbox is pruned now.
    pub async fn pass(&mut self, store: &Store) -> Result<i64, ServiceError> {
        let db = store.reader();
        let backend = db.get_database_backend();
        let column = position_column(backend);
        let last = largest_position(db).await?;
        let now = std::time::Instant::now();
        self.seen.push_back((now, last));
        let mut old_enough = None;
        while let Some(&(at, position)) = self.seen.front() {
            if now.duration_since(at) < self.retention {
                break;
            }
            old_enough = Some((at, position));
            self.seen.pop_front();
        }
        let Some((at, old_enough)) = old_enough else {
            return Ok(self.done_to);
        };
        // Still the best bound next time, until a later sample is old enough.
        self.seen.push_front((at, old_enough));
        // Every subscription's cursor, enabled or not: a disabled one resumes where it
        // stopped.
        let cursor: Option<i64> = db
            .query_one(Statement::from_string(
                backend,
                "SELECT MIN(dispatched_to) AS c FROM webhooks",
            ))
            .await?
            .map(|row| row.try_get::<Option<i64>>("", "c"))
            .transpose()?
            .flatten();
        let bound = cursor
            .map_or(old_enough, |cursor| cursor.min(old_enough))
            .min(last - 1);
        for _ in 0..PRUNE_STATEMENTS {
            if self.done_to >= bound {
                break;
            }
            // Where this statement's rows end: the PRUNE_AT_ONCE-th row after `done_to`.
            let sql = crate::db::numbered_parameters(
                backend,
                format!(
                    "SELECT {column} AS p FROM outbox_events WHERE {column} > $1 \
                     AND {column} <= $2 ORDER BY {column} LIMIT 1 OFFSET $3"
                ),
            );
            let end: i64 = db
                .query_one(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [
                        self.done_to.into(),
                        bound.into(),
                        (PRUNE_AT_ONCE - 1).into(),
                    ],
                ))
                .await?
                .map(|row| row.try_get("", "p"))
                .transpose()?
                .unwrap_or(bound);
            let sql = crate::db::numbered_parameters(
                backend,
                format!(
                    "DELETE FROM outbox_events WHERE {column} > $1 AND {column} <= $2 \
                     AND id NOT IN (SELECT event_id FROM webhook_deliveries)"
                ),
            );
            let statement =
                Statement::from_sql_and_values(backend, sql, [self.done_to.into(), end.into()]);
            store
                .write_statements(std::sync::Arc::new(vec![statement]))
                .await?;
            self.done_to = end;
        }
        Ok(self.done_to)
    }
}

/// Deletes these events if the pruner has passed them (`pruned_to`, from
/// [`Pruner::pass`]) and no delivery holds them any more: the statement a delivery round
/// adds when it lets go of held events, so that an event held while the pruner passed is
/// not kept for ever.
pub fn released(backend: DbBackend, ids: &[i64], pruned_to: i64) -> Statement {
    let column = position_column(backend);
    let mut sql = Sql::new(backend, "DELETE FROM outbox_events WHERE id ");
    let list = sql.id_list(ids);
    sql.push(&list);
    let bound = sql.param(pruned_to);
    sql.push(&format!(
        " AND {column} <= {bound} AND id NOT IN (SELECT event_id FROM webhook_deliveries)"
    ));
    sql.statement()
}

/// The largest position given so far (0 for an empty outbox).
async fn largest_position(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let column = position_column(backend);
    let row = db
        .query_one(Statement::from_string(
            backend,
            format!("SELECT COALESCE(MAX({column}), 0) AS p FROM outbox_events"),
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "p")?,
        None => 0,
    })
}

/// The largest position given so far: where a new subscription starts.
pub async fn last_position(db: &DatabaseConnection) -> Result<i64, DbErr> {
    // Everything committed so far numbered, however much waited (a wallet that ran
    // without subscriptions): the new subscription starts after all of it.
    while number(db).await? as i64 >= NUMBER_AT_ONCE {}
    largest_position(db).await
}

/// Up to `limit` events after `position`, in order.
pub async fn after(
    reads: EventReads<'_>,
    position: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, DbErr> {
    let backend = reads.pool.get_database_backend();
    let column = position_column(backend);
    // `$1` and `$2` are SQLite parameters too, bound by position.
    let sql = format!(
        "SELECT {COLUMNS}, {column} AS position FROM outbox_events WHERE {column} > $1 \
         ORDER BY {column} LIMIT $2"
    );
    let in_place = reads.in_place(|connection| {
        connection
            .prepare_cached(&sql)?
            .query_map([position, limit], event_of_row)?
            .collect()
    });
    match in_place {
        Some(events) => Ok(events),
        None => read(reads.pool, sql, vec![position.into(), limit.into()]).await,
    }
}

/// The events with these outbox ids (for deliveries being retried).
pub async fn by_ids(reads: EventReads<'_>, ids: &[i64]) -> Result<Vec<StoredEvent>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let in_place = reads.in_place(|connection| {
        connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, id AS position FROM outbox_events \
                 WHERE id IN (SELECT value FROM json_each(?1))"
            ))?
            .query_map([json_ids(ids)], event_of_row)?
            .collect()
    });
    if let Some(events) = in_place {
        return Ok(events);
    }
    let backend = reads.pool.get_database_backend();
    let column = position_column(backend);
    let mut sql = Sql::new(backend, "");
    let list = sql.id_list(ids);
    let text = format!("SELECT {COLUMNS}, {column} AS position FROM outbox_events WHERE id {list}");
    let statement = Statement::from_sql_and_values(backend, text, sql.values);
    rows(reads.pool, statement).await
}

/// Ids as one JSON array: a single parameter for one cached statement, whatever their
/// number (`json_each`).
fn json_ids(ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("[{}]", list.join(","))
}

/// A row of `SELECT {COLUMNS}, position` read in place.
fn event_of_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        id: row.get(0)?,
        event_type: row.get(1)?,
        player_id: row.get(2)?,
        sequence: row.get(3)?,
        wallet_tx_id: row.get(4)?,
        op: row.get(5)?,
        data: row.get(6)?,
        occurred_at: row.get(7)?,
        position: row.get(8)?,
    })
}

async fn read(
    db: &DatabaseConnection,
    sql: String,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<StoredEvent>, DbErr> {
    let backend = db.get_database_backend();
    let sql = crate::db::numbered_parameters(backend, sql);
    rows(db, Statement::from_sql_and_values(backend, sql, values)).await
}

async fn rows(db: &DatabaseConnection, statement: Statement) -> Result<Vec<StoredEvent>, DbErr> {
    db.query_all(statement)
        .await?
        .into_iter()
        .map(|row| {
            Ok(StoredEvent {
                id: row.try_get("", "id")?,
                position: row.try_get::<Option<i64>>("", "position")?.unwrap_or(0),
                event_type: row.try_get("", "event_type")?,
                player_id: row.try_get("", "player_id")?,
                sequence: row.try_get("", "sequence")?,
                wallet_tx_id: row.try_get("", "wallet_transaction_id")?,
                op: row.try_get("", "op")?,
                data: row.try_get("", "data")?,
                occurred_at: row.try_get("", "occurred_at")?,
            })
        })
        .collect()
}

// ----------------------------------------------------------------------------------
// Bodies
// ----------------------------------------------------------------------------------

/// `money.moved`'s `data`, fields in the order docs/EVENTS.md lists them.
#[derive(Serialize)]
struct MoneyMoved<'a> {
    player_id: &'a str,
    sequence: i64,
    provider_id: Option<&'a str>,
    transaction_id: &'a str,
    op: &'a str,
    kind: Option<&'a str>,
    round_id: Option<&'a str>,
    game_id: Option<&'a str>,
    direction: &'static str,
    amount: crate::domain::WireMoney,
    balance_after: crate::domain::WireMoney,
    ledger_entry_ids: Vec<i64>,
}

/// What a money event's body is built from: its transaction and its ledger entries,
/// neither of which changes once written, so every delivery of an event carries the
/// same bytes.
struct Movement {
    scope: String,
    transaction_id: String,
    kind: Option<String>,
    round_id: Option<String>,
    game_id: Option<String>,
    /// `(id, account, currency, amount_minor, balance_after_minor)`, in id order.
    entries: Vec<(i64, String, String, i64, Option<i64>)>,
}

/// Every event's body, by outbox id: the envelope with `data`.
pub async fn bodies(
    reads: EventReads<'_>,
    currencies: &CurrencyTable,
    events: &[&StoredEvent],
) -> Result<HashMap<i64, Vec<u8>>, ServiceError> {
    let tx_ids: Vec<i64> = events.iter().filter_map(|e| e.wallet_tx_id).collect();
    let movements = match reads.in_place(|connection| movements_in_place(connection, &tx_ids)) {
        Some(movements) => movements,
        None => movements(reads.pool, &tx_ids).await?,
    };
    let mut bodies = HashMap::with_capacity(events.len());
    for event in events {
        let data = match (&event.data, event.wallet_tx_id) {
            (Some(data), _) => data.clone(),
            (None, Some(tx_id)) => {
                let movement = movements.get(&tx_id).ok_or_else(|| {
                    ServiceError::Bug(format!("event {} names no transaction {tx_id}", event.id))
                })?;
                money_data(currencies, event, movement)?
            }
            (None, None) => {
                return Err(ServiceError::Bug(format!("event {} has no data", event.id)))
            }
        };
        let body = format!(
            "{{\"event_id\":\"{}\",\"type\":{},\"occurred_at\":\"{}\",\"data\":{data}}}",
            event_id(event.id),
            serde_json::Value::from(event.event_type.as_str()),
            crate::idempotency::format_time(event.occurred_at),
        );
        bodies.insert(event.id, body.into_bytes());
    }
    Ok(bodies)
}

fn money_data(
    currencies: &CurrencyTable,
    event: &StoredEvent,
    movement: &Movement,
) -> Result<String, ServiceError> {
    let player_id = event.player_id.as_deref().unwrap_or_default();
    let account = crate::ledger::player_account(player_id);
    let (_, _, currency, delta, balance_after) = movement
        .entries
        .iter()
        .find(|entry| entry.1 == account)
        .ok_or_else(|| ServiceError::Bug(format!("event {}: no entry on {account}", event.id)))?;
    let money = |minor: i64| -> Result<crate::domain::WireMoney, ServiceError> {
        let currency = currencies
            .currency(currency)
            .map_err(|e| ServiceError::Bug(e.to_string()))?;
        let minor = MinorUnits::from_stored(minor).map_err(|e| ServiceError::Bug(e.to_string()))?;
        Ok(Money::new(minor, currency).to_wire())
    };
    let provider_id =
        (movement.scope != crate::idempotency::OPERATOR_SCOPE).then_some(movement.scope.as_str());
    let data = MoneyMoved {
        player_id,
        sequence: event.sequence.unwrap_or_default(),
        provider_id,
        transaction_id: &movement.transaction_id,
        op: event.op.as_deref().unwrap_or_default(),
        kind: movement.kind.as_deref(),
        round_id: movement.round_id.as_deref(),
        game_id: movement.game_id.as_deref(),
        direction: if *delta < 0 { "DEBIT" } else { "CREDIT" },
        amount: money(delta.abs())?,
        balance_after: money(balance_after.unwrap_or_default())?,
        ledger_entry_ids: movement.entries.iter().map(|entry| entry.0).collect(),
    };
    serde_json::to_string(&data).map_err(|e| ServiceError::Bug(e.to_string()))
}

/// A transaction's columns as read for a body, in `TRANSACTION_COLUMNS`'s order.
const TRANSACTION_COLUMNS: &str = "id, scope, transaction_id, kind, round_id, game_id";
/// A ledger entry's, in `Movement::entries`' order after the transaction's id.
const ENTRY_COLUMNS: &str =
    "id, wallet_transaction_id, account, currency, amount_minor, balance_after_minor";

/// The movements of these transactions read in place: two cached statements whatever
/// their number.
fn movements_in_place(
    connection: &rusqlite::Connection,
    tx_ids: &[i64],
) -> rusqlite::Result<HashMap<i64, Movement>> {
    let mut movements = HashMap::with_capacity(tx_ids.len());
    if tx_ids.is_empty() {
        return Ok(movements);
    }
    let ids = json_ids(tx_ids);
    let mut transactions = connection.prepare_cached(&format!(
        "SELECT {TRANSACTION_COLUMNS} FROM wallet_transactions \
         WHERE id IN (SELECT value FROM json_each(?1))"
    ))?;
    let mut rows = transactions.query([&ids])?;
    while let Some(row) = rows.next()? {
        movements.insert(
            row.get(0)?,
            Movement {
                scope: row.get(1)?,
                transaction_id: row.get(2)?,
                kind: row.get(3)?,
                round_id: row.get(4)?,
                game_id: row.get(5)?,
                entries: Vec::new(),
            },
        );
    }
    let mut entries = connection.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries \
         WHERE wallet_transaction_id IN (SELECT value FROM json_each(?1))"
    ))?;
    let mut rows = entries.query([&ids])?;
    while let Some(row) = rows.next()? {
        if let Some(movement) = movements.get_mut(&row.get::<_, i64>(1)?) {
            movement.entries.push((
                row.get(0)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ));
        }
    }
    for movement in movements.values_mut() {
        movement.entries.sort_unstable_by_key(|entry| entry.0);
    }
    Ok(movements)
}

async fn movements(
    db: &DatabaseConnection,
    tx_ids: &[i64],
) -> Result<HashMap<i64, Movement>, ServiceError> {
    let mut movements = HashMap::new();
    if tx_ids.is_empty() {
        return Ok(movements);
    }
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend, "");
    let list = sql.id_list(tx_ids);
    let values = sql.values;
    let transactions = db
        .query_all(Statement::from_sql_and_values(
            backend,
            format!("SELECT {TRANSACTION_COLUMNS} FROM wallet_transactions WHERE id {list}"),
            values.clone(),
        ))
        .await?;
    for row in transactions {
        movements.insert(
            row.try_get::<i64>("", "id")?,
            Movement {
                scope: row.try_get("", "scope")?,
                transaction_id: row.try_get("", "transaction_id")?,
                kind: row.try_get("", "kind")?,
                round_id: row.try_get("", "round_id")?,
                game_id: row.try_get("", "game_id")?,
                entries: Vec::new(),
            },
        );
    }
    // One index lookup per transaction, whatever the planner's statistics say: on a
    // ledger that grows fast they lag, and PostgreSQL then read all of `ledger_entries`
    // for a few hundred transactions (docs/PERFORMANCE.md, "Events"). `OFFSET 0` keeps
    // the lateral subquery from being folded into a join it could hash.
    let text = match backend {
        DbBackend::Postgres => format!(
            "SELECT e.* FROM unnest($1::bigint[]) AS x(id) CROSS JOIN LATERAL \
             (SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE wallet_transaction_id = x.id \
             OFFSET 0) e"
        ),
        _ => {
            format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE wallet_transaction_id {list}")
        }
    };
    let entries = db
        .query_all(Statement::from_sql_and_values(backend, text, values))
        .await?;
    for row in entries {
        let tx_id: i64 = row.try_get("", "wallet_transaction_id")?;
        if let Some(movement) = movements.get_mut(&tx_id) {
            movement.entries.push((
                row.try_get("", "id")?,
                row.try_get("", "account")?,
                row.try_get("", "currency")?,
                row.try_get("", "amount_minor")?,
                row.try_get("", "balance_after_minor")?,
            ));
        }
    }
    for movement in movements.values_mut() {
        movement.entries.sort_unstable_by_key(|entry| entry.0);
    }
    Ok(movements)
}

// ----------------------------------------------------------------------------------
// Finding events
// ----------------------------------------------------------------------------------

/// `finding.opened` or `finding.resolved` for a finding as it is now.
pub fn finding_event(event_type: &'static str, finding: &discrepancy::Model) -> (String, String) {
    let details: serde_json::Value =
        serde_json::from_str(&finding.details).unwrap_or(serde_json::Value::Null);
    let mut data = serde_json::json!({
        "finding_id": finding.id,
        "kind": finding.kind,
        "severity": finding.severity,
        "subject_type": finding.subject_type,
        "subject_id": finding.subject_id,
        "provider_id": finding.provider_id,
        "details": details,
    });
    if event_type == super::FINDING_RESOLVED {
        data["resolved_by"] = serde_json::json!(finding.resolved_by);
        data["note"] = serde_json::json!(finding.resolution_note);
    }
    (event_type.to_owned(), data.to_string())
}

/// Writes finding events, `(type, data)`, in the caller's transaction: they commit with
/// the change they describe.
pub async fn record_findings<C: ConnectionTrait>(
    txn: &C,
    events: Vec<(String, String)>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    for chunk in crate::db::sql::statements_of(backend, events) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO outbox_events (event_type, data, occurred_at) ",
        );
        sql.values(chunk, |(event_type, data)| -> [sea_orm::Value; 3] {
            [event_type.into(), data.into(), now.into()]
        });
        txn.execute(sql.statement()).await?;
    }
    Ok(())
}
