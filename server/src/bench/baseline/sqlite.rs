//! SQLite's floor for the wallet's own writes: the rows a batch of bets reads and writes,
//! through the leanest path to the engine, on a fresh file beside the wallet's (same
//! disk) with the wallet's durable settings (WAL, `synchronous=FULL`).
//!
//! One synchronous connection on a thread of its own (rusqlite, cached prepared
//! statements, no async hand-off), batches of 64 bets, each batch one transaction and one
//! commit. Per bet, what the wallet's batch does for it (`money::load`, `money::flush`):
//! read the key, the player, the session, the round and the tombstone; insert the key's
//! row with its fingerprint and answer, the round and both ledger entries with the hash
//! link; write the player's balance back. No HTTP, JSON, signatures or attempt log.
//!
//! Measured twice: with one ascending sequence of keys (the floor of the ratio), and
//! with one sequence per client as the bench's clients send them (see [`Keys`]).
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use migrations::MigratorTrait;
use rusqlite::{params, Connection, OptionalExtension};
use sea_orm::SqlxSqliteConnector;
use sqlx::sqlite::SqlitePoolOptions;

use super::BaselineFigures;
use crate::bench::config::BenchConfig;

const PROVIDER: &str = "baseline-provider";
const GAME: &str = "baseline-slots";
/// Players of the floor at most; bets go round-robin over them like `first`.
const MAX_PLAYERS: usize = 10_000;
const DEPOSIT_MINOR: i64 = 1_000_000_000;
/// Bets per transaction.
const BATCH: usize = 64;

pub async fn run(database_url: &str, config: &BenchConfig) -> anyhow::Result<BaselineFigures> {
    let one_sequence = measure_on_fresh_file(database_url, config, Keys::OneSequence).await?;
    let mut figures = batch_ms_summary(one_sequence, config);
    let by_client = Keys::OneSequencePerClient(config.clients.max(1));
    let (bets, elapsed, _) = measure_on_fresh_file(database_url, config, by_client).await?;
    figures.client_keys_per_s = Some(bets as f64 / elapsed.as_secs_f64());
    Ok(figures)
}

/// How the floor names its keys and rounds.
#[derive(Debug, Clone, Copy)]
enum Keys {
    /// One ascending sequence: every batch's keys land on the last pages of their
    /// indexes. The floor the ratio is taken against.
    OneSequence,
    /// One sequence per client, as the bench's clients send them (`{client}-{n}`): each
    /// bet of a batch inserts its key, round and ledger entry at a page of its own, as the
    /// wallet's batches do. Shows what the engine alone does with the wallet's key pattern
    /// (docs/PERFORMANCE.md).
    OneSequencePerClient(usize),
}

impl Keys {
    /// The key of the `n`th bet (from 0).
    fn key(self, n: u64) -> String {
        match self {
            Keys::OneSequence => format!("{n}"),
            Keys::OneSequencePerClient(clients) => {
                let clients = clients as u64;
                format!("c{}-{}", n % clients, n / clients)
            }
        }
    }
}

async fn measure_on_fresh_file(
    database_url: &str,
    config: &BenchConfig,
    keys: Keys,
) -> anyhow::Result<(u64, Duration, Vec<f64>)> {
    let path = fresh_path(database_url, &config.run_tag);
    let outcome = measure(&path, config, keys).await;
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

async fn measure(
    path: &Path,
    config: &BenchConfig,
    keys: Keys,
) -> anyhow::Result<(u64, Duration, Vec<f64>)> {
    // The wallet's own schema, indexes included.
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(crate::db::sqlite_options(&url)?)
        .await?;
    migrations::Migrator::up(
        &SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.clone()),
        None,
    )
    .await
    .context("migrate the baseline database")?;
    pool.close().await;
    let (path, players, duration) = (
        path.to_path_buf(),
        config.players.clamp(BATCH, MAX_PLAYERS),
        config.duration,
    );
    tokio::task::spawn_blocking(move || floor(&path, players, duration, keys)).await?
}

