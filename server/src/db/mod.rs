//! The database: connecting, migrating, and the one way the money path writes.
//!
//! Every write goes through [`Store::write`] or, for the money path, [`Store::enqueue_for`],
//! which run a unit of work in one database transaction. On SQLite a single writer thread
//! batches concurrent units into one transaction (group commit), and they are answered
//! only once the commit is durable (`wal_sync`). On PostgreSQL the money path does the same in a few lanes
//! chosen by player, and every other unit is its own transaction, retried as a whole on
//! serialization failures and deadlocks.
pub mod entities;
mod group_commit;
mod inline_reads;
mod pg_reads;
pub mod space;
pub mod sql;
pub mod sqlite_sync;
mod wal_sync;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use migrations::MigratorTrait;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, RuntimeErr,
    SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionTrait,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::ServiceError;
pub use group_commit::{Unit, WriterConfig, MAX_PG_WRITE_LANES, PG_WRITE_LANES};
pub use inline_reads::InlineReads;
use pg_reads::GENERIC_INDEX_PLANS;
pub use pg_reads::{query_error, PgReads};

/// How many times a PostgreSQL unit of work is retried after a serialization failure or a
/// deadlock before the caller gets `503 TEMPORARY_UNAVAILABLE`.
const PG_MAX_ATTEMPTS: u32 = 5;
/// How long a statement waits for a row lock (a concurrent duplicate, a busy player)
/// before giving up; the caller then gets a retryable 503.
const PG_LOCK_TIMEOUT: &str = "5s";
/// How long one request waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/readyz` waits for the database before it answers 503.
const READY_TIMEOUT: Duration = Duration::from_secs(1);
/// SQLite's WAL is copied into the database file by a background connection every
/// [`CHECKPOINT_EVERY`] (a passive checkpoint: it never waits and never holds the
/// writer). Only a checkpoint that starts while nobody writes can restart the WAL from its
/// beginning, so once the background one sees more than [`WAL_RESTART_PAGES`] in it, the
/// writer runs one between two batches (`sqlite_sync::restart_wal`), with little left to
/// copy. Left to SQLite, the writer checkpointed inside every commit past its threshold,
/// with two fsyncs each time, until a restart succeeded: 9 % of its time
/// (docs/PERFORMANCE.md, "Checkpoints between batches"). Past
/// [`WRITER_AUTOCHECKPOINT_PAGES`] (if the background connection stopped) the writer's
/// commits checkpoint as SQLite's do, so the WAL stays bounded.
const WAL_RESTART_PAGES: i64 = 10_000;
/// The WAL file is cut back to this size whenever it starts again from its beginning. A
/// long read (a report, a backup) can hold the WAL from restarting while the writer
/// appends; without a limit the file keeps the size it reached (2.4 GB once in the soak,
/// docs/RELIABILITY.md), and with it the shared-memory index every connection maps.
const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 50_000;
/// Often, so that little is left for the writer's restart to copy: the restart holds the
/// money path while it copies what the background checkpoint has not and syncs the file.
/// Every 100 ms, a restart held it 13 ms (median; one every 0.2 s at 7,000 bets/s), which
/// was SQLite's p99; every 20 ms, 7.5 ms (docs/PERFORMANCE.md, "The WAL restart's stall").
const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A unit of work run inside one database transaction. It may run more than once on
/// PostgreSQL (a retried serialization failure), so it must be a pure function of its input
/// and the database.
pub type Work<T> =
    dyn for<'c> Fn(&'c DatabaseTransaction) -> BoxFuture<'c, Result<T, ServiceError>> + Send + Sync;

#[derive(Clone)]
pub struct Store {
    engine: Engine,
    reader: DatabaseConnection,
    writer: Writer,
    /// SQLite on a file: reads made on the calling thread (see [`InlineReads`]).
    inline_reads: Option<InlineReads>,
    /// PostgreSQL: the per-request reads' own connections (see [`PgReads`]).
    pg_reads: Option<std::sync::Arc<PgReads>>,
    /// SQLite: how far the writer's commits are on disk (see `wal_sync`).
    durable: Option<wal_sync::Durable>,
    /// SQLite: held while any clone of the store lives; the background checkpoint stops
    /// when it is gone.
    _alive: Option<std::sync::Arc<()>>,
    /// Whether writes are refused for lack of space, and SQLite's size cap.
    space: std::sync::Arc<space::Space>,
    /// How the read pool's connections are opened (see [`Store::for_background`]).
    read_options: ReadOptions,
}

