//! The attempt log is written by one background task in batches, so that logging a
//! replay costs the request a channel send, not a database write. The channel is bounded:
//! when the database cannot keep up, records are dropped and counted rather than queued
//! without limit. A crash loses at most the records still in the channel; money data is
//! never in it.
//!
//! Each batch also adds to the attempt counters, in the same transaction as its insert: the
//! counters equal the log, a lost batch is lost from both.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use tokio::sync::mpsc;

use crate::db::entities::attempt;
use crate::db::Store;
use crate::error::ServiceError;
use crate::telemetry::metrics;

/// Records waiting to be written at most.
const CHANNEL_CAPACITY: usize = 16_384;
/// Records written per insert at most.
const BATCH_SIZE: usize = 512;
/// The least time between two batches that are not full. Each batch is a commit (an
/// fsync) unless it rides along with a money batch; waiting a little makes the log's
/// batches fewer and larger, and its records are never on a caller's path.
const MIN_INTERVAL: Duration = Duration::from_millis(20);
/// How often a batch refused for lack of space is tried again.
const FULL_RETRY: Duration = Duration::from_millis(500);
/// How often the metrics recorder folds its histogram samples.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct AttemptLog {
    sender: mpsc::Sender<attempt::ActiveModel>,
    dropped: Arc<AtomicU64>,
}

impl AttemptLog {
    pub fn spawn(store: Store) -> AttemptLog {
        // Before the first request, so that no sample goes to the no-op recorder.
        metrics::handle();
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(store, receiver, Arc::clone(&dropped)));
        AttemptLog { sender, dropped }
    }

    /// Queues a record; never waits.
    pub fn record(&self, record: attempt::ActiveModel) {
        if let Err(error) = self.sender.try_send(record) {
            // A replay's money is counted with its batch (`run`), which a record dropped
            // here never reaches; and duplicate storms are when the queue overflows.
            let lost = [error.into_inner()];
            metrics::record_replayed(&super::counters::Tally::of(&lost).replayed_amounts());
            metrics::record_log_dropped(1);
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "attempt log queue full: records dropped");
            }
        }
    }

    /// Records lost so far because the queue was full or a batch failed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn run(
    store: Store,
    mut receiver: mpsc::Receiver<attempt::ActiveModel>,
    dropped: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    let mut last_upkeep = Instant::now();
    while receiver.recv_many(&mut batch, BATCH_SIZE).await > 0 {
        let started = tokio::time::Instant::now();
        let count = batch.len() as u64;
        let backend = store.reader().get_database_backend();
        let log_batch = super::log_statements(std::mem::take(&mut batch), backend);
        // Counted whether or not the batch is written: the replays were answered.
        metrics::record_replayed(&log_batch.replayed);
        let statements = Arc::new(log_batch.statements);
        let mut written = store.write_statements(Arc::clone(&statements)).await;
        // A full database keeps the batch and tries again while the queue holds the next
        // records (past its capacity they are dropped and counted, as under overload).
        while let Err(ServiceError::Db(error)) = &written {
            if !crate::db::space::is_disk_full(error) {
                break;
            }
            store.space().note(&written);
            tokio::time::sleep(FULL_RETRY).await;
            written = store.write_statements(Arc::clone(&statements)).await;
        }
        match written {
            Ok(()) => metrics::record_log_batch(count, receiver.len()),
            Err(error) => {
                dropped.fetch_add(count, Ordering::Relaxed);
                metrics::record_log_dropped(count);
                tracing::warn!(%error, count, "attempt log batch lost");
            }
        }
        if last_upkeep.elapsed() >= METRICS_UPKEEP_EVERY {
            metrics::run_upkeep();
            last_upkeep = Instant::now();
        }
        if count < BATCH_SIZE as u64 {
            tokio::time::sleep_until(started + MIN_INTERVAL).await;
        }
    }
}
