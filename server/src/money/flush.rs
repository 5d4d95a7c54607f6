//! The batch's writes, whatever the batch's size: one multi-row statement per table, sent
//! one after the other on SQLite's synchronous connection and as one statement (each a
//! data-modifying `WITH` part) on PostgreSQL, where every statement is a round trip.
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryTrait, Statement,
    Value,
};

use super::state::{BatchState, NewKey};
use crate::db::entities::staff_audit;
use crate::db::sql::{renumber, statements_of, Sql};
use crate::db::sqlite_sync;
use crate::domain::RoundState;
use crate::error::ServiceError;

/// One multi-row statement, and the rows it must change if the batch is to stand.
struct Part {
    sql: Sql,
    expect: Option<Expect>,
}

struct Expect {
    rows: u64,
    /// Why the batch fails when another number of rows changed.
    failure: &'static str,
}

impl Part {
    fn new(sql: Sql) -> Part {
        Part { sql, expect: None }
    }

    fn expecting(sql: Sql, rows: usize, failure: &'static str) -> Part {
        let expect = Some(Expect {
            rows: rows as u64,
            failure,
        });
        Part { sql, expect }
    }

    fn check(expect: Option<Expect>, changed: u64) -> Result<(), ServiceError> {
        match expect {
            Some(expect) if expect.rows != changed => Err(DbErr::Custom(format!(
                "{} ({changed} rows of {})",
                expect.failure, expect.rows
            ))
            .into()),
            _ => Ok(()),
        }
    }
}

/// Every part of the batch's writes. On SQLite order matters for the foreign key:
/// transactions before their ledger entries. (PostgreSQL checks it at the end of the
/// one statement.)
fn parts(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    [
        insert_transactions(backend, state),
        insert_rounds(backend, state),
        close_rounds(backend, state),
        update_players(backend, state),
        insert_entries(backend, state),
        update_states(backend, state),
        insert_tombstones(backend, state),
        mark_late_bets(backend, state),
        insert_events(backend, state),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A part's rows as statements (see [`statements_of`]).
fn per_statement<R>(backend: DbBackend, rows: Vec<R>, build: impl Fn(Vec<R>) -> Part) -> Vec<Part> {
    statements_of(backend, rows)
        .into_iter()
        .map(build)
        .collect()
}

/// PostgreSQL: writes everything the batch decided, as one statement.
pub async fn flush(txn: &DatabaseTransaction, state: &BatchState) -> Result<(), ServiceError> {
    write_as_one(txn, parts(DbBackend::Postgres, state)).await?;
    for record in &state.writes.audits {
        crate::audit::record(
            txn,
            &record.actor,
            record.action,
            record.subject_type,
            &record.subject_id,
            &record.reason,
            record.details.clone(),
            state.now,
        )
        .await?;
    }
    Ok(())
}

/// SQLite: the same, one statement per part, on the writer's synchronous connection.
pub fn flush_sqlite(
    connection: &rusqlite::Connection,
    state: &BatchState,
) -> Result<(), ServiceError> {
    for part in parts(DbBackend::Sqlite, state) {
        let changed = sqlite_sync::execute(connection, &part.sql.statement())?;
        Part::check(part.expect, changed)?;
    }
    for record in &state.writes.audits {
        let entry = crate::audit::entry(
            &record.actor,
            record.action,
            record.subject_type,
            &record.subject_id,
            &record.reason,
            record.details.clone(),
            state.now,
        );
        let insert = staff_audit::Entity::insert(entry).build(DbBackend::Sqlite);
        sqlite_sync::execute(connection, &insert)?;
    }
    Ok(())
}

/// PostgreSQL: every part as a `WITH` query of one statement, which returns how many rows
/// each part changed.
async fn write_as_one(txn: &DatabaseTransaction, parts: Vec<Part>) -> Result<(), ServiceError> {
    if parts.is_empty() {
        return Ok(());
    }
    let mut with = Vec::with_capacity(parts.len());
    let mut counts = Vec::with_capacity(parts.len());
    let mut values = Vec::new();
    let mut expects = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate() {
        with.push(format!(
            "w{i} AS ({} RETURNING 1)",
            renumber(&part.sql.text, values.len())
        ));
        counts.push(format!("(SELECT count(*) FROM w{i}) AS c{i}"));
        values.extend(part.sql.values);
        expects.push(part.expect);
    }
    let text = format!("WITH {} SELECT {}", with.join(", "), counts.join(", "));
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            text,
            values,
        ))
        .await?
        .ok_or_else(|| ServiceError::Bug("the batch's write returned no row".into()))?;
    for (i, expect) in expects.into_iter().enumerate() {
        let changed: i64 = row.try_get("", &format!("c{i}"))?;
        Part::check(expect, changed.max(0) as u64)?;
    }
    Ok(())
}

