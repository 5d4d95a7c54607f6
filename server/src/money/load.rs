//! The batch's reads, whatever the batch's size: on SQLite one statement per kind of row,
//! on PostgreSQL two round trips (the players' lock, then everything else at once).
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, QueryResult};
use serde::Deserialize;

use super::model::{KeyRow, Player, Round, Session, Tombstone};
use super::state::{round_key, BatchState, Needs, RoundKey};
use crate::db::sql::{renumber, Sql};
use crate::db::sqlite_sync;
use crate::domain::{player_status, OpType, RoundState, TxState};
use crate::error::ServiceError;
use crate::idempotency::AnswerColumns;

/// PostgreSQL: every row `needs` names, and `id_count` new transaction ids from the
/// table's sequence. The players are locked first, in id order (so batches of several
/// processes never deadlock), and the rest is read by a later statement, whose snapshot is
/// taken after the locks were granted: it sees whatever the previous holder of a lock
/// committed (a racing rollback's tombstone, a key another process just claimed).
pub async fn load(
    txn: &DatabaseTransaction,
    needs: &Needs,
    now: DateTime<Utc>,
    id_count: usize,
) -> Result<(BatchState, Vec<i64>), ServiceError> {
    let mut state = BatchState::new(now);
    for row in query_players(txn, needs).await? {
        let player = Player {
            id: row.try_get("", "id")?,
            currency: row.try_get("", "currency")?,
            status: player_status(&row.try_get::<String>("", "status")?)?,
            balance_minor: row.try_get("", "balance_minor")?,
            ledger_head: row.try_get("", "ledger_head")?,
            loaded_balance_minor: row.try_get("", "balance_minor")?,
            event_sequence: row.try_get("", "event_sequence")?,
            posted: false,
        };
        state.players.insert(player.id.clone(), player);
    }
    for round in &needs.round_bets {
        state.round_bets.insert(round.clone(), Vec::new());
    }
    let mut records = Records::default();
    let ids = read_postgres(txn, needs, id_count, &mut records).await?;
    records.into_state(&mut state)?;
    Ok((state, ids))
}

/// SQLite: the same, on the writer's synchronous connection, one statement per kind of
/// row (no network between the wallet and the file). The batch holds the write lock from
/// its `BEGIN IMMEDIATE`, so nothing changes under it.
pub fn load_sqlite(
    connection: &rusqlite::Connection,
    needs: &Needs,
    now: DateTime<Utc>,
    id_count: usize,
) -> Result<(BatchState, Vec<i64>), ServiceError> {
    let mut state = BatchState::new(now);
    if !needs.players.is_empty() {
        let sql = players_query(DbBackend::Sqlite, needs);
        let players = sqlite_sync::query(connection, &sql.statement(), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, i64>(5)?,
            ))
        })?;
        for (id, currency, status, balance_minor, ledger_head, event_sequence) in players {
            let player = Player {
                id,
                currency,
                status: player_status(&status)?,
                balance_minor,
                ledger_head,
                loaded_balance_minor: balance_minor,
                event_sequence,
                posted: false,
            };
            state.players.insert(player.id.clone(), player);
        }
    }
    for round in &needs.round_bets {
        state.round_bets.insert(round.clone(), Vec::new());
    }
    let mut records = Records::default();
    for (part, sql) in queries(DbBackend::Sqlite, needs) {
        // Each row as JSON, parsed as PostgreSQL's are.
        let rows = sqlite_sync::query(connection, &sql.statement(), |row| row.get::<_, String>(0))?;
        for text in rows {
            records.push_json(part, &text)?;
        }
    }
    records.into_state(&mut state)?;
    Ok((state, allocate_ids(connection, id_count)?))
}

/// Rows as read, before they are parsed into the batch's state: from columns on SQLite,
/// from JSON on PostgreSQL (where one statement returns rows of several tables).
#[derive(Default)]
struct Records {
    keys: Vec<KeyRecord>,
    round_bets: Vec<KeyRecord>,
    sessions: Vec<SessionRecord>,
    rounds: Vec<RoundRecord>,
    tombstones: Vec<TombstoneRecord>,
}

