//! Writing the history: multi-row INSERTs, a few thousand rows each, all in one database
//! transaction, so a seed either lands whole or not at all. The attempt counters are
//! added per batch by the attempt log's own folding, so they equal the log.
use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, Statement};
use serde_json::json;

use super::rows::{Batch, SeedEvent, SeedPlayer, SeedProvider};
use crate::attempts::counters::Tally;
use crate::db::entities::{
    attempt, game_session, ledger_entry, player, provider, provider_key, round, tombstone,
    wallet_transaction as wtx,
};
use crate::db::sql::Sql;

/// Rows per INSERT, under SQLite's 32,766 bound parameters for the widest table (21
/// columns of wallet_transactions).
const ROWS_PER_INSERT: usize = 1_000;

/// What was written, for the report.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Written {
    pub transactions: u64,
    pub ledger_entries: u64,
    pub rounds: u64,
    pub tombstones: u64,
    pub attempts: u64,
}

impl Written {
    fn add(&mut self, batch: &Batch) {
        self.transactions += batch.transactions.len() as u64;
        self.ledger_entries += batch.entries.len() as u64;
        self.rounds += batch.rounds.len() as u64;
        self.tombstones += batch.tombstones.len() as u64;
        self.attempts += batch.attempts.len() as u64;
    }
}

async fn insert<E>(
    txn: &DatabaseTransaction,
    rows: Vec<E::ActiveModel>,
    per_insert: usize,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: sea_orm::IntoActiveModel<E::ActiveModel>,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = rows.by_ref().take(per_insert).collect();
        E::insert_many(chunk).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// Attempts, in chunks; their counters are added up in `counters` and written once at the
/// end ([`counters`]), so that no counter row is written again and again.
async fn attempts(
    txn: &DatabaseTransaction,
    rows: Vec<attempt::ActiveModel>,
    counters: &mut Tally,
) -> Result<(), DbErr> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        counters.absorb(Tally::of(chunk));
        if let Some(insert) =
            crate::attempts::log_insert(chunk.to_vec(), txn.get_database_backend())
        {
            txn.execute(insert).await?;
        }
    }
    Ok(())
}

/// The history's counters, written once: minutes older than retention keeps them (two
/// days) as hours, as in the database of a wallet that has run that long. An upsert of
/// 24 columns a row stays under SQLite's bound parameters in chunks of this size.
pub async fn counters(txn: &DatabaseTransaction, counters: Tally) -> Result<(), DbErr> {
    let end = Utc::now() - crate::attempts::retention::MINUTE_COUNTERS_KEPT;
    let counters = counters.hours_before(end.timestamp().div_euclid(3600) * 3600);
    for statement in counters.upsert_statements(txn.get_database_backend(), ROWS_PER_INSERT) {
        txn.execute(statement).await?;
    }
    Ok(())
}

/// Writes one batch; transactions before the entries that refer to them.
pub async fn flush(
    txn: &DatabaseTransaction,
    batch: &mut Batch,
    written: &mut Written,
    counters: &mut Tally,
) -> Result<(), DbErr> {
    written.add(batch);
    insert::<wtx::Entity>(
        txn,
        std::mem::take(&mut batch.transactions),
        ROWS_PER_INSERT,
    )
    .await?;
    insert::<ledger_entry::Entity>(txn, std::mem::take(&mut batch.entries), 2 * ROWS_PER_INSERT)
        .await?;
    insert::<round::Entity>(txn, std::mem::take(&mut batch.rounds), 2 * ROWS_PER_INSERT).await?;
    insert::<tombstone::Entity>(txn, std::mem::take(&mut batch.tombstones), ROWS_PER_INSERT)
        .await?;
    attempts(txn, std::mem::take(&mut batch.attempts), counters).await?;
    events(txn, std::mem::take(&mut batch.events)).await?;
    for chunk in std::mem::take(&mut batch.hint_mismatches).chunks(ROWS_PER_INSERT) {
        let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
        txn.execute(Statement::from_string(
            txn.get_database_backend(),
            format!(
                "UPDATE wallet_transactions SET amount_hint_mismatch = TRUE WHERE id IN ({})",
                ids.join(",")
            ),
        ))
        .await?;
    }
    Ok(())
}

/// The outbox's rows, numbered as PostgreSQL's delivery loop would number them (position =
/// id: the seed's ids are in commit order); SQLite orders by id and leaves it NULL.
async fn events(txn: &DatabaseTransaction, events: Vec<SeedEvent>) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let numbered = backend == DbBackend::Postgres;
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO outbox_events (id, event_type, player_id, sequence, \
             wallet_transaction_id, op, occurred_at, position) ",
        );
        sql.values(chunk, |event| -> [sea_orm::Value; 8] {
            [
                event.id.into(),
                crate::events::MONEY_MOVED.into(),
                event.player_id.as_str().into(),
                event.sequence.into(),
                event.wallet_tx_id.into(),
                event.op.into(),
                event.at.into(),
                numbered.then_some(event.id).into(),
            ]
        });
        txn.execute(sql.statement()).await?;
    }
    Ok(())
}

