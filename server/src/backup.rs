//! `server backup --to PATH`: a consistent copy of a SQLite database taken while the
//! wallet serves, checked before it is called a backup (docs/OPERATIONS.md).
//!
//! The copy is SQLite's online backup, run from one read transaction: in WAL mode a reader
//! never blocks the writer, so bets go on while the pages are copied, and the copy is the
//! database as it was when the transaction began (every transaction acknowledged before
//! that is in it). Pages are copied a few hundred at a time with a pause between, so the
//! copy's disk traffic does not crowd out the writer's fsyncs. The copy is then checked
//! (`PRAGMA integrity_check`, every ledger hash chain, the money invariants) and only then
//! renamed to PATH. PostgreSQL is backed up with its own tools (docs/OPERATIONS.md).
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use sea_orm::{ConnectionTrait, Statement};

use crate::db::DatabaseSettings;

/// Pages copied per step (4 KiB each), and the pause after each step.
const PAGES_PER_STEP: i32 = 256;
const PAUSE: Duration = Duration::from_millis(2);
/// How long a step may keep answering "busy" before the backup gives up.
const BUSY_LIMIT: Duration = Duration::from_secs(60);

/// The flags of `server backup`.
#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 the copy is written and checked, 1 it could not be \
                        made or failed a check (nothing is left at PATH), 2 bad flags or a \
                        PostgreSQL database (see docs/OPERATIONS.md)."
)]
pub struct BackupArgs {
    /// Where to write the copy (a new file; its folder must exist). A restore is starting
    /// a server with DATABASE_URL=sqlite://PATH
    #[arg(long, value_name = "PATH")]
    pub to: PathBuf,
    #[command(flatten)]
    pub database: DatabaseSettings,
}

/// What the copy holds, printed as JSON when it passed every check.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub path: String,
    pub bytes: u64,
    pub pages: i32,
    pub seconds: f64,
    pub players: i64,
    pub transactions: i64,
    pub ledger_entries: i64,
    pub newest_transaction_at: Option<String>,
    pub postings_verified: u64,
}

