//! Group commit: a writer takes every queued unit of work, runs them all inside one
//! transaction (each in its own savepoint if one of them fails), commits once (one flush
//! for the batch) and only then answers every caller.
//!
//! On SQLite one such writer, a thread, owns the only write connection, and its commits'
//! flush and answers are `wal_sync`'s, so that it runs the next batch meanwhile. On
//! PostgreSQL the money path
//! runs in several lanes, each a task like it, chosen by player: operations on one player
//! queue in one lane and share a transaction instead of each waiting for the previous
//! one's commit while its row lock is held (see `Store::enqueue_for`).
use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, Statement, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::wal_sync::WalSync;
use super::{sqlite_sync, Engine, Work};
use crate::error::ServiceError;

/// How often a unit is run again after a deadlock or serialization failure (PostgreSQL),
/// in the next batch, before its caller gets `503 TEMPORARY_UNAVAILABLE`.
const MAX_ATTEMPTS: u32 = 5;
/// The pause before a batch that re-runs such units.
const RETRY_PAUSE: Duration = Duration::from_millis(5);

/// Group-commit lanes of the PostgreSQL money path (`WALLET_PG_WRITE_LANES`; `0` runs each
/// operation in its own transaction). Each lane holds one pooled connection while a batch
/// runs. Since a batch costs three round trips whatever its size, fewer and larger
/// batches win on a small machine: 1, 2, 4 and 16 lanes gave 1,126, 1,022, 1,004 and
/// 681 first executions/s on 2 cores (docs/PERFORMANCE.md); 4 keeps some parallelism for
/// a database with more cores.
pub const PG_WRITE_LANES: u16 = 4;
/// Lanes at most: each may hold a connection of the pool of 32.
pub const MAX_PG_WRITE_LANES: u16 = 16;

#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Units of work waiting for the writer; past this the wallet sheds load with a 503.
    pub queue_capacity: usize,
    /// Units of work committed together at most.
    pub max_batch: usize,
    /// PostgreSQL: money operations' group-commit lanes (`WALLET_PG_WRITE_LANES`).
    pub pg_write_lanes: usize,
    /// SQLite: the database's size cap in MB (`WALLET_SQLITE_MAX_SIZE_MB`); 0: none.
    pub sqlite_max_size_mb: u32,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_capacity: 4096,
            max_batch: 256,
            pg_write_lanes: usize::from(PG_WRITE_LANES),
            sqlite_max_size_mb: 0,
        }
    }
}

/// A unit of work bound to its caller. It may run twice: first straight in the batch's
/// transaction and, if any unit of the batch failed, again in a savepoint of its own.
pub trait Unit: Send + 'static {
    /// Runs the work and keeps its result; `true` when it succeeded.
    fn run<'c>(&'c mut self, txn: &'c DatabaseTransaction, savepoint: bool) -> BoxFuture<'c, bool>;
    /// After a committed batch: whether the unit failed transiently (a deadlock or a
    /// serialization failure, rolled back to its savepoint) and should run again.
    fn retry(&mut self) -> bool;
    /// Answers the caller once the batch's commit finished, with its result.
    fn answer(self: Box<Self>, commit: Result<(), DbErr>);
    /// Units that run better as one (the money path's operations: one set-based pass
    /// for the whole batch) name the same type here; the writer merges them with
    /// [`Unit::absorb`] before it runs a batch.
    fn merge_key(&self) -> Option<TypeId> {
        None
    }
    /// Takes `other`, a unit of the same [`Unit::merge_key`], into this one.
    fn absorb(&mut self, other: Box<dyn Any + Send>) {
        let _ = other;
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
    /// Whether the unit writes what replays, balances and lookups answer from (money),
    /// so that readers wait for its commit to be durable (`wal_sync`).
    fn moves_money(&self) -> bool {
        false
    }
    /// SQLite: whether the unit runs on the writer's synchronous connection
    /// (`db::sqlite_sync`) with [`Unit::run_sync`] instead of [`Unit::run`].
    fn runs_sync(&self) -> bool {
        false
    }
    /// Runs the work on the synchronous connection, inside the batch's transaction; like
    /// [`Unit::run`], `true` when it succeeded.
    fn run_sync(&mut self, connection: &rusqlite::Connection, savepoint: bool) -> bool {
        let _ = (connection, savepoint);
        false
    }
}