#[derive(Clone)]
enum ReadOptions {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

/// How busy one connection pool is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUse {
    pub name: &'static str,
    /// Connections open, busy or idle.
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolUse {
    fn of(name: &'static str, db: &DatabaseConnection) -> PoolUse {
        fn use_of<D: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<D>) -> PoolUse {
            PoolUse {
                name,
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => use_of(name, db.get_postgres_connection_pool()),
            _ => use_of(name, db.get_sqlite_connection_pool()),
        }
    }
}

#[derive(Clone)]
enum Writer {
    /// Every unit in a transaction of its own; the money path in these lanes, if any.
    Postgres(DatabaseConnection, Vec<group_commit::Handle>),
    Sqlite(group_commit::Handle),
}

impl Store {
    /// Connects, runs the migrations and starts the SQLite writer if needed.
    pub async fn connect(database_url: &str, writer_config: WriterConfig) -> anyhow::Result<Store> {
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            connect_postgres(database_url, writer_config).await
        } else if database_url.starts_with("sqlite:") {
            connect_sqlite(database_url, writer_config).await
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://")
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A connection for reads that need no transaction (replays, lookups). On SQLite these
    /// are separate read-only connections that never wait for the writer.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// The same store for work on a background runtime (`crate::background`): the same
    /// writer, but its reads, and on PostgreSQL its writes outside the money path, go
    /// through a pool of its own of at most `connections`, opened lazily. Call it on that
    /// runtime. A connection belongs to the runtime that opened it (and on SQLite its
    /// thread takes the opening thread's priority), so the requests' pools never hold a
    /// connection that waits for the background thread's turn.
    pub fn for_background(&self, connections: u32) -> Store {
        let mut store = self.clone();
        match &self.read_options {
            ReadOptions::Sqlite(options) => {
                let pool = SqlitePoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options.clone());
                store.reader = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
            }
            ReadOptions::Postgres(options) => {
                let pool = PgPoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options.clone());
                let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
                if let Writer::Postgres(_, lanes) = &self.writer {
                    store.writer = Writer::Postgres(db.clone(), lanes.clone());
                }
                store.reader = db;
            }
        }
        store
    }

    /// Closes the pool this clone opened for itself (see [`Store::for_background`]) and
    /// waits until their connections are gone, so that their caches go back to the
    /// allocator. Only for a store from `for_background`: on any other clone it would close
    /// the pools every clone shares.
    pub async fn close_own_pool(self) {
        // On PostgreSQL the writes outside the lanes went through this same pool.
        let _ = self.reader.close().await;
    }

    /// SQLite on a file: reads on the calling thread, for the hottest single-row reads.
    pub fn inline_reads(&self) -> Option<&InlineReads> {
        self.inline_reads.as_ref()
    }

    /// PostgreSQL: connections for the reads on every wallet request's path.
    pub fn pg_reads(&self) -> Option<&PgReads> {
        self.pg_reads.as_deref()
    }

    /// Waits until every money operation committed before the call is on disk, so that
    /// what a read just saw cannot be undone by a power cut. Call it between a read and
    /// an answer built from it (replays, balances, lookups). Only SQLite's writer
    /// answers before its commits are durable (see `wal_sync`); elsewhere it returns at
    /// once.
    pub async fn settled(&self) {
        if let Some(durable) = &self.durable {
            durable.settled().await;
        }
    }

    /// Whether writes are refused for lack of space, and SQLite's size cap.
    pub fn space(&self) -> &space::Space {
        &self.space
    }