#[derive(Deserialize)]
struct KeyRecord {
    id: i64,
    scope: String,
    transaction_id: String,
    player_id: String,
    op: String,
    kind: Option<String>,
    round_id: Option<String>,
    amount_minor: Option<i64>,
    state: String,
    http_status: i32,
    fingerprint: String,
    response_body: String,
    game_id: Option<String>,
    currency: Option<String>,
    target_transaction_id: Option<String>,
    balance_after_minor: Option<i64>,
    created_at: DateTime<Utc>,
    request_id: String,
}

#[derive(Deserialize)]
struct SessionRecord {
    token: String,
    player_id: String,
    provider_id: String,
    game_id: String,
    /// SQLite stores a boolean as 0 or 1, and its JSON says so.
    #[serde(deserialize_with = "bool_or_integer")]
    superseded: bool,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RoundRecord {
    provider_id: String,
    player_id: String,
    round_id: String,
    game_id: String,
    state: String,
    opened_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct TombstoneRecord {
    provider_id: String,
    transaction_id: String,
    player_id: String,
    rollback_transaction_id: String,
    created_at: DateTime<Utc>,
    late_bet_at: Option<DateTime<Utc>>,
}

const KEY_COLUMNS: &str = "id, scope, transaction_id, player_id, op, kind, round_id, \
    amount_minor, state, http_status, fingerprint, response_body, game_id, currency, \
    target_transaction_id, balance_after_minor, created_at, request_id";
const SESSION_COLUMNS: &str = "token, player_id, provider_id, game_id, superseded, expires_at";
const ROUND_COLUMNS: &str =
    "provider_id, player_id, round_id, game_id, state, opened_at, closed_at";
const TOMBSTONE_COLUMNS: &str =
    "provider_id, transaction_id, player_id, rollback_transaction_id, created_at, late_bet_at";

/// The queries of `needs` other than the players', each with its own values, as
/// `(part, SELECT …)`. On SQLite each selects its rows as JSON objects.
fn queries(backend: DbBackend, needs: &Needs) -> Vec<(&'static str, Sql)> {
    let select = |columns: &str| match backend {
        DbBackend::Postgres => columns.to_owned(),
        _ => json_object(columns),
    };
    let mut queries = Vec::new();
    if !needs.keys.is_empty() {
        let mut sql = Sql::new(backend, "");
        let values = sql.values_text(padded(backend, &needs.keys), |(scope, id)| {
            [scope.as_str().into(), id.as_str().into()]
        });
        sql.push(&format!(
            "SELECT {} FROM wallet_transactions WHERE (scope, transaction_id) IN ({values})",
            select(KEY_COLUMNS)
        ));
        queries.push(("key", sql));
    }
    if !needs.round_bets.is_empty() {
        let mut sql = Sql::new(backend, "");
        let values = sql.values_text(padded(backend, &needs.round_bets), round_key_values);
        // Every row of the rounds; the bets among them are picked in `into_state`. With
        // `op = 'BET'` in the query, PostgreSQL's generic plan made while the table was
        // empty walked the partial index of all bets (`idx_wtx_bets_by_state`) for every
        // round, and kept doing so as the table grew (docs/PERFORMANCE.md).
        sql.push(&format!(
            "SELECT {} FROM wallet_transactions WHERE (scope, player_id, round_id) IN ({values})",
            select(KEY_COLUMNS)
        ));
        queries.push(("bet", sql));
    }
    if !needs.sessions.is_empty() {
        let mut sql = Sql::new(backend, "");
        let tokens = sql.in_list(padded(backend, &needs.sessions).map(String::as_str));
        sql.push(&format!(
            "SELECT {} FROM game_sessions WHERE token {tokens}",
            select(SESSION_COLUMNS),
        ));
        queries.push(("session", sql));
    }
    if !needs.rounds.is_empty() {
        let mut sql = Sql::new(backend, "");
        let values = sql.values_text(padded(backend, &needs.rounds), round_key_values);
        sql.push(&format!(
            "SELECT {} FROM rounds WHERE (provider_id, player_id, round_id) IN ({values})",
            select(ROUND_COLUMNS)
        ));
        queries.push(("round", sql));
    }
    if !needs.tombstones.is_empty() {
        let mut sql = Sql::new(backend, "");
        let values = sql.values_text(padded(backend, &needs.tombstones), |(provider, id)| {
            [provider.as_str().into(), id.as_str().into()]
        });
        sql.push(&format!(
            "SELECT {} FROM tombstones WHERE (provider_id, transaction_id) IN ({values})",
            select(TOMBSTONE_COLUMNS)
        ));
        queries.push(("tombstone", sql));
    }
    queries
}

/// A round's key, `(key scope or provider, player, round)`, as a row of values.
fn round_key_values((scope, player, round): &RoundKey) -> [sea_orm::Value; 3] {
    [
        scope.as_str().into(),
        player.as_str().into(),
        round.as_str().into(),
    ]
}

/// SQLite: `items`, then the last one again up to the next power of two. A read's text
/// then takes one of a few sizes and stays prepared in the writer's statement cache;
/// with one text per batch size every batch parsed its reads again (docs/PERFORMANCE.md,
/// "Reads prepared once"). A repeat changes nothing in an `IN` list. PostgreSQL sends one
/// array whatever the number (see `Sql::unnest`), so its items are not padded.
fn padded<T: Ord>(backend: DbBackend, items: &BTreeSet<T>) -> impl Iterator<Item = &T> {
    let repeats = match backend {
        DbBackend::Sqlite => items.len().next_power_of_two() - items.len(),
        _ => 0,
    };
    let padding = items
        .last()
        .into_iter()
        .flat_map(move |last| std::iter::repeat_n(last, repeats));
    items.iter().chain(padding)
}

fn bool_or_integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Integer(i64),
    }
    Ok(match Flag::deserialize(deserializer)? {
        Flag::Bool(flag) => flag,
        Flag::Integer(n) => n != 0,
    })
}