struct Pending<T> {
    work: Box<Work<T>>,
    result: Option<Result<T, ServiceError>>,
    attempts: u32,
    reply: oneshot::Sender<Result<T, ServiceError>>,
}

impl<T: Send + 'static> Unit for Pending<T> {
    fn run<'c>(&'c mut self, txn: &'c DatabaseTransaction, savepoint: bool) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let result = if savepoint {
                in_savepoint(txn, self.work.as_ref()).await
            } else {
                (self.work)(txn).await
            };
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn retry(&mut self) -> bool {
        let transient = matches!(
            &self.result,
            Some(Err(ServiceError::Db(error))) if super::is_transient(error)
        );
        if transient && self.attempts + 1 < MAX_ATTEMPTS {
            self.attempts += 1;
            self.result = None;
            return true;
        }
        false
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }

    fn answer(self: Box<Self>, commit: Result<(), DbErr>) {
        let outcome = match self.result {
            // Another transaction held the key or the player past the lock timeout.
            Some(Err(ServiceError::Db(error))) if super::is_lock_timeout(&error) => {
                Err(ServiceError::InProgress)
            }
            Some(result) => result,
            None => Err(ServiceError::Db(DbErr::Custom(
                "write batch not run".into(),
            ))),
        };
        let result = match commit {
            Ok(()) => outcome,
            // A failed commit of work that wrote something: we cannot tell the caller it
            // did not happen.
            Err(error) => Err(ServiceError::OutcomeUnknown(error)),
        };
        let _ = self.reply.send(result);
    }
}

/// Statements built beforehand, run in order as one unit (the attempt log's inserts): on
/// SQLite on the writer's synchronous connection.
struct Statements {
    statements: Arc<Vec<Statement>>,
    result: Option<Result<(), ServiceError>>,
    reply: oneshot::Sender<Result<(), ServiceError>>,
}

impl Unit for Statements {
    fn run<'c>(&'c mut self, txn: &'c DatabaseTransaction, savepoint: bool) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let result = async {
                let savepoint = if savepoint {
                    Some(txn.begin().await?)
                } else {
                    None
                };
                for statement in self.statements.iter() {
                    match &savepoint {
                        Some(savepoint) => savepoint.execute(statement.clone()).await?,
                        None => txn.execute(statement.clone()).await?,
                    };
                }
                if let Some(savepoint) = savepoint {
                    savepoint.commit().await?;
                }
                Ok::<(), DbErr>(())
            }
            .await
            .map_err(ServiceError::Db);
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn runs_sync(&self) -> bool {
        true
    }

    fn run_sync(&mut self, connection: &rusqlite::Connection, savepoint: bool) -> bool {
        let result = sqlite_sync::in_savepoint(connection, savepoint, |connection| {
            for statement in self.statements.iter() {
                sqlite_sync::execute(connection, statement)?;
            }
            Ok(())
        });
        let ok = result.is_ok();
        self.result = Some(result.map_err(ServiceError::Db));
        ok
    }

    fn retry(&mut self) -> bool {
        false
    }

    fn answer(self: Box<Self>, commit: Result<(), DbErr>) {
        let result = match (commit, self.result) {
            (_, None) => Err(ServiceError::Db(DbErr::Custom(
                "write batch not run".into(),
            ))),
            (Ok(()), Some(result)) => result,
            (Err(error), Some(_)) => Err(ServiceError::OutcomeUnknown(error)),
        };
        let _ = self.reply.send(result);
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

pub type Job = Box<dyn Unit>;

#[derive(Clone)]
pub struct Handle {
    queue: mpsc::Sender<Job>,
}

/// Starts a PostgreSQL writer (a lane of the money path) as a task.
pub fn spawn(db: DatabaseConnection, config: WriterConfig) -> Handle {
    let (queue, jobs) = mpsc::channel(config.queue_capacity);
    tokio::spawn(run(db, jobs, config.max_batch, Engine::Postgres));
    Handle { queue }
}

/// Starts SQLite's writer on a thread of its own (see [`run_sqlite`]): `connection` is
/// its synchronous connection, for the units that run on it ([`Unit::runs_sync`]), `db`
/// the async one for the others.
pub fn spawn_sqlite(
    db: DatabaseConnection,
    config: WriterConfig,
    connection: rusqlite::Connection,
    wal: WalSync,
    restart_wal: Arc<AtomicBool>,
    space: Arc<super::space::Space>,
) -> std::io::Result<Handle> {
    let (queue, jobs) = mpsc::channel(config.queue_capacity);
    let runtime = tokio::runtime::Handle::current();
    let writer = SqliteWriter {
        connection,
        wal,
        restart_wal,
        space,
    };
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || run_sqlite(&db, jobs, config.max_batch, writer, &runtime))?;
    Ok(Handle { queue })
}