    /// Runs `work` in one database transaction and returns its result once committed.
    /// An `Err` from `work` rolls back everything it wrote.
    pub async fn write<T: Send + 'static>(&self, work: Box<Work<T>>) -> Result<T, ServiceError> {
        let result = self.write_unnoted(work).await;
        self.space.note(&result);
        result
    }

    async fn write_unnoted<T: Send + 'static>(
        &self,
        work: Box<Work<T>>,
    ) -> Result<T, ServiceError> {
        match &self.writer {
            Writer::Sqlite(handle) => {
                let done = handle.submit(work).await;
                // Work that wrote nothing committed without an fsync, yet may answer with
                // money data it read (an unchanged player's balance): only once durable.
                self.settled().await;
                done
            }
            Writer::Postgres(db, _) => write_postgres(db, work.as_ref()).await,
        }
    }

    /// Runs prebuilt statements in order in one transaction (the attempt log's inserts):
    /// on SQLite in the writer's next batch, on its synchronous connection.
    /// Shared, so that a caller can try the same statements again.
    pub async fn write_statements(
        &self,
        statements: std::sync::Arc<Vec<Statement>>,
    ) -> Result<(), ServiceError> {
        match &self.writer {
            Writer::Sqlite(handle) => handle.submit_statements(statements).await,
            Writer::Postgres(db, _) => {
                write_postgres(db, &move |txn| {
                    let statements = std::sync::Arc::clone(&statements);
                    Box::pin(async move {
                        for statement in statements.iter() {
                            txn.execute(statement.clone()).await?;
                        }
                        Ok(())
                    })
                })
                .await
            }
        }
    }

    /// Queues a money operation's unit on `player_id` for the writer; never waits (a
    /// full queue is `Overloaded`). On SQLite it joins the one writer's next batch. On
    /// PostgreSQL the operations on one player queue in one lane chosen by player and are
    /// committed together: each otherwise holds the player's row lock until its own commit
    /// is flushed. Without lanes each runs in a transaction of its own.
    pub fn enqueue_for(&self, player_id: &str, unit: Box<dyn Unit>) -> Result<(), ServiceError> {
        match &self.writer {
            Writer::Sqlite(handle) => handle.enqueue(unit),
            Writer::Postgres(_, lanes) if !lanes.is_empty() => {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                player_id.hash(&mut hasher);
                let lane = (hasher.finish() % lanes.len() as u64) as usize;
                lanes[lane].enqueue(unit)
            }
            Writer::Postgres(db, _) => {
                let db = db.clone();
                tokio::spawn(async move { group_commit::run_alone(&db, unit).await });
                Ok(())
            }
        }
    }

    /// Units waiting for the writer (for `/metrics`): on PostgreSQL, in every lane.
    pub fn write_queue_depth(&self) -> usize {
        match &self.writer {
            Writer::Sqlite(handle) => handle.queued(),
            Writer::Postgres(_, lanes) => lanes.iter().map(group_commit::Handle::queued).sum(),
        }
    }

    /// The connection pools' use (for `/metrics`): the read pool (the console, the
    /// operator API, the wallet's lookups) and, on PostgreSQL, the pool of the writes outside the
    /// money path's lanes.
    pub fn pools(&self) -> Vec<PoolUse> {
        let mut pools = vec![PoolUse::of("read", &self.reader)];
        if let Writer::Postgres(db, _) = &self.writer {
            pools.push(PoolUse::of("write", db));
        }
        pools
    }

    /// `true` when the database answers a trivial query.
    /// Whether the database answers within [`READY_TIMEOUT`]. Without the bound, a probe
    /// during an outage would wait out the pool's acquire timeout (sqlx keeps retrying the
    /// refused connection), and an outage shorter than that would never show as unready.
    pub async fn is_ready(&self) -> bool {
        tokio::time::timeout(READY_TIMEOUT, self.reader.ping())
            .await
            .is_ok_and(|ping| ping.is_ok())
    }
}

/// The wallet's SQLite settings (also used by the load generator's baseline, which must
/// measure the same pragmas).
pub fn sqlite_options(database_url: &str) -> anyhow::Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(database_url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Acknowledged means durable: every commit is fsynced before anyone is answered.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES.to_string()))
}

/// Prepared statements kept per read connection on SQLite (see `connect_sqlite`).
const READ_STATEMENT_CACHE: usize = 24;
/// SQLite's page cache per read connection, in KiB (SQLite's default is 2,000).
const READ_PAGE_CACHE_KIB: u32 = 512;

