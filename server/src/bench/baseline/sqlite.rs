//! SQLite: a bet's own SQL statements, run directly on a fresh database file next to the
//! wallet's (same disk), with the wallet's pragmas and its group commit: one writer takes
//! every queued bet, runs each in a savepoint inside one transaction, commits once and
//! only then answers. No HTTP, no JSON parsing, no signatures, no attempt log: what is
//! left is the database's share of a bet.
//!
//! The statements mirror, in order, what `idempotency::execute` with a `Bet` sends
//! (`server/src/idempotency/mod.rs`, `wallet/operations/bet.rs`, `ledger.rs`): the replay
//! fast path on a read connection (the key itself comes from the wallet's cache), then in
//! the writer, without savepoints as the wallet's writer runs a batch that does not fail:
//! the key claim, the player with the session, round and tombstone in one read, the
//! round insert, the balance compare-and-set, both ledger entries and the stored answer.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use sea_orm::SqlxSqliteConnector;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Connection, Executor, Row, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::BaselineFigures;
use crate::bench::config::BenchConfig;
use crate::db::WriterConfig;
use migrations::MigratorTrait;

const PROVIDER: &str = "baseline-provider";
const KEY: &str = "baseline-key";
const GAME: &str = "baseline-slots";
/// Players of the baseline at most; bets go round-robin over them like `first`.
const MAX_PLAYERS: usize = 10_000;
const DEPOSIT_MINOR: i64 = 1_000_000_000;

pub async fn run(database_url: &str, config: &BenchConfig) -> anyhow::Result<BaselineFigures> {
    let path = fresh_path(database_url, &config.run_tag);
    let outcome = measure(&format!("sqlite://{}?mode=rwc", path.display()), config).await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    outcome
}

/// Beside the wallet's file, so that both measure the same disk.
fn fresh_path(database_url: &str, run_tag: &str) -> PathBuf {
    let file = crate::db::sqlite_options(database_url)
        .map(|options| options.get_filename().to_path_buf())
        .unwrap_or_default();
    let dir = file
        .parent()
        .filter(|dir| dir.is_dir())
        .map_or_else(std::env::temp_dir, PathBuf::from);
    dir.join(format!("oncewallet-baseline-{run_tag}.db"))
}

async fn measure(url: &str, config: &BenchConfig) -> anyhow::Result<BaselineFigures> {
    let options = crate::db::sqlite_options(url)?;
    let write_pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await?;
    migrations::Migrator::up(
        &SqlxSqliteConnector::from_sqlx_sqlite_pool(write_pool.clone()),
        None,
    )
    .await
    .context("migrate the baseline database")?;
    let players = setup(&write_pool, config.players.min(MAX_PLAYERS)).await?;
    let read_pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options.read_only(true))
        .await?;
    let writer_config = WriterConfig::default();
    let (queue, jobs) = mpsc::channel(writer_config.queue_capacity);
    let writer = tokio::spawn(writer(
        write_pool.acquire().await?,
        jobs,
        writer_config.max_batch,
    ));
    let started = Instant::now();
    let deadline = started + config.duration;
    let clients: Vec<_> = (0..config.clients)
        .map(|index| {
            let mine: Vec<String> = players
                .iter()
                .skip(index)
                .step_by(config.clients)
                .cloned()
                .collect();
            tokio::spawn(client(
                index,
                mine,
                read_pool.clone(),
                queue.clone(),
                deadline,
            ))
        })
        .collect();
    drop(queue);
    let mut committed = 0u64;
    let mut latencies_us = Vec::new();
    for task in clients {
        let (count, latencies) = task.await??;
        committed += count;
        latencies_us.extend(latencies);
    }
    let elapsed = started.elapsed().as_secs_f64();
    writer.await?;
    latencies_us.sort_unstable();
    let p99 = latencies_us
        .get(latencies_us.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default();
    Ok(BaselineFigures {
        engine: "sqlite".to_owned(),
        name: "a bet's statements without HTTP, same pragmas and group commit".to_owned(),
        clients: config.clients,
        duration_s: (elapsed * 10.0).round() / 10.0,
        transactions_per_s: (committed as f64 / elapsed).round(),
        wallet_first_per_s: None,
        ratio: None,
        detail: format!("{committed} bets, p99 {:.1} ms", f64::from(p99) / 1000.0),
    })
}

