//! SQLite: the writer's commits reach the disk on a thread of their own.
//!
//! With `synchronous = FULL` every commit waited for its fsync (3 ms of a 7 ms batch on
//! the project's machine) while the next batch's operations queued behind it: nothing
//! else can use SQLite's one write connection meanwhile. The writer's connection now
//! commits with `synchronous = NORMAL`, which in WAL mode writes the batch's frames to
//! the WAL file without an fsync, and hands the batch to this module's thread. The
//! thread makes the WAL file durable (one `fdatasync` covers every frame written before
//! it, so one serves every batch committed meanwhile) and only then answers the batch's
//! callers, while the writer already runs the next batch. What is acknowledged is
//! durable, as before: the answer waits for the fsync that covers its commit
//! (docs/PERFORMANCE.md, "The fsync off the writer").
//!
//! A committed batch is visible to readers before its fsync. So that no answer is built
//! on something a power cut could still undo, reads whose answer a caller may rely on
//! (replays, balances, lookups) wait after their read until every money batch committed
//! before it is durable ([`Durable::settled`]); that wait is at most two fsyncs (the one
//! running and the next), and none when no money batch is in flight.
//!
//! A failed fsync leaves the WAL's state on disk unknown (Linux may have dropped the
//! unwritten pages), so, as PostgreSQL does, the process stops and SQLite's recovery on
//! the next start decides; no caller of the batches it covered was answered.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use sea_orm::DbErr;
use tokio::sync::Notify;

/// The writer's view: numbers commits and hands them to the fsync thread.
pub struct WalSync {
    durable: Durable,
    next: u64,
    sender: mpsc::Sender<Committed>,
}

/// Readers' view: how far the committed money batches are on disk.
#[derive(Clone)]
pub struct Durable(Arc<Marks>);

struct Marks {
    /// The number of the last commit of a money batch, set before its `COMMIT`.
    money_committed: AtomicU64,
    /// Every commit up to this number is on disk.
    durable: AtomicU64,
    advanced: Notify,
}

/// What the writer does once a commit is on disk, or known lost: answer its units.
pub type OnDurable = Box<dyn FnOnce(&Result<(), DbErr>) + Send>;

/// A commit waiting for its fsync, with what to do once it is durable.
struct Committed {
    number: u64,
    on_durable: OnDurable,
    commit: Result<(), DbErr>,
}

impl WalSync {
    /// Starts the fsync thread for the WAL of the database at `database`. The WAL is
    /// opened here, while the writer's connection keeps it (SQLite removes it only when
    /// the last connection closes), so the thread syncs that very file even if the
    /// database's files are removed while the process runs.
    pub fn start(database: &Path) -> std::io::Result<WalSync> {
        let mut path = database.as_os_str().to_owned();
        path.push("-wal");
        let wal = File::open(&path)?;
        let durable = Durable(Arc::new(Marks {
            money_committed: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            advanced: Notify::new(),
        }));
        let (sender, receiver) = mpsc::channel();
        let marks = Arc::clone(&durable.0);
        let path = PathBuf::from(path);
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| run(&wal, &path, &receiver, &marks));
                if std::panic::catch_unwind(run).is_err() {
                    // Without this thread nothing becomes durable and every read that
                    // waits for it would wait for ever: stop, as for a failed fsync.
                    eprintln!("the WAL's fsync thread panicked: stopping");
                    std::process::abort();
                }
            })?;
        Ok(WalSync {
            durable,
            next: 0,
            sender,
        })
    }

    pub fn durable(&self) -> Durable {
        self.durable.clone()
    }

    /// The number of the writer's next commit. For a batch of money operations, call
    /// [`WalSync::committing`] with it just before its `COMMIT`.
    pub fn next_number(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Marks commit `number` as one that readers must see durable before they answer.
    pub fn committing(&self, number: u64) {
        self.durable
            .0
            .money_committed
            .fetch_max(number, Ordering::SeqCst);
    }

    /// Hands a finished commit (or a failed one: its number must still be passed) to the
    /// fsync thread, which calls `on_durable` once it is durable.
    pub fn hand_over(&self, number: u64, on_durable: OnDurable, commit: Result<(), DbErr>) {
        let committed = Committed {
            number,
            on_durable,
            commit,
        };
        if let Err(mpsc::SendError(committed)) = self.sender.send(committed) {
            // The thread is gone only if it could not sync or panicked, and then it stops
            // the process.
            let stopped = Err(DbErr::Custom("the WAL's fsync thread stopped".into()));
            (committed.on_durable)(&stopped);
        }
    }
}

impl Durable {
    /// Waits until every money batch committed before this call is on disk. Call it
    /// after a read and before answering from it.
    pub async fn settled(&self) {
        let needed = self.0.money_committed.load(Ordering::SeqCst);
        loop {
            let advanced = self.0.advanced.notified();
            tokio::pin!(advanced);
            advanced.as_mut().enable();
            if self.0.durable.load(Ordering::SeqCst) >= needed {
                return;
            }
            advanced.await;
        }
    }
}

fn run(wal: &File, path: &Path, receiver: &mpsc::Receiver<Committed>, marks: &Marks) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        batch.extend(receiver.try_iter());
        crate::failpoint::hit("before_wal_sync");
        let started = Instant::now();
        if let Err(error) = wal.sync_data() {
            tracing::error!(%error, path = %path.display(), "fsync of the WAL failed: stopping");
            eprintln!("fsync of {} failed ({error}): stopping", path.display());
            std::process::abort();
        }
        crate::telemetry::metrics::record_write_phase("sync", started.elapsed());
        let last = batch.iter().map(|committed| committed.number).max();
        marks
            .durable
            .fetch_max(last.unwrap_or_default(), Ordering::SeqCst);
        marks.advanced.notify_waiters();
        for committed in batch {
            (committed.on_durable)(&committed.commit);
        }
    }
}