async fn connect_sqlite(database_url: &str, writer_config: WriterConfig) -> anyhow::Result<Store> {
    if database_url.contains(":memory:") || database_url.contains("mode=memory") {
        anyhow::bail!(
            "DATABASE_URL: an in-memory SQLite database is not supported (the money path \
             writes through a second connection to the file); give a file path"
        );
    }
    let options = sqlite_options(database_url)?;
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    // One connection writes; SQLite allows one writer at a time anyway, and owning it in one
    // thread is what makes batching possible.
    let write_pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone().pragma(
            "wal_autocheckpoint",
            WRITER_AUTOCHECKPOINT_PAGES.to_string(),
        ))
        .await?;
    let writer_db = SqlxSqliteConnector::from_sqlx_sqlite_pool(write_pool);
    migrations::Migrator::up(&writer_db, None).await?;
    let path = options.get_filename().to_path_buf();
    if InlineReads::for_file(&path).is_none() {
        anyhow::bail!("DATABASE_URL: give the SQLite database's file path");
    }
    let (sync_writer, path) = tokio::task::spawn_blocking(move || {
        sqlite_sync::open_writer(&path, WRITER_AUTOCHECKPOINT_PAGES).map(|writer| (writer, path))
    })
    .await??;
    let wal = wal_sync::WalSync::start(&path).context("open the SQLite database's WAL file")?;
    let durable = wal.durable();
    let alive = std::sync::Arc::new(());
    let restart_wal = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    spawn_checkpoint(
        path.clone(),
        std::sync::Arc::downgrade(&alive),
        std::sync::Arc::clone(&restart_wal),
    )
    .context("start the SQLite checkpoint thread")?;
    let space = std::sync::Arc::new(space::Space::with_max_size_mb(
        writer_config.sqlite_max_size_mb,
    ));
    let inline_reads = InlineReads::for_file(options.get_filename());
    // The read pool serves the console, the operator API and the wallet's lookups, not the
    // money path (`inline_reads`) nor reconciliation runs (their own, `reconcile::job`). Its connections take turns, and each kept SQLite's
    // default 2 MB page cache and sqlx's 100 prepared statements (an `IN (…)` list of each
    // length is a statement of its own): over an hour's soak the server grew by about
    // 20 MB as one reconciliation run after another filled another connection's cache
    // (docs/RELIABILITY.md, "The soak"). The pages stay in the operating system's cache.
    let read_options = options
        .read_only(true)
        .statement_cache_capacity(READ_STATEMENT_CACHE)
        .pragma("cache_size", format!("-{READ_PAGE_CACHE_KIB}"));
    let read_pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(read_options.clone())
        .await?;
    Ok(Store {
        engine: Engine::Sqlite,
        inline_reads,
        pg_reads: None,
        reader: SqlxSqliteConnector::from_sqlx_sqlite_pool(read_pool),
        writer: Writer::Sqlite(group_commit::spawn_sqlite(
            writer_db,
            writer_config,
            sync_writer,
            wal,
            restart_wal,
            std::sync::Arc::clone(&space),
        )?),
        durable: Some(durable),
        _alive: Some(alive),
        space,
        read_options: ReadOptions::Sqlite(read_options),
    })
}