/// The keys' rows, each with its first answer and its state at the end of the batch.
/// A key that exists already was claimed by another process after the batch read it:
/// the batch fails and its operations run again one by one (see `money`).
fn insert_transactions(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    let new_keys: Vec<_> = state.writes.new_keys.iter().collect();
    per_statement(backend, new_keys, |new_keys| {
        insert_keys(backend, state, new_keys)
    })
}

fn insert_keys(backend: DbBackend, state: &BatchState, new_keys: Vec<&NewKey>) -> Part {
    let count = new_keys.len();
    let mut sql = Sql::new(
        backend,
        "INSERT INTO wallet_transactions (id, scope, transaction_id, op, kind, player_id, \
         round_id, game_id, amount_minor, currency, target_transaction_id, fingerprint, state, \
         outcome, error_code, http_status, response_body, request_body, request_id, created_at, \
         updated_at, amount_hint_mismatch, balance_after_minor, request_packed) ",
    );
    let now = state.now;
    sql.values(new_keys, |new| {
        let keyed = &new.keyed;
        let current = state
            .key(&keyed.scope, keyed.transaction_id.as_str())
            .map_or(new.recorded.state, |row| row.state);
        let packed = keyed.packed_request();
        let request_text = if packed.is_some() {
            ""
        } else {
            keyed.request_body.as_str()
        };
        let values: [Value; 24] = [
            new.id.into(),
            keyed.scope.as_str().into(),
            keyed.transaction_id.as_str().into(),
            keyed.op.as_str().into(),
            keyed.kind.map(str::to_owned).into(),
            keyed.player_id.as_str().into(),
            keyed.round_id.clone().into(),
            keyed.game_id.clone().into(),
            keyed.amount.as_ref().map(|m| m.minor.get()).into(),
            keyed
                .amount
                .as_ref()
                .map(|m| m.currency.code().to_owned())
                .into(),
            keyed.target_transaction_id.clone().into(),
            keyed.fingerprint.as_stored().into(),
            current.as_str().into(),
            new.recorded.outcome.map(str::to_owned).into(),
            new.recorded.error_code.map(str::to_owned).into(),
            i32::from(new.recorded.answer.http_status).into(),
            new.recorded.stored_body().into(),
            request_text.into(),
            keyed.request_id.as_str().into(),
            now.into(),
            now.into(),
            new.amount_hint_mismatch.into(),
            new.recorded.balance_after_minor.into(),
            packed.map(<[u8]>::to_vec).into(),
        ];
        values
    });
    sql.push(" ON CONFLICT (scope, transaction_id) DO NOTHING");
    Part::expecting(sql, count, "idempotency keys were claimed concurrently")
}

/// Rounds the batch opened, with their state at its end (opened and closed at once is
/// one row).
fn insert_rounds(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    let rows: Vec<_> = state
        .writes
        .new_rounds
        .iter()
        .filter_map(|key| state.rounds.get(key).map(|round| (key, round)))
        .collect();
    per_statement(backend, rows, |rows| {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO rounds (provider_id, player_id, round_id, game_id, state, opened_at, \
         closed_at) ",
        );
        sql.values(rows, |((provider, player, round_id), round)| {
            let values: [Value; 7] = [
                provider.as_str().into(),
                player.as_str().into(),
                round_id.as_str().into(),
                round.game_id.as_str().into(),
                round.state.as_str().into(),
                round.opened_at.into(),
                round.closed_at.into(),
            ];
            values
        });
        Part::new(sql)
    })
}

fn close_rounds(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    let closed: Vec<_> = state.writes.closed_rounds.iter().collect();
    per_statement(backend, closed, |closed| {
        let mut sql = Sql::new(backend, "UPDATE rounds SET state = ");
        let closed_state = sql.param(RoundState::Closed.as_str());
        let at = sql.param(state.now);
        sql.push(&format!(
            "{closed_state}, closed_at = {at} WHERE (provider_id, player_id, round_id) IN ("
        ));
        sql.values(closed, |(provider, player, round)| {
            [
                provider.as_str().into(),
                player.as_str().into(),
                round.as_str().into(),
            ]
        });
        sql.push(")");
        Part::new(sql)
    })
}

