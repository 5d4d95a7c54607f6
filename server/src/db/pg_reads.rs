//! PostgreSQL reads on the path of every wallet request (the signing key, the replay
//! read), on a few connections of their own instead of the shared pool.
//!
//! A query through sqlx's pool costs three round trips: the pool pings a connection
//! before lending it and again when it comes back, around the query itself. For a read of
//! a few microseconds the pings are most of the database's work; the replay profile in
//! docs/PERFORMANCE.md showed PostgreSQL's backends mostly waking up for them. Here each
//! connection is held by one request at a time and the read is its only round trip.
//!
//! Each statement is prepared and planned once per connection (a generic plan), since
//! planning the replay read for every call was most of PostgreSQL's work on a replay. A
//! generic plan is made without the tables' contents in view, and one made while a new
//! database's tables were nearly empty was a sequential scan that stayed as they grew
//! (0.5 ms a call instead of 0.05 ms; docs/PERFORMANCE.md). These sessions therefore
//! leave the planner only index scans joined by nested loops, which is the right plan
//! for these lookups by key whatever the tables hold.
//!
//! The replay read, the hottest of them, is batched (`fetch_each`): the reads that arrive
//! while a batch runs go together as one statement over arrays, one round trip and one
//! execution for all of them, since per statement PostgreSQL's protocol, executor start
//! and the wake-up of its backend cost more than the read itself (docs/PERFORMANCE.md).
//!
//! A connection that fails is dropped and the read is tried once more on a new one, so a
//! database restart costs the next read a reconnect, not an error.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::DbErr;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot, Mutex};

/// Connections held at most. The reads are short; more in flight would only queue on the
/// database's cores.
const CONNECTIONS: usize = 24;
/// How long opening a connection may take before the read fails (retryable).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The session settings that make one generic plan per statement safe (see above); the
/// money path's write lanes use them too.
pub(super) const GENERIC_INDEX_PLANS: [(&str, &str); 4] = [
    ("plan_cache_mode", "force_generic_plan"),
    ("enable_seqscan", "off"),
    ("enable_hashjoin", "off"),
    ("enable_mergejoin", "off"),
];

/// Tasks running batched reads, each on a connection of its own: while one waits for
/// its batch's answer, the next takes the reads that arrived meanwhile.
const BATCH_WORKERS: usize = 4;
/// Reads in one batch at most.
const MAX_BATCH: usize = 256;

pub struct PgReads {
    options: PgConnectOptions,
    slots: Vec<Mutex<Option<PgConnection>>>,
    next: AtomicUsize,
    batched: mpsc::Sender<Queued>,
}

/// A read waiting for the next batch of its statement.
struct Queued {
    sql: &'static str,
    parameters: Vec<String>,
    reply: oneshot::Sender<Result<PgRow, DbErr>>,
}

/// One read, given a connection; it may run twice (once more after a broken connection).
pub type Read<'a, T> = dyn for<'c> Fn(&'c mut PgConnection) -> BoxFuture<'c, Result<T, sqlx::Error>>
    + Send
    + Sync
    + 'a;

impl PgReads {
    /// Must be called within the runtime: it starts the batch workers, which stop when
    /// the last clone of the store is gone.
    pub fn new(options: &PgConnectOptions) -> PgReads {
        let options = options.clone().options(GENERIC_INDEX_PLANS);
        let (batched, queue) = mpsc::channel(MAX_BATCH * BATCH_WORKERS * 4);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..BATCH_WORKERS {
            tokio::spawn(run_batches(options.clone(), Arc::clone(&queue)));
        }
        PgReads {
            options,
            slots: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            batched,
        }
    }

    /// One row of `sql` for `parameters`, read in a batch with the other reads of `sql`
    /// that arrive meanwhile. `sql` takes one `text[]` per parameter, holding that
    /// parameter of every read of the batch in order, and answers one row per read with
    /// its position (from 1) in a column `i`, as `unnest(…) WITH ORDINALITY` gives it.
    pub async fn fetch_each(
        &self,
        sql: &'static str,
        parameters: Vec<String>,
    ) -> Result<PgRow, DbErr> {
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            sql,
            parameters,
            reply,
        };
        let gone = || DbErr::Custom("the batched reads have stopped".into());
        self.batched.send(queued).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Runs `read` on a free connection (or waits for one), opening it if needed.
    pub async fn read<T>(&self, read: &Read<'_, T>) -> Result<T, sqlx::Error> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..CONNECTIONS)
            .find_map(|offset| self.slots[(start + offset) % CONNECTIONS].try_lock().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => self.slots[start % CONNECTIONS].lock().await,
        };
        on_connection(&self.options, &mut slot, read).await
    }

    /// One row of `sql` with its text parameters bound in order, or none.
    pub async fn fetch_optional(
        &self,
        sql: &'static str,
        parameters: &[&str],
    ) -> Result<Option<PgRow>, DbErr> {
        self.read(&|connection| {
            // Owned, so that the read's future borrows only its connection.
            let parameters: Vec<String> = parameters.iter().map(|p| (*p).to_owned()).collect();
            Box::pin(async move {
                let mut query = sqlx::query(sql);
                for parameter in parameters {
                    query = query.bind(parameter);
                }
                query.fetch_optional(connection).await
            })
        })
        .await
        .map_err(query_error)
    }
}

/// One batch worker: takes every read queued when it is free, runs each statement's
/// reads as one, and answers them.
async fn run_batches(options: PgConnectOptions, queue: Arc<Mutex<mpsc::Receiver<Queued>>>) {
    let mut connection: Option<PgConnection> = None;
    let mut queued = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = queue.lock().await.recv_many(&mut queued, MAX_BATCH).await;
        if received == 0 {
            return;
        }
        while let Some(first) = queued.first() {
            let sql = first.sql;
            let (batch, rest): (Vec<Queued>, Vec<Queued>) = std::mem::take(&mut queued)
                .into_iter()
                .partition(|read| std::ptr::eq(read.sql, sql));
            queued = rest;
            run_batch(&options, &mut connection, sql, batch).await;
        }
    }
}

