//! `server seed`: fills a database with realistic history quickly, for measuring the
//! dashboard and reconciliation at scale. Players make deposits and play rounds at three
//! providers over the last 30 days: bets and wins, rollbacks, two-bet rounds, declines,
//! free bets, jackpots, rollbacks that arrive before their bet; the attempt log has every
//! request with replays, conflicts and refused signatures, and its counters.
//!
//! Every row is what the wallet would have written: requests go through the wallet's own
//! parsers, answers through `idempotency::first_answer`, postings carry their balances and
//! hash-chain links, so reconciliation and `verify-trail` find nothing but the few
//! findings planted on purpose, which the seed reports. Rows are written with multi-row
//! INSERTs in one database transaction.
pub mod cli;
mod history;
mod rows;
mod writer;

use std::time::Instant;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, TransactionTrait};
use serde::Serialize;

use crate::attempts::counters::Tally;

pub use history::Planted;
pub use writer::Written;

/// Transactions generated between two writes.
const BATCH_TRANSACTIONS: usize = 5_000;

#[derive(Debug, Clone)]
pub struct SeedConfig {
    pub database_url: String,
    /// Wallet transactions to write (deposits, bets, wins, rollbacks, closes, declines).
    pub transactions: u64,
    /// 1 to 5.
    pub providers: usize,
    /// Default: one per hundred transactions, at least ten.
    pub players: Option<usize>,
    /// How far back the history starts.
    pub days: u32,
    /// Random choices; the same seed gives the same history (ids aside).
    pub seed: u64,
    /// Prefix of every id, so several seeds can share a database.
    pub run_tag: String,
    pub print: bool,
}

impl SeedConfig {
    pub fn new(database_url: &str, transactions: u64) -> SeedConfig {
        SeedConfig {
            database_url: database_url.to_owned(),
            transactions,
            providers: 3,
            players: None,
            days: 30,
            seed: 1,
            run_tag: format!("seed-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
            print: true,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    pub run_tag: String,
    pub players: usize,
    pub providers: usize,
    pub written: Written,
    pub planted: Planted,
    pub elapsed_s: f64,
}

impl SeedReport {
    pub fn render(&self) -> String {
        let w = &self.written;
        let p = &self.planted;
        format!(
            "seeded {} transactions, {} ledger entries, {} rounds, {} tombstones, {} attempts, \
             {} players at {} providers (ids {}-…) in {:.1} s\n\
             planted on purpose; `server reconcile` should report exactly these and no CRITICAL finding:\n  \
             PENDING_ROLLBACK     {}\n  STALE_ROUND          {}\n  UNCLAIMED_TOMBSTONE  {}\n  AMOUNT_HINT_MISMATCH {}",
            w.transactions,
            w.ledger_entries,
            w.rounds,
            w.tombstones,
            w.attempts,
            self.players,
            self.providers,
            self.run_tag,
            self.elapsed_s,
            p.pending_rollbacks,
            p.stale_rounds,
            p.unclaimed_tombstones,
            p.hint_mismatches
        )
    }
}

/// Migrates the database if needed and writes the history in one transaction. The
/// server should not be writing to the database meanwhile: the seed assigns ids itself.
pub async fn run(config: SeedConfig) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    // One connection: the pragmas below are per connection.
    let mut options = sea_orm::ConnectOptions::new(config.database_url.as_str());
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.with_context(|| {
        if config.database_url.starts_with("sqlite:") && !config.database_url.contains("mode=rwc") {
            "connect to the database (to create a new SQLite file, end the URL with ?mode=rwc)"
        } else {
            "connect to the database"
        }
    })?;
    crate::db::migrate(&db).await?;
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    let mut rollback_journal = false;
    if sqlite {
        // A big page cache: the indexes take random inserts.
        db.execute(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA cache_size = -262144",
        ))
        .await?;
        // And a rollback journal instead of the WAL while seeding, if nothing else has
        // the file open (the server is stopped): one transaction of gigabytes would first
        // go whole into the WAL and then be copied into the file, where a rollback journal
        // keeps only the pages that existed before. With the server running, the WAL
        // stays (a small seed beside a test server).
        rollback_journal = db
            .execute(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA journal_mode = DELETE",
            ))
            .await
            .is_ok();
    }
    let players = config
        .players
        .unwrap_or((config.transactions / 100).max(10) as usize);
    let first_ids = rows::FirstIds {
        transaction: writer::next_id(&db, "wallet_transactions").await?,
        entry: writer::next_id(&db, "ledger_entries").await?,
        event: writer::next_id(&db, "outbox_events").await?,
    };
    let mut history = history::History::new(
        &config.run_tag,
        config.providers.clamp(1, 5),
        players,
        config.days.max(1),
        config.transactions,
        config.seed,
        first_ids,
    );
    let txn = db.begin().await?;
    let mut written = Written::default();
    let mut counters = Tally::default();
    let mut batch = rows::Batch::default();
    writer::providers(&txn, &history.providers, history.start()).await?;
    history.first_deposits(&mut batch);
    let mut generated = batch.len() as u64;
    let mut next_report = config.transactions / 10;
    while generated < config.transactions {
        history.round(&mut batch, generated);
        if batch.len() >= BATCH_TRANSACTIONS {
            generated += batch.len() as u64;
            writer::flush(&txn, &mut batch, &mut written, &mut counters).await?;
            if config.print && generated >= next_report {
                println!(
                    "  {generated} transactions written ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
                next_report += config.transactions / 10;
            }
        }
        generated = written.transactions + batch.len() as u64;
    }
    history.plant(&mut batch);
    writer::flush(&txn, &mut batch, &mut written, &mut counters).await?;
    writer::players(
        &txn,
        &history.players,
        &history.providers,
        history.start(),
        chrono::Utc::now(),
        &mut written,
        &mut counters,
    )
    .await?;
    writer::counters(&txn, counters).await?;
    writer::finish(&txn).await?;
    txn.commit().await?;
    if rollback_journal {
        db.execute(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA journal_mode = WAL",
        ))
        .await?;
    }
    if db.get_database_backend() == DbBackend::Postgres {
        // A bulk load into empty tables rebuilds their indexes once loaded, as a restore
        // does. Each of the seed's key sequences inserts in the middle of an index, and
        // PostgreSQL splits such pages in half, so as written they stand about 55 % full
        // (docs/PERFORMANCE.md, "Bytes per transaction"). Beside existing data the
        // indexes are left as traffic left them.
        if first_ids.transaction == 1 {
            if config.print {
                println!("  rebuilding the indexes of the loaded tables");
            }
            writer::rebuild_indexes(&db).await?;
        }
        db.execute(Statement::from_string(DbBackend::Postgres, "ANALYZE"))
            .await?;
    }
    Ok(SeedReport {
        run_tag: config.run_tag,
        players,
        providers: history.providers.len(),
        written,
        planted: history.planted.clone(),
        elapsed_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    })
}