/// Every posted player's balance and chain head, as a compare-and-set on the balance the
/// batch loaded: if anything changed a row behind the batch's back, the batch fails
/// instead of moving money twice.
fn update_players(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    let mut posted: Vec<_> = state.players.values().filter(|p| p.posted).collect();
    posted.sort_by(|a, b| a.id.cmp(&b.id));
    per_statement(backend, posted, |posted| {
        let mut sql = Sql::new(
            backend,
            "UPDATE players SET balance_minor = v.column2, ledger_head = v.column3, \
             event_sequence = v.column5, updated_at = ",
        );
        let at = sql.param(state.now);
        sql.push(&at);
        sql.push(" FROM (");
        sql.values(&posted, |player| {
            let values: [Value; 5] = [
                player.id.as_str().into(),
                player.balance_minor.into(),
                player.ledger_head.clone().into(),
                player.loaded_balance_minor.into(),
                player.event_sequence.into(),
            ];
            values
        });
        sql.push(") AS v WHERE players.id = v.column1 AND players.balance_minor = v.column4");
        Part::expecting(sql, posted.len(), "player balance changed concurrently")
    })
}

fn insert_entries(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    let entries: Vec<_> = state.writes.entries.iter().collect();
    per_statement(backend, entries, |entries| {
        // Rows are inserted in this order, so each player's entries get increasing ids in
        // the order they were posted: the hash chain is walked in id order.
        let mut sql = Sql::new(
            backend,
            "INSERT INTO ledger_entries (wallet_transaction_id, account, currency, amount_minor, \
         balance_after_minor, chain_hash, created_at) ",
        );
        sql.values(entries, |entry| {
            let values: [Value; 7] = [
                entry.wallet_tx_id.into(),
                entry.account.as_str().into(),
                entry.currency.as_str().into(),
                entry.amount_minor.into(),
                entry.balance_after_minor.into(),
                entry.chain_hash.clone().into(),
                state.now.into(),
            ];
            values
        });
        Part::new(sql)
    })
}

/// Bets that existed before the batch and were settled or rolled back by it.
fn update_states(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    // The last change of each row wins.
    let mut last = std::collections::BTreeMap::new();
    for (id, new_state) in &state.writes.state_changes {
        last.insert(*id, *new_state);
    }
    per_statement(backend, last.into_iter().collect(), |last| {
        let mut sql = Sql::new(
            backend,
            "UPDATE wallet_transactions SET state = v.column2, updated_at = ",
        );
        let at = sql.param(state.now);
        sql.push(&at);
        sql.push(" FROM (");
        sql.values(last, |(id, new_state)| {
            let values: [Value; 2] = [id.into(), new_state.as_str().into()];
            values
        });
        sql.push(") AS v WHERE wallet_transactions.id = v.column1");
        Part::new(sql)
    })
}

fn insert_tombstones(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    let new: Vec<_> = state
        .writes
        .new_tombstones
        .iter()
        .filter_map(|key| state.tombstones.get(key).map(|tomb| (key, tomb)))
        .collect();
    per_statement(backend, new, |new| {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO tombstones (provider_id, transaction_id, player_id, \
         rollback_transaction_id, created_at, late_bet_at) ",
        );
        sql.values(new, |((provider, id), tomb)| {
            let values: [Value; 6] = [
                provider.as_str().into(),
                id.as_str().into(),
                tomb.player_id.as_str().into(),
                tomb.rollback_transaction_id.as_str().into(),
                tomb.created_at.into(),
                tomb.late_bet_at.into(),
            ];
            values
        });
        Part::new(sql)
    })
}

/// Tombstones that existed and whose late bet arrived in this batch.
fn mark_late_bets(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    let late: Vec<_> = state.writes.late_bets.iter().collect();
    per_statement(backend, late, |late| {
        let mut sql = Sql::new(backend, "UPDATE tombstones SET late_bet_at = ");
        let at = sql.param(state.now);
        sql.push(&format!(
            "{at} WHERE late_bet_at IS NULL AND (provider_id, transaction_id) IN ("
        ));
        sql.values(late, |(provider, id)| {
            [provider.as_str().into(), id.as_str().into()]
        });
        sql.push(")");
        Part::new(sql)
    })
}

/// The batch's `money.moved` events, in the order the money moved (docs/EVENTS.md): the
/// outbox row commits with the movement or not at all.
fn insert_events(backend: DbBackend, state: &BatchState) -> Vec<Part> {
    let events: Vec<_> = state.writes.events.iter().collect();
    per_statement(backend, events, |events| {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO outbox_events (event_type, player_id, sequence, wallet_transaction_id, \
             op, occurred_at) ",
        );
        sql.values(events, |event| {
            let values: [Value; 6] = [
                crate::events::MONEY_MOVED.into(),
                event.player_id.as_str().into(),
                event.sequence.into(),
                event.wallet_tx_id.into(),
                event.op.into(),
                state.now.into(),
            ];
            values
        });
        Part::new(sql)
    })
}
