//! The SQLite writer's synchronous connection: the money batches and the attempt log's
//! inserts run their statements on it, on the writer's own thread, one batch at a time.
//!
//! Through sqlx every statement is a hand-off to the connection's own thread and back;
//! a money batch makes a dozen or more, and the attempt log more, each paying two thread
//! switches in the one writer's critical path (docs/PERFORMANCE.md, "The synchronous
//! writer"). Here a whole batch (begin, reads, writes, commit) runs on one thread.
//!
//! Statements are the same `sea_orm::Statement`s the PostgreSQL path runs (built by the
//! query builders or `money::load::Sql`), bound here as sqlx would bind them on SQLite,
//! so that both connections read and write the same text for the same value.
use std::path::Path;
use std::time::Duration;

use chrono::SecondsFormat;
use rusqlite::types::{ToSqlOutput, Value as Lite};
use rusqlite::Connection;
use sea_orm::{DbErr, Statement, Value};

/// Opens the writer's connection: WAL, foreign keys, checkpoints left to the background
/// connection below `autocheckpoint` pages, and `synchronous = NORMAL`: its commits do
/// not wait for the disk; `wal_sync` makes each durable before anyone is answered.
pub fn open_writer(path: &Path, autocheckpoint: u32) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = {autocheckpoint}; \
         PRAGMA journal_size_limit = {};",
        super::WAL_SIZE_LIMIT_BYTES
    ))?;
    // The writes' one-row statements are a dozen texts, the attempt log's a few more; the
    // reads take one text per power of two of the batch's size (`money::load::padded`),
    // five reads of about eight sizes. A prepared read for a large batch holds tens of
    // kilobytes, so the cache is not made larger (256 measured 10 MB more peak RSS).
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

/// Caps the database at `pages` pages (0: SQLite's own limit): past it, a write that needs
/// a new page fails with `SQLITE_FULL` and nothing of its transaction is committed
/// (`db::space`).
pub fn cap_pages(connection: &Connection, pages: u32) {
    match connection.query_row(&page_cap_sql(pages), [], |row| row.get::<_, i64>(0)) {
        Ok(cap) => tracing::info!(cap, "SQLite page cap"),
        Err(error) => tracing::warn!(%error, "setting SQLite's page cap"),
    }
}

/// The statement that caps the database at `pages` pages (0: SQLite's own limit).
pub fn page_cap_sql(pages: u32) -> String {
    let pages = if pages == 0 { u32::MAX - 1 } else { pages };
    format!("PRAGMA max_page_count = {pages}")
}

/// Copies what is left of the WAL into the database file and starts the WAL again from
/// its beginning, on the writer's connection between two batches (see
/// `db::WAL_RESTART_PAGES`). Waits a few milliseconds at most for readers still on the
/// WAL: a long read (a report, reconciliation) must not hold the money path; the next
/// request for a restart tries again.
pub fn restart_wal(connection: &Connection) -> bool {
    let restarted = connection.busy_timeout(RESTART_WAIT).and_then(|()| {
        connection.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
            row.get::<_, i64>(0)
        })
    });
    if let Err(error) = connection.busy_timeout(BUSY_TIMEOUT) {
        tracing::warn!(%error, "writer's busy timeout not restored");
    }
    match restarted {
        Ok(0) => true,
        Ok(_) => {
            tracing::debug!("WAL restart deferred: readers still on it");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "WAL restart");
            false
        }
    }
}

/// How long the writer waits for the write lock (held by a checkpoint now and then).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a WAL restart waits for readers still reading from the WAL.
const RESTART_WAIT: Duration = Duration::from_millis(5);

/// Runs `statement` and returns the number of rows it changed.
pub fn execute(connection: &Connection, statement: &Statement) -> Result<u64, DbErr> {
    let mut prepared = connection
        .prepare_cached(&statement.sql)
        .map_err(db_error)?;
    bind(&mut prepared, statement)?;
    Ok(prepared.raw_execute().map_err(db_error)? as u64)
}

/// Runs `statement` and maps each row.
pub fn query<T>(
    connection: &Connection,
    statement: &Statement,
    mut map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, DbErr> {
    let mut prepared = connection
        .prepare_cached(&statement.sql)
        .map_err(db_error)?;
    bind(&mut prepared, statement)?;
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(map(row).map_err(db_error)?);
    }
    Ok(out)
}

/// Runs SQL without values (`BEGIN`, `SAVEPOINT`, …).
pub fn run(connection: &Connection, sql: &str) -> Result<(), DbErr> {
    connection.execute_batch(sql).map_err(db_error)
}

pub fn db_error(error: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("sqlite: {error}"))
}

fn bind(prepared: &mut rusqlite::CachedStatement<'_>, statement: &Statement) -> Result<(), DbErr> {
    let Some(values) = &statement.values else {
        return Ok(());
    };
    for (index, value) in values.0.iter().enumerate() {
        prepared
            .raw_bind_parameter(index + 1, to_sql(value)?)
            .map_err(db_error)?;
    }
    Ok(())
}

