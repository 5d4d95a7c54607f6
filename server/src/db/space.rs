//! Room to grow. When the database cannot grow (the disk is full, or SQLite reached the
//! size cap `WALLET_SQLITE_MAX_SIZE_MB`), writes fail, nothing of them is committed, and
//! the money path answers `503 TEMPORARY_UNAVAILABLE`; replays and lookups only read and
//! keep answering. This remembers the last such refusal so `/readyz` and the console can
//! say why, and forgets it once writes have gone [`FULL_FOR`] without one: nothing needs
//! resetting when space returns (docs/OPERATIONS.md, "A full disk").
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::DbErr;

use crate::error::ServiceError;

/// The error of a SQLite batch whose transaction SQLite rolled back on its own (after
/// `SQLITE_FULL`, say): nothing of it was committed.
pub const ROLLED_BACK: &str = "sqlite: the write transaction was rolled back";

/// How long after the last refused write the database still counts as full.
pub const FULL_FOR: Duration = Duration::from_secs(5);
/// SQLite's page size, which the size cap is counted in.
const PAGE_BYTES: u64 = 4096;

#[derive(Default)]
pub struct Space {
    /// SQLite: the page cap the writer should apply (0: none), and whether it changed.
    max_pages: AtomicU32,
    max_pages_changed: AtomicBool,
    refused: Mutex<Option<Refused>>,
}

struct Refused {
    since: DateTime<Utc>,
    last: Instant,
    error: String,
}

/// What `/readyz` and the console show while writes are refused for lack of space.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Full {
    pub since: DateTime<Utc>,
    pub error: String,
}

impl Space {
    pub fn with_max_size_mb(max_size_mb: u32) -> Space {
        let space = Space::default();
        if max_size_mb > 0 {
            let pages = u64::from(max_size_mb) * 1024 * 1024 / PAGE_BYTES;
            space.set_sqlite_max_pages(u32::try_from(pages).unwrap_or(u32::MAX));
        }
        space
    }

    /// Records a write's outcome: a refusal for lack of space marks the database full.
    pub fn note<T>(&self, result: &Result<T, ServiceError>) {
        let error = match result {
            Err(ServiceError::Db(error) | ServiceError::OutcomeUnknown(error)) => error,
            _ => return,
        };
        if !is_disk_full(error) {
            return;
        }
        let mut refused = self.refused.lock().expect("space lock");
        match refused.as_mut() {
            Some(refused) if refused.last.elapsed() < FULL_FOR => refused.last = Instant::now(),
            _ => {
                tracing::error!(%error, "the database cannot grow: money operations answer 503 until it can");
                *refused = Some(Refused {
                    since: Utc::now(),
                    last: Instant::now(),
                    error: error.to_string(),
                });
            }
        }
    }

    /// `Some` while a write was refused for lack of space in the last [`FULL_FOR`].
    pub fn full(&self) -> Option<Full> {
        let mut refused = self.refused.lock().expect("space lock");
        match refused.as_ref() {
            Some(r) if r.last.elapsed() < FULL_FOR => Some(Full {
                since: r.since,
                error: r.error.clone(),
            }),
            Some(_) => {
                tracing::info!("the database takes writes again");
                *refused = None;
                None
            }
            None => None,
        }
    }

    /// SQLite: caps the database at `pages` pages (0: no cap), from the writer's next
    /// batch. A cap below the file's size holds it at its size.
    pub fn set_sqlite_max_pages(&self, pages: u32) {
        self.max_pages.store(pages, Ordering::Relaxed);
        self.max_pages_changed.store(true, Ordering::Release);
    }

    /// For the writer, between batches: the cap to apply, if it changed.
    pub(crate) fn take_max_pages_change(&self) -> Option<u32> {
        self.max_pages_changed
            .swap(false, Ordering::Acquire)
            .then(|| self.max_pages.load(Ordering::Relaxed))
    }
}

/// The database could not grow: SQLite's `SQLITE_FULL` (disk full or the page cap), or
/// PostgreSQL's `53100 disk_full` (also "could not extend file": no space left on the
/// device). Matched on the text too, since the money path passes errors on as text.
pub fn is_disk_full(error: &DbErr) -> bool {
    if super::sqlstate(error).as_deref() == Some("53100") {
        return true;
    }
    let text = error.to_string();
    text.contains("database or disk is full")
        || text.contains("No space left on device")
        || text.contains("could not extend file")
}

/// A SQLite batch that failed without committing anything: the file could not grow
/// (`SQLITE_FULL` fails the statement or the commit's WAL write, and either way no commit
/// record is written), or SQLite rolled the whole transaction back on its own. Its callers
/// are answered "not done, retry", never "outcome unknown". Only SQLite's writer's errors
/// (`sqlite: …`, however often wrapped) qualify: PostgreSQL may have written its commit
/// record before an error, so its commit errors stay "outcome unknown".
pub fn never_committed(error: &DbErr) -> bool {
    let text = error.to_string();
    text.contains("sqlite: database or disk is full") || text.contains(ROLLED_BACK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_marks_the_database_full_until_writes_go_quiet() {
        let space = Space::default();
        assert!(space.full().is_none());
        space.note::<()>(&Err(ServiceError::Db(DbErr::Custom(
            "sqlite: unique constraint".into(),
        ))));
        assert!(space.full().is_none(), "other errors are not a full disk");
        space.note::<()>(&Err(ServiceError::Db(DbErr::Custom(
            "sqlite: database or disk is full".into(),
        ))));
        let full = space.full().expect("full");
        assert!(full.error.contains("disk is full"));
        // As the money path passes them on: wrapped, and printed by sea-orm.
        let wrapped = |text: &str| DbErr::Custom(DbErr::Custom(text.into()).to_string());
        assert!(never_committed(&wrapped(
            "sqlite: database or disk is full"
        )));
        assert!(never_committed(&wrapped(ROLLED_BACK)));
        assert!(!never_committed(&wrapped("sqlite: disk I/O error")));
        assert!(
            !never_committed(&wrapped(
                "could not extend file \"base/1/2\": No space left on device"
            )),
            "PostgreSQL's commit errors stay outcome unknown"
        );
    }

    #[test]
    fn the_size_cap_is_counted_in_pages() {
        let space = Space::with_max_size_mb(8);
        assert_eq!(space.take_max_pages_change(), Some(2048));
        assert_eq!(space.take_max_pages_change(), None);
        assert_eq!(Space::default().take_max_pages_change(), None);
    }
}
