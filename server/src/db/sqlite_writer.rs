//! SQLite group commit: one task owns the only write connection, takes every queued unit
//! of work, runs each in its own savepoint inside one transaction, commits once (one
//! fsync for the batch) and only then answers every caller.
use futures::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::Work;
use crate::error::ServiceError;

#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Units of work waiting for the writer; past this the wallet sheds load with a 503.
    pub queue_capacity: usize,
    /// Units of work committed together at most.
    pub max_batch: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_capacity: 4096,
            max_batch: 256,
        }
    }
}

/// Called once the batch's commit finished, with its result.
type Completion = Box<dyn FnOnce(Result<(), DbErr>) + Send>;
/// A unit of work bound to its caller: runs in the batch, returns how to answer.
type Job = Box<dyn for<'c> FnOnce(&'c DatabaseTransaction) -> BoxFuture<'c, Completion> + Send>;

#[derive(Clone)]
pub struct Handle {
    queue: mpsc::Sender<Job>,
}

pub fn spawn(db: DatabaseConnection, config: WriterConfig) -> Handle {
    let (queue, jobs) = mpsc::channel(config.queue_capacity);
    tokio::spawn(run(db, jobs, config.max_batch));
    Handle { queue }
}

impl Handle {
    pub async fn submit<T: Send + 'static>(&self, work: Box<Work<T>>) -> Result<T, ServiceError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            Box::pin(async move {
                let outcome = in_savepoint(txn, work.as_ref()).await;
                Box::new(move |commit: Result<(), DbErr>| {
                    let result = match commit {
                        Ok(()) => outcome,
                        // A failed commit of work that wrote something: we cannot tell the
                        // caller it did not happen.
                        Err(error) => Err(ServiceError::OutcomeUnknown(error)),
                    };
                    let _ = reply.send(result);
                }) as Completion
            })
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

async fn run(db: DatabaseConnection, mut jobs: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while jobs.recv_many(&mut batch, max_batch).await > 0 {
        let completions = match begin_immediate(&db).await {
            Ok(txn) => {
                let mut completions = Vec::with_capacity(batch.len());
                for job in batch.drain(..) {
                    completions.push(job(&txn).await);
                }
                let committed = txn.commit().await;
                if let Err(error) = &committed {
                    tracing::error!(%error, "group commit failed");
                }
                completions
                    .into_iter()
                    .map(|completion| {
                        let result = committed
                            .as_ref()
                            .map(|_| ())
                            .map_err(|e| DbErr::Custom(e.to_string()));
                        (completion, result)
                    })
                    .collect::<Vec<_>>()
            }
            Err(error) => {
                tracing::error!(%error, "could not begin a write batch");
                batch.clear();
                Vec::new()
            }
        };
        for (completion, committed) in completions {
            completion(committed);
        }
    }
    tracing::info!("sqlite writer stopped");
}