pub async fn run(args: &BackupArgs) -> anyhow::Result<i32> {
    let Some(source) = crate::db::sqlite_path(&args.database.database_url) else {
        eprintln!(
            "server backup copies SQLite databases. Back PostgreSQL up with a base backup and \
             WAL archiving (pg_basebackup); the procedure is in docs/OPERATIONS.md"
        );
        return Ok(2);
    };
    anyhow::ensure!(
        !args.to.exists(),
        "{} exists already: a backup never overwrites a file",
        args.to.display()
    );
    let partial = partial_path(&args.to);
    let _ = std::fs::remove_file(&partial);
    let started = Instant::now();
    let result = async {
        let source = PathBuf::from(source);
        let into = partial.clone();
        let pages = tokio::task::spawn_blocking(move || copy(&source, &into))
            .await
            .context("the copy's thread")??;
        let mut summary = check(&partial).await?;
        summary.pages = pages;
        Ok::<_, anyhow::Error>(summary)
    }
    .await;
    let mut summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            eprintln!(
                "backup FAILED, nothing written to {}: {error:#}",
                args.to.display()
            );
            return Ok(1);
        }
    };
    // A link, not a rename: it fails rather than replace a file made at PATH meanwhile.
    let placed = std::fs::hard_link(&partial, &args.to)
        .with_context(|| format!("cannot put the checked copy at {}", args.to.display()));
    let _ = std::fs::remove_file(&partial);
    placed?;
    sync_folder(&args.to)?;
    summary.path = args.to.display().to_string();
    summary.bytes = std::fs::metadata(&args.to)?.len();
    summary.seconds = started.elapsed().as_secs_f64();
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!(
        "backup written and checked: {} ({:.1} MB, {} transactions, {} postings verified) in {:.1} s",
        summary.path,
        summary.bytes as f64 / 1e6,
        summary.transactions,
        summary.postings_verified,
        summary.seconds
    );
    Ok(0)
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Copies `source` into `into` from one read transaction; returns the pages copied.
fn copy(source: &Path, into: &Path) -> anyhow::Result<i32> {
    // Read-write without create: a read-only handle could not open a WAL database whose
    // shared-memory file is missing. Nothing is written through it.
    let source = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", source.display()))?;
    source.busy_timeout(Duration::from_secs(5))?;
    // The snapshot: held across every step, so pages committed meanwhile by the wallet
    // stay in the WAL, out of this copy, and the backup never restarts.
    source.execute_batch("BEGIN")?;
    source.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |_| Ok(()))?;
    let mut copy =
        Connection::open(into).with_context(|| format!("cannot create {}", into.display()))?;
    let mut last_report = Instant::now();
    let mut busy_since: Option<Instant> = None;
    let pages = {
        let backup = Backup::new(&source, &mut copy)?;
        loop {
            match backup.step(PAGES_PER_STEP)? {
                StepResult::Done => break backup.progress().pagecount,
                StepResult::More => {
                    busy_since = None;
                    if last_report.elapsed() >= Duration::from_secs(1) {
                        let progress = backup.progress();
                        let total = progress.pagecount.max(1);
                        let done = total - progress.remaining;
                        eprintln!(
                            "copied {done} of {total} pages ({}%)",
                            i64::from(done) * 100 / i64::from(total)
                        );
                        last_report = Instant::now();
                    }
                    std::thread::sleep(PAUSE);
                }
                // The copy's own file is busy (someone opened it): wait, within reason.
                _ => {
                    let since = *busy_since.get_or_insert_with(Instant::now);
                    anyhow::ensure!(
                        since.elapsed() < BUSY_LIMIT,
                        "the copy stayed busy for {} s",
                        BUSY_LIMIT.as_secs()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    };
    source.execute_batch("COMMIT")?;
    // One self-contained file: a server started on it turns WAL on again.
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    let problems: Vec<String> = copy
        .prepare("PRAGMA integrity_check(20)")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(
        problems == ["ok"],
        "the copy fails SQLite's integrity check: {}",
        problems.join("; ")
    );
    drop(copy);
    std::fs::File::open(into)?.sync_all()?;
    Ok(pages)
}

/// Every ledger hash chain and the money invariants, on the copy.
async fn check(copy: &Path) -> anyhow::Result<Summary> {
    // Options, not a URL: a path with `?`, `#` or spaces stays one path.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(copy);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let db = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
    let trail = crate::ledger::chain::verify(&db)
        .await
        .map_err(|error| anyhow::anyhow!("verifying the copy's trail: {error}"))?;
    if let Some(found) = trail.first_break {
        anyhow::bail!(
            "the copy's trail does not verify: player {} entry {:?}: {}",
            found.player_id,
            found.entry_id,
            found.reason
        );
    }
    let now = chrono::Utc::now();
    for kind in crate::reconcile::MONEY_INVARIANTS {
        let result = crate::reconcile::run_check(
            &db,
            kind,
            crate::reconcile::TrailPass::Full,
            &Default::default(),
            now,
        )
        .await?;
        anyhow::ensure!(
            result.findings.is_empty(),
            "the copy fails the {kind} check: {} findings",
            result.findings.len()
        );
    }
    let count = |table: &str| {
        let db = &db;
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        async move {
            let row = db
                .query_one(Statement::from_string(db.get_database_backend(), sql))
                .await?
                .context("a count")?;
            Ok::<i64, anyhow::Error>(row.try_get::<i64>("", "n")?)
        }
    };
    let newest = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(created_at) AS t FROM wallet_transactions",
        ))
        .await?
        .and_then(|row| row.try_get::<Option<String>>("", "t").ok().flatten());
    let summary = Summary {
        path: String::new(),
        bytes: 0,
        pages: 0,
        seconds: 0.0,
        players: count("players").await?,
        transactions: count("wallet_transactions").await?,
        ledger_entries: count("ledger_entries").await?,
        newest_transaction_at: newest,
        postings_verified: trail.postings_checked,
    };
    db.close().await?;
    Ok(summary)
}

fn sync_folder(path: &Path) -> anyhow::Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(folder)?.sync_all()?;
    Ok(())
}