fn batch_ms_summary(
    (bets, elapsed, mut batch_ms): (u64, Duration, Vec<f64>),
    config: &BenchConfig,
) -> BaselineFigures {
    batch_ms.sort_by(f64::total_cmp);
    let p99 = batch_ms
        .get((batch_ms.len() * 99 / 100).min(batch_ms.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    BaselineFigures {
        engine: "sqlite".to_owned(),
        name: format!(
            "the wallet's rows for each bet, batches of {BATCH}, one synchronous connection"
        ),
        clients: 1,
        duration_s: elapsed.as_secs_f64(),
        transactions_per_s: bets as f64 / elapsed.as_secs_f64(),
        wallet_first_per_s: None,
        ratio: None,
        detail: format!(
            "{bets} bets in {} batches, batch p99 {p99:.1} ms; the wallet ran {} clients",
            batch_ms.len(),
            config.clients
        ),
        client_keys_per_s: None,
    }
}

/// Runs batches for `duration`: bets, time, and each batch's milliseconds.
fn floor(
    path: &Path,
    players: usize,
    duration: Duration,
    keys: Keys,
) -> anyhow::Result<(u64, Duration, Vec<f64>)> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000;",
    )?;
    setup(&mut conn, players)?;
    let started = Instant::now();
    let mut bets = 0u64;
    let mut batch_ms = Vec::new();
    let mut next_player = 0usize;
    while started.elapsed() < duration {
        let batch_started = Instant::now();
        let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let first_id: i64 = txn.query_row(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM wallet_transactions",
            [],
            |row| row.get(0),
        )?;
        for id in first_id..first_id + BATCH as i64 {
            let player = format!("baseline-p{}", next_player % players);
            next_player += 1;
            bet(&txn, id, &player, bets, &keys.key(bets))?;
            bets += 1;
        }
        txn.commit()?;
        batch_ms.push(batch_started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((bets, started.elapsed(), batch_ms))
}

/// One bet's reads and writes, as the wallet's batch makes them.
fn bet(
    txn: &rusqlite::Transaction<'_>,
    id: i64,
    player: &str,
    n: u64,
    key: &str,
) -> anyhow::Result<()> {
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let transaction_id = format!("baseline-tx-{key}");
    let round_id = format!("baseline-round-{key}");
    let amount_minor = 100 + (n % 900) as i64;
    let claimed: Option<i64> = txn
        .prepare_cached(
            "SELECT id FROM wallet_transactions WHERE scope = ? AND transaction_id = ?",
        )?
        .query_row(params![PROVIDER, transaction_id], |row| row.get(0))
        .optional()?;
    anyhow::ensure!(claimed.is_none(), "the floor reused a key");
    let (balance, head): (i64, Option<String>) = txn
        .prepare_cached("SELECT balance_minor, ledger_head FROM players WHERE id = ?")?
        .query_row(params![player], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let session = format!("session-{player}");
    txn.prepare_cached(
        "SELECT player_id, superseded, expires_at FROM game_sessions WHERE token = ?",
    )?
    .query_row(params![session], |row| row.get::<_, String>(0))?;
    txn.prepare_cached(
        "SELECT state FROM rounds WHERE provider_id = ? AND player_id = ? AND round_id = ?",
    )?
    .query_row(params![PROVIDER, player, round_id], |row| {
        row.get::<_, String>(0)
    })
    .optional()?;
    txn.prepare_cached(
        "SELECT player_id FROM tombstones WHERE provider_id = ? AND transaction_id = ?",
    )?
    .query_row(params![PROVIDER, transaction_id], |row| {
        row.get::<_, String>(0)
    })
    .optional()?;
    let clearing = crate::ledger::provider_account(PROVIDER, "EUR");
    let posted = crate::ledger::posting(
        crate::ledger::Account {
            player_id: player,
            currency: "EUR",
            balance_minor: balance,
            head: head.as_deref(),
        },
        id,
        -amount_minor,
        &clearing,
    );
    let (after, link) = (posted.balance_after, posted.chain_hash.as_str());
    let (fingerprint, request) = rows_text(&transaction_id, player, &round_id, amount_minor);
    // Packed as the wallet keeps a request.
    let packed = crate::idempotency::packed_request::pack(&request);
    let request = if packed.is_some() {
        String::new()
    } else {
        request
    };
    txn.prepare_cached(
        "INSERT INTO wallet_transactions (id, scope, transaction_id, op, kind, player_id, \
         round_id, game_id, amount_minor, currency, target_transaction_id, fingerprint, state, \
         outcome, error_code, http_status, response_body, request_body, request_id, created_at, \
         updated_at, amount_hint_mismatch, balance_after_minor, request_packed) VALUES (?, ?, ?, \
         'BET', 'BET', ?, ?, ?, ?, 'EUR', NULL, ?, 'COMMITTED', NULL, NULL, 200, '', ?, ?, ?, ?, \
         FALSE, ?, ?)",
    )?
    .execute(params![
        id,
        PROVIDER,
        transaction_id,
        player,
        round_id,
        GAME,
        amount_minor,
        fingerprint,
        request,
        format!("req-{n}"),
        now,
        now,
        after,
        packed
    ])?;
    txn.prepare_cached(
        "INSERT INTO rounds (provider_id, player_id, round_id, game_id, state, opened_at, \
         closed_at) VALUES (?, ?, ?, ?, 'OPEN', ?, NULL)",
    )?
    .execute(params![PROVIDER, player, round_id, GAME, now])?;
    let updated = txn
        .prepare_cached(
            "UPDATE players SET balance_minor = ?, ledger_head = ?, updated_at = ? \
             WHERE id = ? AND balance_minor = ?",
        )?
        .execute(params![after, link, now, player, balance])?;
    anyhow::ensure!(updated == 1, "the floor's compare-and-set failed");
    let mut insert = txn.prepare_cached(
        "INSERT INTO ledger_entries (wallet_transaction_id, account, currency, amount_minor, \
         balance_after_minor, chain_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?;
    for entry in posted.entries {
        insert.execute(params![
            entry.wallet_tx_id,
            entry.account,
            entry.currency,
            entry.amount_minor,
            entry.balance_after_minor,
            entry.chain_hash,
            now
        ])?;
    }
    Ok(())
}

/// A bet's fingerprint and request, of the wallet's shape and size.
fn rows_text(
    transaction_id: &str,
    player: &str,
    round_id: &str,
    amount_minor: i64,
) -> (String, String) {
    let fingerprint = format!(
        r#"["0a1b2c3d","EUR",2,"{amount_minor}","{GAME}","BET","BET","{player}",null,false,"{round_id}",null]"#
    );
    let request = format!(
        r#"{{"transaction_id":"{transaction_id}","player_id":"{player}","round_id":"{round_id}","game_id":"{GAME}","session_token":"[redacted]","amount":{{"value":"{amount_minor}","currency":"EUR","scale":2}}}}"#
    );
    // A bet's answer is rebuilt from its columns, as the wallet does (no body kept).
    (fingerprint, request)
}

fn setup(conn: &mut Connection, players: usize) -> anyhow::Result<()> {
    let now = Utc::now();
    let txn = conn.transaction()?;
    txn.execute(
        "INSERT INTO providers (id, name, created_at, updated_at) VALUES (?, 'Baseline', ?, ?)",
        params![PROVIDER, now, now],
    )?;
    for index in 0..players {
        let id = format!("baseline-p{index}");
        txn.execute(
            "INSERT INTO players (id, currency, status, balance_minor, ledger_head, created_at, \
             updated_at) VALUES (?, 'EUR', 'ACTIVE', ?, NULL, ?, ?)",
            params![id, DEPOSIT_MINOR, now, now],
        )?;
        txn.execute(
            "INSERT INTO game_sessions (token, player_id, provider_id, game_id, superseded, \
             created_at, expires_at) VALUES (?, ?, ?, ?, FALSE, ?, ?)",
            params![
                format!("session-{id}"),
                id,
                PROVIDER,
                GAME,
                now,
                now + chrono::Duration::days(1)
            ],
        )?;
    }
    txn.commit()?;
    Ok(())
}