impl Handle {
    /// Units waiting for the writer to take them.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Queues a unit that answers its caller itself; never waits.
    pub fn enqueue(&self, unit: Job) -> Result<(), ServiceError> {
        self.queue.try_send(unit).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => ServiceError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => {
                ServiceError::Db(DbErr::Custom("writer stopped".into()))
            }
        })
    }

    /// Runs prebuilt statements in order in the writer's next batch.
    pub async fn submit_statements(
        &self,
        statements: Arc<Vec<Statement>>,
    ) -> Result<(), ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Box::new(Statements {
            statements,
            result: None,
            reply,
        }))?;
        answer.await.unwrap_or_else(|_| {
            Err(ServiceError::Db(DbErr::Custom(
                "write batch not started".into(),
            )))
        })
    }

    pub async fn submit<T: Send + 'static>(&self, work: Box<Work<T>>) -> Result<T, ServiceError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(Pending {
            work,
            result: None,
            attempts: 0,
            reply,
        });
        self.queue.try_send(job).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => ServiceError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => {
                ServiceError::Db(DbErr::Custom("writer stopped".into()))
            }
        })?;
        // A dropped reply means the batch never ran (BEGIN failed): nothing was committed.
        answer.await.unwrap_or_else(|_| {
            Err(ServiceError::Db(DbErr::Custom(
                "write batch not started".into(),
            )))
        })
    }
}

async fn in_savepoint<T>(txn: &DatabaseTransaction, work: &Work<T>) -> Result<T, ServiceError> {
    let savepoint = txn.begin().await?;
    match work(&savepoint).await {
        Ok(value) => {
            savepoint.commit().await?;
            Ok(value)
        }
        Err(error) => {
            savepoint.rollback().await?;
            Err(error)
        }
    }
}

/// Begins a transaction that holds SQLite's write lock from its first statement, like
/// `BEGIN IMMEDIATE`. A deferred transaction that reads first and writes later fails at
/// once with "database is locked" when another connection (a `server reconcile` beside a
/// running server) wrote in between; one that starts with a write waits for the lock
/// (busy_timeout) instead. The no-op UPDATE takes the lock without changing a row.
async fn begin_immediate(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    txn.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0")
        .await?;
    Ok(txn)
}

/// Each batch runs first without savepoints: a savepoint and its release are two more
/// statements per unit, each a hand-off to the connection's thread (a round trip on
/// PostgreSQL) in the writer's critical path, and units almost never fail (declines are
/// answers, not errors). If one does fail, the whole transaction is rolled back and the
/// batch runs again with a savepoint per unit, so that only the failed unit's writes are
/// undone. Work may run more than once by contract (see [`Work`]); units that failed
/// transiently run again in the next batch.
async fn run(
    db: DatabaseConnection,
    mut jobs: mpsc::Receiver<Job>,
    max_batch: usize,
    engine: Engine,
) {
    let mut retry: Vec<Job> = Vec::new();
    loop {
        let mut batch = std::mem::take(&mut retry);
        if batch.is_empty() {
            if jobs.recv_many(&mut batch, max_batch).await == 0 {
                break;
            }
        } else {
            tokio::time::sleep(RETRY_PAUSE).await;
            top_up(&mut batch, &mut jobs, max_batch);
        }
        merge(&mut batch);
        run_async_batch(&db, &mut batch, engine, &mut retry).await;
    }
    tracing::info!("group commit writer stopped");
}

