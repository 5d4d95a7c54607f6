//! SQLite reads made on the calling thread, for the one read on the path of every replay.
//!
//! A read through sqlx's pool is a hand-off to a connection's own thread and back: two
//! thread switches per read, which on this kind of machine cost more than the read
//! itself (an indexed lookup of a few microseconds). The replay profile in
//! docs/PERFORMANCE.md showed a quarter of the wallet's time in the kernel's task
//! switching. So each thread that asks keeps its own read-only connection to the file,
//! with its prepared statements cached, and reads in place.
//!
//! Reading in place does not stall the async runtime: in WAL mode a reader never waits
//! for the writer or for a checkpoint; it reads the last committed snapshot.
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Databases a thread keeps a connection to at most (a test process starts many
/// servers); past this the oldest is closed.
const MAX_PER_THREAD: usize = 4;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CONNECTIONS: RefCell<Vec<(u64, Connection)>> = const { RefCell::new(Vec::new()) };
}

/// Inline reads of one SQLite file.
#[derive(Clone)]
pub struct InlineReads {
    id: u64,
    path: Arc<PathBuf>,
}

impl InlineReads {
    /// Reads of the file at `path`; `None` for an in-memory database, which only the
    /// pool's own connections can see.
    pub fn for_file(path: &Path) -> Option<InlineReads> {
        let name = path.to_string_lossy();
        if name.is_empty() || name == ":memory:" || name.starts_with("file::memory:") {
            return None;
        }
        Some(InlineReads {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// Runs `read` on this thread's connection to the file, opening it on first use.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        CONNECTIONS.with(|connections| {
            let mut connections = connections.borrow_mut();
            let index = match connections.iter().position(|(id, _)| *id == self.id) {
                Some(index) => index,
                None => {
                    if connections.len() >= MAX_PER_THREAD {
                        connections.remove(0);
                    }
                    connections.push((self.id, self.open()?));
                    connections.len() - 1
                }
            };
            read(&connections[index].1)
        })
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            self.path.as_path(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Only while the file is being recovered after a crash does a reader wait; it
        // waits briefly on the runtime's thread, then the caller reads through the pool.
        connection.busy_timeout(Duration::from_millis(50))?;
        Ok(connection)
    }
}