/// Copies the WAL into the database file in the background, and asks the writer for a
/// restart when the WAL has grown past [`WAL_RESTART_PAGES`]. Stops within one interval
/// of the last clone of its store. A passive checkpoint never waits for readers or the
/// writer.
///
/// It runs on a thread of its own at a lower priority (`background::lower_priority`),
/// with a connection of its own: it copies a few megabytes every interval, about a
/// tenth of a core at 7,000 bets a second, and nobody waits for it, while the writer,
/// the fsync thread and the requests' threads are what a bet waits for. At the same
/// priority it took their turns on the CPU (docs/PERFORMANCE.md, "The checkpoint at a
/// lower priority").
fn spawn_checkpoint(
    path: std::path::PathBuf,
    alive: std::sync::Weak<()>,
    restart_wal: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<()> {
    let connection = rusqlite::Connection::open(&path)
        .map_err(|error| std::io::Error::other(format!("open {}: {error}", path.display())))?;
    let database_file = std::fs::File::open(&path)?;
    std::thread::Builder::new()
        .name("wal-checkpoint".into())
        .spawn(move || {
            crate::background::lower_priority();
            let mut synced_up_to = 0;
            while alive.upgrade().is_some() {
                std::thread::sleep(CHECKPOINT_EVERY);
                // One row: (busy, pages in the WAL, pages of it copied into the database).
                let pages = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                });
                match pages {
                    Ok((in_wal, copied)) => {
                        // The pages just copied go to disk now, from this thread. Left in
                        // the page cache, they all waited for the sync inside the writer's
                        // WAL restart, with the money path held meanwhile (p99 26–27 ms
                        // against 19–23 ms; docs/PERFORMANCE.md, "The checkpoint at a
                        // lower priority"). Nothing waits for this sync to succeed: the
                        // WAL still holds every page until a restart, which syncs again.
                        if copied > 0 && copied != synced_up_to {
                            if let Err(error) = database_file.sync_data() {
                                tracing::debug!(%error, "syncing the checkpointed database file");
                            }
                            synced_up_to = copied;
                        }
                        if in_wal >= WAL_RESTART_PAGES {
                            restart_wal.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Err(error) => tracing::debug!(%error, "background WAL checkpoint"),
                }
            }
        })?;
    Ok(())
}

async fn connect_postgres(
    database_url: &str,
    writer_config: WriterConfig,
) -> anyhow::Result<Store> {
    // No JIT: PostgreSQL compiles a query whose estimated cost passes `jit_above_cost`,
    // and on tables that grow as fast as the ledger the estimates run ahead of the
    // statistics; a delivery round's read of a few hundred entries was compiled every
    // time, 90–130 ms for 1 ms of work (docs/PERFORMANCE.md, "Events").
    let options = PgConnectOptions::from_str(database_url)?.options([
        ("lock_timeout", PG_LOCK_TIMEOUT),
        ("statement_timeout", "30s"),
        ("jit", "off"),
    ]);
    let pool = PgPoolOptions::new()
        .max_connections(32)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await?;
    let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
    migrate_postgres(&db).await?;
    let lane_count = writer_config
        .pg_write_lanes
        .min(usize::from(MAX_PG_WRITE_LANES));
    // The lanes' statements are lookups and writes by key, the same text batch after
    // batch: on connections of their own they are planned once, for index scans only
    // (see `pg_reads::GENERIC_INDEX_PLANS`).
    let lane_pool = PgPoolOptions::new()
        .max_connections(lane_count.max(1) as u32)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options.clone().options(GENERIC_INDEX_PLANS));
    let lane_db = SqlxPostgresConnector::from_sqlx_postgres_pool(lane_pool);
    let lanes = (0..lane_count)
        .map(|_| group_commit::spawn(lane_db.clone(), writer_config))
        .collect();
    Ok(Store {
        engine: Engine::Postgres,
        reader: db.clone(),
        writer: Writer::Postgres(db, lanes),
        inline_reads: None,
        pg_reads: Some(std::sync::Arc::new(PgReads::new(&options))),
        durable: None,
        _alive: None,
        space: std::sync::Arc::default(),
        read_options: ReadOptions::Postgres(options),
    })
}

/// Runs the migrations on a connection of either engine (PostgreSQL's under its advisory
/// lock), for tools that write to the database without a [`Store`].
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    match ConnectionTrait::get_database_backend(db) {
        sea_orm::DbBackend::Postgres => migrate_postgres(db).await,
        _ => Ok(migrations::Migrator::up(db, None).await?),
    }
}

/// Several server processes may start at once on one database: an advisory lock makes
/// them migrate one after another.
async fn migrate_postgres(db: &DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, Statement};
    const MIGRATION_LOCK: i64 = 0x6f6e_6365_7761_6c6c; // "oncewall"
    let txn = db.begin().await?;
    txn.execute(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"),
    ))
    .await?;
    migrations::Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(())
}

