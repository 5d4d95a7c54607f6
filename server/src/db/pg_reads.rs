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
//! A connection that fails is dropped and the read is tried once more on a new one, so a
//! database restart costs the next read a reconnect, not an error.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::DbErr;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::Connection;
use tokio::sync::Mutex;

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

pub struct PgReads {
    options: PgConnectOptions,
    slots: Vec<Mutex<Option<PgConnection>>>,
    next: AtomicUsize,
}

/// One read, given a connection; it may run twice (once more after a broken connection).
pub type Read<'a, T> = dyn for<'c> Fn(&'c mut PgConnection) -> BoxFuture<'c, Result<T, sqlx::Error>>
    + Send
    + Sync
    + 'a;

impl PgReads {
    pub fn new(options: &PgConnectOptions) -> PgReads {
        PgReads {
            options: options.clone().options(GENERIC_INDEX_PLANS),
            slots: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
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
        let reused = slot.is_some();
        let connection = match slot.as_mut() {
            Some(connection) => connection,
            None => slot.insert(self.connect().await?),
        };
        match read(connection).await {
            Err(error) if reused && is_broken(&error) => {
                // The database restarted or dropped the session since its last read.
                *slot = None;
                let connection = slot.insert(self.connect().await?);
                read(connection).await
            }
            Err(error) => {
                if is_broken(&error) {
                    *slot = None;
                }
                Err(error)
            }
            ok => ok,
        }
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

    async fn connect(&self) -> Result<PgConnection, sqlx::Error> {
        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&self.options))
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    }
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