/// SQLite's writer, on a thread of its own: the units that run on the synchronous
/// connection need no runtime, and as a task the writer waited for a worker thread
/// between batches, behind the requests' own tasks. Its commits are made durable, and
/// their units answered, by `wal_sync`'s thread while the next batch runs. The other
/// units run on the async connection, through `runtime`.
fn run_sqlite(
    db: &DatabaseConnection,
    mut jobs: mpsc::Receiver<Job>,
    max_batch: usize,
    writer: SqliteWriter,
    runtime: &tokio::runtime::Handle,
) {
    let SqliteWriter {
        connection,
        mut wal,
        restart_wal,
        space,
    } = writer;
    let connection = &connection;
    let mut retry: Vec<Job> = Vec::new();
    loop {
        // Between two batches, nobody writes: the one moment a checkpoint can restart the
        // WAL (see `db::WAL_RESTART_PAGES`).
        if restart_wal.swap(false, Ordering::Relaxed) {
            sqlite_sync::restart_wal(connection);
        }
        let mut batch = std::mem::take(&mut retry);
        if batch.is_empty() {
            let Some(job) = jobs.blocking_recv() else {
                break;
            };
            batch.push(job);
        } else {
            std::thread::sleep(RETRY_PAUSE);
        }
        top_up(&mut batch, &mut jobs, max_batch);
        merge(&mut batch);
        if let Some(pages) = space.take_max_pages_change() {
            // Both write connections: money on the synchronous one, the rest on `db`.
            sqlite_sync::cap_pages(connection, pages);
            let cap = runtime.block_on(db.execute_unprepared(&sqlite_sync::page_cap_sql(pages)));
            if let Err(error) = cap {
                tracing::warn!(%error, "setting SQLite's page cap on the async writer");
            }
        }
        let (mut sync_units, mut batch): (Vec<Job>, Vec<Job>) =
            batch.into_iter().partition(|job| job.runs_sync());
        if !batch.is_empty() {
            runtime.block_on(run_async_batch(db, &mut batch, Engine::Sqlite, &mut retry));
        }
        if sync_units.is_empty() {
            continue;
        }
        let number = wal.next_number();
        let moves_money = sync_units.iter().any(|unit| unit.moves_money());
        let commit = run_sync_batch_guarded(connection, &mut sync_units, || {
            if moves_money {
                wal.committing(number);
            }
        });
        if let Err(error) = &commit {
            tracing::error!(%error, "group commit failed");
        }
        // Answered once the commit is on disk, while the next batch runs.
        wal.hand_over(
            number,
            Box::new(move |commit| answer_all(sync_units, commit)),
            commit,
        );
    }
    tracing::info!("SQLite writer stopped");
}

/// What SQLite's writer thread owns: its connection, the fsync thread's handle, the
/// background checkpoint's request for a WAL restart, and the size cap.
struct SqliteWriter {
    connection: rusqlite::Connection,
    wal: WalSync,
    restart_wal: Arc<AtomicBool>,
    space: Arc<super::space::Space>,
}