/// The provider, its key, and the players with a deposit and a session each.
async fn setup(pool: &SqlitePool, players: usize) -> anyhow::Result<Vec<String>> {
    let now = Utc::now();
    let mut txn = pool.begin().await?;
    sqlx::query("INSERT INTO providers (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)")
        .bind(PROVIDER)
        .bind("Baseline")
        .bind(now)
        .bind(now)
        .execute(&mut *txn)
        .await?;
    sqlx::query(
        "INSERT INTO provider_keys (key_id, provider_id, secret, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(KEY)
    .bind(PROVIDER)
    .bind("baseline-secret-not-used")
    .bind(now)
    .execute(&mut *txn)
    .await?;
    let mut ids = Vec::with_capacity(players);
    for index in 0..players {
        let id = format!("baseline-p{index}");
        sqlx::query(
            "INSERT INTO players (id, currency, status, balance_minor, ledger_head, created_at, updated_at) \
             VALUES (?, 'EUR', 'ACTIVE', ?, NULL, ?, ?)",
        )
        .bind(&id)
        .bind(DEPOSIT_MINOR)
        .bind(now)
        .bind(now)
        .execute(&mut *txn)
        .await?;
        sqlx::query(
            "INSERT INTO game_sessions (token, player_id, provider_id, game_id, superseded, created_at, expires_at) \
             VALUES (?, ?, ?, ?, FALSE, ?, ?)",
        )
        .bind(session_token(&id))
        .bind(&id)
        .bind(PROVIDER)
        .bind(GAME)
        .bind(now)
        .bind(now + chrono::Duration::days(1))
        .execute(&mut *txn)
        .await?;
        ids.push(id);
    }
    txn.commit().await?;
    Ok(ids)
}

fn session_token(player_id: &str) -> String {
    format!("session-{player_id}")
}

/// One bet for the writer, and where to send its result.
struct Job {
    transaction_id: String,
    player_id: String,
    round_id: String,
    amount_minor: i64,
    reply: oneshot::Sender<Result<(), sqlx::Error>>,
}

/// A client: for each bet, the two reads every request makes, then the write, awaited.
async fn client(
    index: usize,
    players: Vec<String>,
    reader: SqlitePool,
    queue: mpsc::Sender<Job>,
    deadline: Instant,
) -> anyhow::Result<(u64, Vec<u32>)> {
    let mut committed = 0u64;
    let mut latencies = Vec::new();
    let mut sequence = 0u64;
    while Instant::now() < deadline && !players.is_empty() {
        let started = Instant::now();
        sequence += 1;
        let transaction_id = format!("baseline-b{index}-{sequence}");
        let replay = sqlx::query(
            "SELECT t.id, t.state, t.fingerprint, t.response_body, p.balance_minor, p.currency \
             FROM wallet_transactions t LEFT JOIN players p ON p.id = t.player_id \
             WHERE t.scope = ? AND t.transaction_id = ?",
        )
        .bind(PROVIDER)
        .bind(&transaction_id)
        .fetch_optional(&reader)
        .await?;
        anyhow::ensure!(replay.is_none(), "a fresh id exists already");
        let (reply, answer) = oneshot::channel();
        let job = Job {
            transaction_id: transaction_id.clone(),
            player_id: players[sequence as usize % players.len()].clone(),
            round_id: format!("baseline-r{index}-{sequence}"),
            amount_minor: 100 + (sequence as i64 * 37) % 900,
            reply,
        };
        if queue.send(job).await.is_err() {
            break;
        }
        answer.await.context("the writer stopped")??;
        committed += 1;
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    Ok((committed, latencies))
}

/// The wallet's group commit: every queued bet in one transaction, a savepoint each.
async fn writer(
    mut connection: PoolConnection<Sqlite>,
    mut jobs: mpsc::Receiver<Job>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while jobs.recv_many(&mut batch, max_batch).await > 0 {
        let mut results = Vec::with_capacity(batch.len());
        let outcome: Result<(), sqlx::Error> = async {
            let mut txn = connection.begin().await?;
            txn.execute("UPDATE seaql_migrations SET version = version WHERE 0")
                .await?;
            for job in &batch {
                results.push(bet(&mut txn, job).await);
            }
            txn.commit().await
        }
        .await;
        for (job, result) in batch
            .drain(..)
            .zip(results.into_iter().chain(std::iter::repeat_with(|| Ok(()))))
        {
            let result = match &outcome {
                Ok(()) => result,
                Err(error) => Err(sqlx::Error::Protocol(format!("commit failed: {error}"))),
            };
            let _ = job.reply.send(result);
        }
    }
}

/// A bet's statements inside the writer's transaction, in the wallet's order.
async fn bet(db: &mut SqliteConnection, job: &Job) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let request_body = format!(
        r#"{{"transaction_id":"{}","player_id":"{}","session_token":"[redacted]","round_id":"{}","game_id":"{GAME}","amount":{{"value":"{}","currency":"EUR","scale":2}},"kind":"BET","round_closed":false}}"#,
        job.transaction_id, job.player_id, job.round_id, job.amount_minor
    );
    let fingerprint = format!(
        r#"{{"amount.currency":"EUR","amount.scale":2,"amount.value":"{}","game_id":"{GAME}","kind":"BET","op":"BET","player_id":"{}","reference_transaction_id":null,"round_closed":false,"round_id":"{}","target_transaction_id":null}}"#,
        job.amount_minor, job.player_id, job.round_id
    );
    // The key claim.
    let wallet_tx_id: i64 = sqlx::query(
        "INSERT INTO wallet_transactions (scope, transaction_id, op, kind, player_id, round_id, game_id, \
         amount_minor, currency, target_transaction_id, fingerprint, state, http_status, response_body, \
         request_body, request_id, created_at, updated_at) \
         VALUES (?, ?, 'BET', 'BET', ?, ?, ?, ?, 'EUR', NULL, ?, 'IN_PROGRESS', 0, '', ?, ?, ?, ?) \
         ON CONFLICT (scope, transaction_id) DO NOTHING RETURNING id",
    )
    .bind(PROVIDER)
    .bind(&job.transaction_id)
    .bind(&job.player_id)
    .bind(&job.round_id)
    .bind(GAME)
    .bind(job.amount_minor)
    .bind(&fingerprint)
    .bind(&request_body)
    .bind(format!("req-{}", job.transaction_id))
    .bind(now)
    .bind(now)
    .fetch_one(&mut *db)
    .await?
    .try_get("id")?;
    // The checks' reads: player, session, round, tombstone, in one statement.
    let context = sqlx::query(
        "SELECT p.balance_minor, p.ledger_head, p.status, p.currency, s.token, s.superseded, \
                s.expires_at, r.state AS round_state, t.transaction_id AS tombstone \
         FROM players p \
         LEFT JOIN game_sessions s ON s.token = ?2 \
         LEFT JOIN rounds r ON r.provider_id = ?3 AND r.player_id = p.id AND r.round_id = ?4 \
         LEFT JOIN tombstones t ON t.provider_id = ?3 AND t.transaction_id = ?5 \
         WHERE p.id = ?1",
    )
    .bind(&job.player_id)
    .bind(session_token(&job.player_id))
    .bind(PROVIDER)
    .bind(&job.round_id)
    .bind(&job.transaction_id)
    .fetch_one(&mut *db)
    .await?;
    let balance: i64 = context.try_get("balance_minor")?;
    let head: Option<String> = context.try_get("ledger_head")?;
    // The round opens.
    sqlx::query("INSERT INTO rounds (provider_id, player_id, round_id, game_id, state, opened_at, closed_at) \
                 VALUES (?, ?, ?, ?, 'OPEN', ?, NULL) ON CONFLICT (provider_id, player_id, round_id) DO NOTHING")
        .bind(PROVIDER)
        .bind(&job.player_id)
        .bind(&job.round_id)
        .bind(GAME)
        .bind(now)
        .execute(&mut *db)
        .await?;
    // The posting: balance compare-and-set with the chain head, both entries.
    let after = balance - job.amount_minor;
    let account = crate::ledger::player_account(&job.player_id);
    let counter = crate::ledger::provider_account(PROVIDER, "EUR");
    let link = crate::trail::link(
        head.as_deref().unwrap_or(crate::trail::GENESIS),
        &crate::trail::Posting {
            wallet_tx_id,
            player_account: &account,
            player_delta: -job.amount_minor,
            balance_after: after,
            counter_account: &counter,
            counter_delta: job.amount_minor,
            currency: "EUR",
        },
    );
    let updated = sqlx::query("UPDATE players SET balance_minor = ?, ledger_head = ?, updated_at = ? WHERE id = ? AND balance_minor = ?")
        .bind(after)
        .bind(&link)
        .bind(now)
        .bind(&job.player_id)
        .bind(balance)
        .execute(&mut *db)
        .await?;
    if updated.rows_affected() != 1 {
        return Err(sqlx::Error::Protocol("balance changed concurrently".into()));
    }
    sqlx::query("INSERT INTO ledger_entries (wallet_transaction_id, account, currency, amount_minor, balance_after_minor, chain_hash, created_at) \
                 VALUES (?, ?, 'EUR', ?, ?, ?, ?), (?, ?, 'EUR', ?, NULL, NULL, ?)")
        .bind(wallet_tx_id)
        .bind(&account)
        .bind(-job.amount_minor)
        .bind(after)
        .bind(&link)
        .bind(now)
        .bind(wallet_tx_id)
        .bind(&counter)
        .bind(job.amount_minor)
        .bind(now)
        .execute(&mut *db)
        .await?;
    // The stored answer.
    let response_body = format!(
        r#"{{"status":"OK","replayed":false,"transaction":{{"transaction_id":"{}","wallet_tx_id":"wtx-{wallet_tx_id:012}","op":"BET","kind":"BET","player_id":"{}","round_id":"{}","game_id":"{GAME}","amount":{{"value":"{}","currency":"EUR","scale":2}},"state":"COMMITTED","balance_after":{{"value":"{after}","currency":"EUR","scale":2}},"committed_at":"{}"}},"balance":{{"value":"{after}","currency":"EUR","scale":2}},"request_id":"req-{}"}}"#,
        job.transaction_id,
        job.player_id,
        job.round_id,
        job.amount_minor,
        crate::idempotency::format_time(now),
        job.transaction_id
    );
    sqlx::query("UPDATE wallet_transactions SET state = 'COMMITTED', outcome = NULL, error_code = NULL, http_status = 200, response_body = ?, updated_at = ? WHERE id = ?")
        .bind(response_body)
        .bind(now)
        .bind(wallet_tx_id)
        .execute(&mut *db)
        .await?;
    Ok(())
}