/// The providers with their keys, as the operator API would have created them.
pub async fn providers(
    txn: &DatabaseTransaction,
    providers: &[SeedProvider],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    for seeded in providers {
        provider::Entity::insert(provider::ActiveModel {
            id: Set(seeded.id.as_str().to_owned()),
            name: Set(format!("{} (seeded)", seeded.game_id)),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec_without_returning(txn)
        .await?;
        let mut secret = [0u8; 24];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut secret);
        provider_key::Entity::insert(provider_key::ActiveModel {
            key_id: Set(seeded.key_id.clone()),
            provider_id: Set(seeded.id.as_str().to_owned()),
            secret: Set(hex::encode(secret)),
            created_at: Set(at),
            ..Default::default()
        })
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// The players with their final balances and chain heads, a session at every provider,
/// and the operator API requests that created them in the attempt log.
pub async fn players(
    txn: &DatabaseTransaction,
    players: &[SeedPlayer],
    providers: &[SeedProvider],
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    written: &mut Written,
    counters: &mut Tally,
) -> Result<(), DbErr> {
    let rows = players.iter().map(|seeded| player::ActiveModel {
        id: Set(seeded.id.clone()),
        currency: Set(seeded.currency.code().to_owned()),
        status: Set(crate::domain::PlayerStatus::Active.as_str().to_owned()),
        balance_minor: Set(seeded.balance_minor),
        ledger_head: Set(
            (seeded.head != crate::ledger::chain::GENESIS).then(|| seeded.head.clone())
        ),
        created_at: Set(start),
        updated_at: Set(now),
        country: Set(None),
        language: Set(None),
        event_sequence: Set(seeded.event_sequence),
    });
    insert::<player::Entity>(txn, rows.collect(), ROWS_PER_INSERT).await?;
    let mut sessions = Vec::new();
    let mut attempts = Vec::new();
    for (index, seeded) in players.iter().enumerate() {
        let at = start - Duration::seconds(players.len() as i64 - index as i64);
        attempts.push(operator_attempt(
            "PUT",
            "/operator/v1/players/{player_id}",
            200,
            json!({ "currency": seeded.currency.code() }),
            json!({ "status": "OK", "player": { "player_id": seeded.id, "currency": seeded.currency.code(), "status": "ACTIVE", "balance": { "value": "0", "currency": seeded.currency.code(), "scale": seeded.currency.scale() } } }),
            at,
            &format!("{}-create", seeded.id),
        ));
        for (provider, token) in providers.iter().zip(&seeded.sessions) {
            let expires_at = now + Duration::days(1);
            sessions.push(game_session::ActiveModel {
                token: Set(token.clone()),
                player_id: Set(seeded.id.clone()),
                provider_id: Set(provider.id.as_str().to_owned()),
                game_id: Set(provider.game_id.clone()),
                superseded: Set(false),
                created_at: Set(at),
                expires_at: Set(expires_at),
            });
            attempts.push(operator_attempt(
                "POST",
                "/operator/v1/sessions",
                201,
                json!({ "player_id": seeded.id, "provider_id": provider.id.as_str(), "game_id": provider.game_id, "ttl_seconds": 86_400 }),
                json!({ "status": "OK", "session_token": "[redacted]", "expires_at": crate::idempotency::format_time(expires_at) }),
                at,
                &format!("{}-session-{}", seeded.id, provider.id),
            ));
        }
    }
    insert::<game_session::Entity>(txn, sessions, 2 * ROWS_PER_INSERT).await?;
    written.attempts += attempts.len() as u64;
    self::attempts(txn, attempts, counters).await?;
    Ok(())
}

fn operator_attempt(
    method: &str,
    endpoint: &str,
    status: i32,
    request: serde_json::Value,
    mut response: serde_json::Value,
    at: DateTime<Utc>,
    request_id: &str,
) -> attempt::ActiveModel {
    response["request_id"] = json!(request_id);
    attempt::ActiveModel {
        traceparent: Set(None),
        id: NotSet,
        request_id: Set(request_id.to_owned()),
        received_at: Set(at),
        latency_ms: Set(2),
        method: Set(method.to_owned()),
        endpoint: Set(endpoint.to_owned()),
        provider_id: Set(None),
        key_id: Set(None),
        transaction_id: Set(None),
        fingerprint: Set(None),
        signature: Set("NONE".to_owned()),
        outcome: Set("FIRST".to_owned()),
        http_status: Set(status),
        error_code: Set(None),
        request_body: Set(request.to_string()),
        response_body: Set(response.to_string()),
        balance_minor: Set(None),
        balance_currency: Set(None),
    }
}

/// The first free id of a table's `id` column.
pub async fn next_id(db: &impl ConnectionTrait, table: &str) -> Result<i64, DbErr> {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT CAST(COALESCE(MAX(id), 0) + 1 AS BIGINT) AS n FROM {table}"),
        ))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no MAX(id) of {table}")))?;
    row.try_get::<i64>("", "n")
}

/// PostgreSQL's sequences continue after the explicit ids the seed wrote; statistics for
/// the planner (autovacuum would take a while on tables this size).
pub async fn finish(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for table in ["wallet_transactions", "ledger_entries", "outbox_events"] {
        db.execute(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            ),
        ))
        .await?;
    }
    Ok(())
}

/// PostgreSQL: every index of the tables the seed loads, built again from the rows.
pub async fn rebuild_indexes(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    for table in [
        "wallet_transactions",
        "ledger_entries",
        "attempts",
        "rounds",
        "attempt_counters",
        "players",
        "outbox_events",
    ] {
        db.execute(Statement::from_string(
            DbBackend::Postgres,
            format!("REINDEX TABLE {table}"),
        ))
        .await?;
    }
    Ok(())
}