async fn write_postgres<T>(db: &DatabaseConnection, work: &Work<T>) -> Result<T, ServiceError> {
    let mut attempt = 1;
    loop {
        let txn = db.begin().await?;
        let outcome = match work(&txn).await {
            Ok(value) => match txn.commit().await {
                Ok(()) => return Ok(value),
                Err(error) if is_transient(&error) => Err(ServiceError::Db(error)),
                Err(error) => return Err(ServiceError::OutcomeUnknown(error)),
            },
            Err(error) => {
                // Dropping the transaction rolls it back; do it explicitly to see errors.
                let _ = txn.rollback().await;
                Err(error)
            }
        };
        match outcome {
            Err(ServiceError::Db(error)) if is_transient(&error) && attempt < PG_MAX_ATTEMPTS => {
                tracing::debug!(%error, attempt, "retrying a transient database failure");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            Err(ServiceError::Db(error)) if is_lock_timeout(&error) => {
                return Err(ServiceError::InProgress)
            }
            other => return other,
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    let base_ms = 5u64 << attempt.min(6);
    Duration::from_millis(base_ms + rand::random::<u64>() % base_ms)
}

/// The SQLSTATE of a database error, if the database sent one.
pub fn sqlstate(error: &DbErr) -> Option<String> {
    let runtime = match error {
        DbErr::Exec(runtime) | DbErr::Query(runtime) | DbErr::Conn(runtime) => runtime,
        _ => return None,
    };
    match runtime {
        RuntimeErr::SqlxError(sqlx::Error::Database(db_error)) => {
            db_error.code().map(|code| code.into_owned())
        }
        _ => None,
    }
}

/// Serialization failures and deadlocks: the whole unit of work may simply run again.
pub fn is_transient(error: &DbErr) -> bool {
    matches!(sqlstate(error).as_deref(), Some("40001" | "40P01"))
}

/// PostgreSQL's `lock_timeout` fired.
pub fn is_lock_timeout(error: &DbErr) -> bool {
    sqlstate(error).as_deref() == Some("55P03")
}

/// `a."column" AS "a_column"` for every column of an entity, for one statement that reads
/// several tables (a model is then read back with `from_query_result(row, "a_")`).
pub fn aliased_columns<E: sea_orm::EntityTrait>(alias: &str) -> String {
    use sea_orm::{IdenStatic, Iterable};
    E::Column::iter()
        .map(|column| {
            let name = column.as_str();
            format!("{alias}.\"{name}\" AS \"{alias}_{name}\"")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Hand-written SQL uses PostgreSQL's `$1`, `$2`…; SQLite numbers them `?1`, `?2`….
pub fn numbered_parameters(backend: sea_orm::DbBackend, sql: String) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => sql,
        _ => sql.replace('$', "?"),
    }
}

/// The default database: a SQLite file under `data/` in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/oncewallet.db?mode=rwc";

/// The database every command works on.
#[derive(Clone, clap::Args)]
pub struct DatabaseSettings {
    /// `sqlite://FILE?mode=rwc` (created if missing) or `postgres://user:pass@host:port/db`
    #[arg(
        long,
        env = "DATABASE_URL",
        value_name = "URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: String,
}

/// For the tools that work on an existing database (`server reconcile`, `users`, …): a
/// SQLite URL must name a file that is there, or a typo or the wrong folder would create
/// and migrate an empty database and report on it.
pub fn require_existing(database_url: &str) -> anyhow::Result<()> {
    let Some(path) = sqlite_path(database_url) else {
        return Ok(());
    };
    anyhow::ensure!(
        std::path::Path::new(path).is_file(),
        "no SQLite database at {path:?}: name the server's database with --database-url or \
         DATABASE_URL (the server creates it at its first start)"
    );
    Ok(())
}

/// The file a `sqlite:` URL names; `None` for PostgreSQL.
pub fn sqlite_path(database_url: &str) -> Option<&str> {
    let rest = database_url.strip_prefix("sqlite:")?;
    rest.trim_start_matches("//").split('?').next()
}

/// A database URL without its password, for logs and progress lines.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod connect_tests {
    use super::*;

    /// The synchronous writer opens the file again: an in-memory database would be
    /// another, empty one, so it is refused with a clear error before anything starts.
    #[tokio::test]
    async fn an_in_memory_sqlite_database_is_refused() {
        for url in ["sqlite::memory:", "sqlite://wallet.db?mode=memory"] {
            let error = Store::connect(url, WriterConfig::default())
                .await
                .err()
                .unwrap_or_else(|| panic!("{url} was accepted"));
            assert!(error.to_string().contains("in-memory"), "{url}: {error}");
        }
    }
}