/// Adds queued units to `batch`, up to `max_batch`, without waiting.
fn top_up(batch: &mut Vec<Job>, jobs: &mut mpsc::Receiver<Job>, max_batch: usize) {
    while batch.len() < max_batch {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Runs a batch of units on the async connection, commits, and answers them; units that
/// failed transiently go to `retry`.
async fn run_async_batch(
    db: &DatabaseConnection,
    batch: &mut Vec<Job>,
    engine: Engine,
    retry: &mut Vec<Job>,
) {
    let committed = match run_batch(db, batch, false, engine).await {
        Ok(Some(committed)) => Ok(committed),
        Ok(None) => run_batch(db, batch, true, engine)
            .await
            .map(|committed| committed.unwrap_or_else(|| Ok(()))),
        Err(error) => Err(error),
    };
    match committed {
        Ok(commit) => {
            if let Err(error) = &commit {
                tracing::error!(%error, "group commit failed");
            }
            for mut job in batch.drain(..) {
                if commit.is_ok() && job.retry() {
                    retry.push(job);
                    continue;
                }
                let commit = commit
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| DbErr::Custom(e.to_string()));
                job.answer(commit);
            }
        }
        Err(error) => {
            tracing::error!(%error, "could not begin a write batch");
            // Dropping the units drops their reply senders: nothing was committed.
            batch.clear();
        }
    }
}

/// The synchronous counterpart of [`run_batch`], on the writer's thread: every unit in one
/// `BEGIN IMMEDIATE` transaction, again with a savepoint each if one failed, then the
/// commit. Returns the commit's result (or the error that kept the batch from running).
fn run_sync_batch(
    connection: &rusqlite::Connection,
    units: &mut [Job],
    before_commit: &dyn Fn(),
) -> Result<(), DbErr> {
    let lost = || DbErr::Custom(super::space::ROLLED_BACK.into());
    for savepoints in [false, true] {
        if sqlite_sync::in_transaction(connection) {
            // Left open by a failed ROLLBACK or a panic: it must not hold the lock.
            sqlite_sync::run(connection, "ROLLBACK")?;
        }
        sqlite_sync::run(connection, "BEGIN IMMEDIATE")?;
        let mut failed = false;
        for unit in units.iter_mut() {
            let ok = unit.run_sync(connection, savepoints);
            if !sqlite_sync::in_transaction(connection) {
                return Err(lost());
            }
            if !ok && !savepoints {
                failed = true;
                break;
            }
        }
        if failed {
            if let Err(error) = sqlite_sync::run(connection, "ROLLBACK") {
                tracing::warn!(%error, "rolling back a failed write batch");
            }
            continue;
        }
        before_commit();
        let started = std::time::Instant::now();
        let commit = sqlite_sync::run(connection, "COMMIT");
        crate::telemetry::metrics::record_write_phase("commit", started.elapsed());
        if commit.is_err() && sqlite_sync::in_transaction(connection) {
            let _ = sqlite_sync::run(connection, "ROLLBACK");
        }
        return commit;
    }
    Ok(())
}

/// [`run_sync_batch`], with a panic in a unit turned into that batch's failure (rolled
/// back, every unit answered with the error) instead of the end of the writer.
fn run_sync_batch_guarded(
    connection: &rusqlite::Connection,
    units: &mut [Job],
    before_commit: impl Fn(),
) -> Result<(), DbErr> {
    let run = std::panic::AssertUnwindSafe(|| run_sync_batch(connection, units, &before_commit));
    std::panic::catch_unwind(run).unwrap_or_else(|_| {
        tracing::error!("a write batch panicked; it is rolled back");
        if sqlite_sync::in_transaction(connection) {
            let _ = sqlite_sync::run(connection, "ROLLBACK");
        }
        Err(DbErr::Custom("the write batch failed".into()))
    })
}

/// Merges the units that share a merge key into the first of them, keeping the order of
/// the rest.
fn merge(batch: &mut Vec<Job>) {
    if batch.iter().filter(|job| job.merge_key().is_some()).count() < 2 {
        return;
    }
    let mut merged: Vec<Job> = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let key = job.merge_key();
        match merged
            .iter_mut()
            .find(|kept| key.is_some() && kept.merge_key() == key)
        {
            Some(kept) => kept.absorb(job.into_any()),
            None => merged.push(job),
        }
    }
    *batch = merged;
}

/// Runs one unit in a transaction of its own and answers it: PostgreSQL's money path
/// without write lanes.
pub async fn run_alone(db: &DatabaseConnection, mut unit: Job) {
    let txn = match db.begin().await {
        Ok(txn) => txn,
        Err(error) => {
            tracing::error!(%error, "could not begin a write transaction");
            return;
        }
    };
    let commit = if unit.run(&txn, false).await {
        txn.commit().await
    } else {
        let _ = txn.rollback().await;
        Ok(())
    };
    unit.answer(commit);
}

/// Runs every unit in one transaction and commits: `Ok(Some(commit result))`, or
/// `Ok(None)` when a unit failed without savepoints and the transaction was rolled back.
/// `Err` when the transaction could not begin.
async fn run_batch(
    db: &DatabaseConnection,
    batch: &mut [Job],
    savepoints: bool,
    engine: Engine,
) -> Result<Option<Result<(), DbErr>>, DbErr> {
    let txn = match engine {
        Engine::Sqlite => begin_immediate(db).await?,
        Engine::Postgres => db.begin().await?,
    };
    for job in batch.iter_mut() {
        if !job.run(&txn, savepoints).await && !savepoints {
            if let Err(error) = txn.rollback().await {
                tracing::warn!(%error, "rolling back a failed write batch");
            }
            return Ok(None);
        }
    }
    let started = std::time::Instant::now();
    let commit = txn.commit().await;
    crate::telemetry::metrics::record_write_phase("commit", started.elapsed());
    Ok(Some(commit))
}

/// Answers every unit of a commit with its outcome.
fn answer_all(units: Vec<Job>, commit: &Result<(), DbErr>) {
    for unit in units {
        let commit = commit
            .as_ref()
            .map(|_| ())
            .map_err(|error| DbErr::Custom(error.to_string()));
        unit.answer(commit);
    }
}