async fn run_batch(
    options: &PgConnectOptions,
    connection: &mut Option<PgConnection>,
    sql: &'static str,
    batch: Vec<Queued>,
) {
    let width = batch[0].parameters.len();
    let mut arrays: Vec<Vec<String>> = (0..width)
        .map(|_| Vec::with_capacity(batch.len()))
        .collect();
    let mut replies = Vec::with_capacity(batch.len());
    for read in batch {
        for (array, parameter) in arrays.iter_mut().zip(read.parameters) {
            array.push(parameter);
        }
        replies.push(Some(read.reply));
    }
    match fetch_batch(options, connection, sql, arrays).await {
        Ok(rows) => {
            for row in rows {
                let position = row
                    .try_get::<i64, _>("i")
                    .ok()
                    .and_then(|i| usize::try_from(i - 1).ok());
                if let Some(reply) = position.and_then(|p| replies.get_mut(p)?.take()) {
                    let _ = reply.send(Ok(row));
                }
            }
            for reply in replies.into_iter().flatten() {
                let _ = reply.send(Err(DbErr::Custom(
                    "the batched read answered no row for this read".into(),
                )));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for reply in replies.into_iter().flatten() {
                let error = DbErr::Conn(sea_orm::RuntimeErr::Internal(message.clone()));
                let _ = reply.send(Err(error));
            }
        }
    }
}

/// The batch's rows, read as [`on_connection`] reads.
async fn fetch_batch(
    options: &PgConnectOptions,
    connection: &mut Option<PgConnection>,
    sql: &'static str,
    arrays: Vec<Vec<String>>,
) -> Result<Vec<PgRow>, sqlx::Error> {
    // Shared, so that a second try binds the same arrays without copying them.
    let arrays = Arc::new(arrays);
    on_connection(options, connection, &|connection| {
        let arrays = Arc::clone(&arrays);
        Box::pin(async move {
            let query = arrays.iter().fold(sqlx::query(sql), |query, array| {
                query.bind(array.as_slice())
            });
            query.fetch_all(connection).await
        })
    })
    .await
}

/// Runs `read` on `connection`, opening it if needed. A connection that fails is dropped;
/// one that had served earlier reads and is found broken (the database restarted or
/// dropped the session) is replaced and `read` tried once more.
async fn on_connection<T>(
    options: &PgConnectOptions,
    connection: &mut Option<PgConnection>,
    read: &Read<'_, T>,
) -> Result<T, sqlx::Error> {
    let reused = connection.is_some();
    let open = match connection {
        Some(open) => open,
        None => connection.insert(connect(options).await?),
    };
    let result = match read(open).await {
        Err(error) if reused && is_broken(&error) => {
            let open = connection.insert(connect(options).await?);
            read(open).await
        }
        result => result,
    };
    if result.as_ref().is_err_and(is_broken) {
        *connection = None;
    }
    result
}

async fn connect(options: &PgConnectOptions) -> Result<PgConnection, sqlx::Error> {
    tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options))
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

/// A driver error as the rest of the code sees database errors.
pub fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(sea_orm::RuntimeErr::SqlxError(error))
}

/// Errors after which the connection cannot be used again.
fn is_broken(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_)
    ) || matches!(error, sqlx::Error::Database(e) if e.code().is_some_and(|code| code.starts_with("57P")))
}