/// SQLite's `json_object('a', a, 'b', b, …)` of a column list.
fn json_object(columns: &str) -> String {
    let pairs: Vec<String> = columns
        .split(',')
        .map(str::trim)
        .map(|column| format!("'{column}', {column}"))
        .collect();
    format!("json_object({})", pairs.join(", "))
}

/// PostgreSQL: every query and `id_count` ids from the sequence in one round trip, each
/// row as JSON beside the name of its query.
async fn read_postgres(
    txn: &DatabaseTransaction,
    needs: &Needs,
    id_count: usize,
    records: &mut Records,
) -> Result<Vec<i64>, ServiceError> {
    let mut sql = Sql::new(DbBackend::Postgres, "");
    let mut parts: Vec<String> = Vec::new();
    for (part, query) in queries(DbBackend::Postgres, needs) {
        let text = renumber(&query.text, sql.values.len());
        sql.values.extend(query.values);
        parts.push(format!(
            "SELECT '{part}' AS part, row_to_json(q)::text AS row FROM ({text}) q"
        ));
    }
    if id_count > 0 {
        let count = sql.param(id_count as i64);
        parts.push(format!(
            "SELECT 'id', nextval(pg_get_serial_sequence('wallet_transactions', 'id'))::text \
             FROM generate_series(1, {count}::bigint)"
        ));
    }
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    sql.push(&parts.join(" UNION ALL "));
    let mut ids = Vec::with_capacity(id_count);
    for row in txn.query_all(sql.statement()).await? {
        let part: String = row.try_get("", "part")?;
        let text: String = row.try_get("", "row")?;
        if part == "id" {
            ids.push(
                text.parse::<i64>().map_err(|e| {
                    ServiceError::Bug(format!("the sequence returned {text:?}: {e}"))
                })?,
            );
        } else {
            records.push_json(&part, &text)?;
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

impl Records {
    fn push_json(&mut self, part: &str, text: &str) -> Result<(), ServiceError> {
        fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ServiceError> {
            serde_json::from_str(text)
                .map_err(|e| ServiceError::Bug(format!("a row read as JSON did not parse: {e}")))
        }
        match part {
            "key" => self.keys.push(parse(text)?),
            "bet" => self.round_bets.push(parse(text)?),
            "session" => self.sessions.push(parse(text)?),
            "round" => self.rounds.push(parse(text)?),
            _ => self.tombstones.push(parse(text)?),
        }
        Ok(())
    }

    fn into_state(mut self, state: &mut BatchState) -> Result<(), ServiceError> {
        for record in self.keys {
            let (key, row) = record.into_row()?;
            state.keys.insert(key, row);
        }
        // A round's bets in the order they were made; its declined bets do not count.
        self.round_bets.sort_by_key(|record| record.id);
        for record in self.round_bets {
            if record.op != OpType::Bet.as_str() || record.state == TxState::Declined.as_str() {
                continue;
            }
            let ((scope, transaction_id), row) = record.into_row()?;
            let round = round_key(
                &scope,
                &row.player_id,
                row.round_id.as_deref().unwrap_or(""),
            );
            if let Some(bets) = state.round_bets.get_mut(&round) {
                bets.push(transaction_id.clone());
            }
            state.keys.entry((scope, transaction_id)).or_insert(row);
        }
        for record in self.sessions {
            let session = Session {
                player_id: record.player_id,
                provider_id: record.provider_id,
                game_id: record.game_id,
                superseded: record.superseded,
                expires_at: record.expires_at,
            };
            state.sessions.insert(record.token, session);
        }
        for record in self.rounds {
            let round = Round {
                game_id: record.game_id,
                state: RoundState::parse(&record.state)?,
                opened_at: record.opened_at,
                closed_at: record.closed_at,
            };
            let key = round_key(&record.provider_id, &record.player_id, &record.round_id);
            state.rounds.insert(key, round);
        }
        for record in self.tombstones {
            let tombstone = Tombstone {
                player_id: record.player_id,
                rollback_transaction_id: record.rollback_transaction_id,
                created_at: record.created_at,
                late_bet_at: record.late_bet_at,
            };
            state
                .tombstones
                .insert((record.provider_id, record.transaction_id), tombstone);
        }
        Ok(())
    }
}

impl KeyRecord {
    fn into_row(self) -> Result<((String, String), KeyRow), ServiceError> {
        // Only a row that keeps no body needs the columns its answer is rebuilt from.
        let columns = self.response_body.is_empty().then(|| {
            Box::new(AnswerColumns {
                id: self.id,
                transaction_id: self.transaction_id.clone(),
                op: self.op.clone(),
                kind: self.kind.clone(),
                player_id: self.player_id.clone(),
                round_id: self.round_id.clone(),
                game_id: self.game_id,
                amount_minor: self.amount_minor,
                currency: self.currency,
                target_transaction_id: self.target_transaction_id,
                balance_after_minor: self.balance_after_minor,
                created_at: self.created_at,
                request_id: self.request_id,
            })
        });
        let row = KeyRow {
            id: self.id,
            player_id: self.player_id,
            op: OpType::parse(&self.op)?,
            kind: self.kind,
            round_id: self.round_id,
            amount_minor: self.amount_minor,
            state: TxState::parse(&self.state)?,
            http_status: self.http_status,
            fingerprint: self.fingerprint,
            response_body: self.response_body,
            columns,
        };
        Ok(((self.scope, self.transaction_id), row))
    }
}

/// The batch's players, in id order; locked on PostgreSQL.
fn players_query(backend: DbBackend, needs: &Needs) -> Sql {
    let mut sql = Sql::new(
        backend,
        "SELECT id, currency, status, balance_minor, ledger_head, event_sequence FROM players \
         WHERE id ",
    );
    let ids = sql.in_list(padded(backend, &needs.players).map(String::as_str));
    sql.push(&ids);
    sql.push(" ORDER BY id");
    if backend == DbBackend::Postgres {
        sql.push(" FOR UPDATE");
    }
    sql
}

async fn query_players(
    txn: &DatabaseTransaction,
    needs: &Needs,
) -> Result<Vec<QueryResult>, ServiceError> {
    if needs.players.is_empty() {
        return Ok(Vec::new());
    }
    let sql = players_query(DbBackend::Postgres, needs);
    Ok(txn.query_all(sql.statement()).await?)
}

/// `count` new ids for `wallet_transactions` on SQLite, in increasing order. They are
/// known before the rows are written because the rules need them: a posting's hash link
/// and the answer's `wallet_tx_id` include the id. The writer holds the database's write
/// lock, so the ids after the largest one are free. (PostgreSQL takes them from the
/// table's sequence, in `read_postgres`; gaps there are harmless.)
fn allocate_ids(connection: &rusqlite::Connection, count: usize) -> Result<Vec<i64>, ServiceError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let last: i64 = connection
        .query_row(
            "SELECT COALESCE(MAX(id), 0) FROM wallet_transactions",
            [],
            |row| row.get(0),
        )
        .map_err(sqlite_sync::db_error)?;
    Ok((1..=count as i64).map(|n| last + n).collect())
}