/// A value as sqlx binds it on SQLite: booleans as integers, times as RFC 3339 text.
fn to_sql(value: &Value) -> Result<ToSqlOutput<'_>, DbErr> {
    use rusqlite::types::ValueRef;
    let owned = |value: Lite| Ok(ToSqlOutput::Owned(value));
    match value {
        Value::Bool(v) => owned(v.map_or(Lite::Null, |v| Lite::Integer(i64::from(v)))),
        Value::TinyInt(v) => owned(v.map_or(Lite::Null, |v| Lite::Integer(v.into()))),
        Value::SmallInt(v) => owned(v.map_or(Lite::Null, |v| Lite::Integer(v.into()))),
        Value::Int(v) => owned(v.map_or(Lite::Null, |v| Lite::Integer(v.into()))),
        Value::BigInt(v) => owned(v.map_or(Lite::Null, Lite::Integer)),
        Value::TinyUnsigned(v) => owned(v.map_or(Lite::Null, |v| Lite::Integer(v.into()))),
        Value::SmallUnsigned(v) => owned(v.map_or(Lite::Null, |v| Lite::Integer(v.into()))),
        Value::Unsigned(v) => owned(v.map_or(Lite::Null, |v| Lite::Integer(v.into()))),
        Value::Float(v) => owned(v.map_or(Lite::Null, |v| Lite::Real(v.into()))),
        Value::Double(v) => owned(v.map_or(Lite::Null, Lite::Real)),
        Value::String(v) => Ok(v.as_deref().map_or(ToSqlOutput::Owned(Lite::Null), |s| {
            ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
        })),
        Value::Bytes(v) => Ok(v.as_deref().map_or(ToSqlOutput::Owned(Lite::Null), |b| {
            ToSqlOutput::Borrowed(ValueRef::Blob(b))
        })),
        Value::Json(v) => owned(
            v.as_deref()
                .map_or(Lite::Null, |v| Lite::Text(v.to_string())),
        ),
        Value::ChronoDateTimeUtc(v) => owned(v.as_deref().map_or(Lite::Null, |v| {
            Lite::Text(v.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        })),
        other => Err(DbErr::Custom(format!(
            "a value the SQLite writer does not bind: {other:?}"
        ))),
    }
}

/// Runs `work`, in a savepoint of its own when `savepoint` (undone alone if it fails).
pub fn in_savepoint<T, E: From<DbErr>>(
    connection: &Connection,
    savepoint: bool,
    work: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E> {
    if !savepoint {
        return work(connection);
    }
    run(connection, "SAVEPOINT unit")?;
    match work(connection) {
        Ok(value) => {
            run(connection, "RELEASE unit")?;
            Ok(value)
        }
        Err(error) => {
            if run(connection, "ROLLBACK TO unit; RELEASE unit").is_err() {
                // The unit's writes could not be undone alone: undo the whole batch
                // (its caller sees the transaction gone and fails every unit).
                let _ = run(connection, "ROLLBACK");
            }
            Err(error)
        }
    }
}

/// Whether a transaction is open on the connection. SQLite rolls a transaction back by
/// itself after some errors (a full disk, an I/O error); a batch that finds it gone must
/// not go on, or each later statement would commit on its own.
pub fn in_transaction(connection: &Connection) -> bool {
    !connection.is_autocommit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer on a new file in a scratch directory, with one table.
    fn writer_on_scratch(name: &str) -> (std::path::PathBuf, Connection) {
        let dir = std::env::temp_dir().join(format!("oncewallet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wallet.db");
        let writer = open_writer(&path, WAL_CAP).unwrap();
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
            .unwrap();
        (path, writer)
    }

    /// Pages in the WAL since it last started, as a passive checkpoint reports them.
    fn wal_pages(reader: &Connection) -> i64 {
        reader
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
            .unwrap()
    }

    fn write_rows(writer: &Connection, rows: usize) {
        for _ in 0..rows {
            writer
                .execute("INSERT INTO t (body) VALUES (randomblob(3000))", [])
                .unwrap();
        }
    }

    #[test]
    fn a_restart_between_batches_starts_the_wal_again() {
        let (path, writer) = writer_on_scratch("wal-restart");
        let other = Connection::open(&path).unwrap();
        write_rows(&writer, 200);
        let before = wal_pages(&other);
        assert!(before > 150, "the WAL holds the rows' pages ({before})");
        assert!(restart_wal(&writer));
        write_rows(&writer, 1);
        let after = wal_pages(&other);
        assert!(
            after < 10,
            "the WAL started again from its beginning ({after} pages)"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A long read must not hold the writer: the restart gives up after `RESTART_WAIT`,
    /// not the writer's five-second busy timeout, and the writer goes on.
    #[test]
    fn a_reader_on_the_wal_defers_the_restart_without_holding_the_writer() {
        let (path, writer) = writer_on_scratch("wal-restart-reader");
        write_rows(&writer, 50);
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(seen, 50);
        write_rows(&writer, 50);
        let started = std::time::Instant::now();
        assert!(!restart_wal(&writer), "a reader still needs the WAL");
        assert!(
            started.elapsed() < BUSY_TIMEOUT / 5,
            "the restart waited {:?}",
            started.elapsed()
        );
        write_rows(&writer, 1);
        reader.execute_batch("COMMIT").unwrap();
        assert!(restart_wal(&writer), "once the reader is gone");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// The writer's own checkpoints stay out of the way in these tests.
    const WAL_CAP: u32 = 1_000_000;
}
