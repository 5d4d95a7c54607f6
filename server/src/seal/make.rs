//! Making a seal: read every player's head in one snapshot, diff it against the leaves of
//! the seal before, sign the new root, store the seal and its changed leaves in one short
//! write, then append the seal to the file.
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use super::{merkle, SealRecord, Sealing};
use crate::db::entities::{ledger_entry, player, trail_seal, trail_seal_leaf};
use crate::db::Store;
use crate::error::ServiceError;

/// Players whose postings are counted per query, and leaves inserted per statement.
const CHUNK: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The database refused a read or the seal's write; nothing was stored.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Another process with the key took this seal's number first; nothing was stored.
    #[error("another process made seal {0} at the same moment; the next seal follows it")]
    Raced(i64),
    /// The seal is stored, but the file could not take it; the next seal appends it too.
    #[error("seal file {path}: {error}")]
    File { path: String, error: String },
    /// The file already holds the seal this database would make next: it belongs to
    /// another database, or the database was restored from before those seals. Nothing
    /// was stored; a person decides which file goes with which database.
    #[error(
        "seal file {path} already holds seal {in_file} but the database's next seal is \
         {next}: a seal file from another database, or a database restored from before it"
    )]
    ForeignFile {
        path: String,
        in_file: i64,
        next: i64,
    },
}

impl From<sea_orm::DbErr> for SealError {
    fn from(error: sea_orm::DbErr) -> SealError {
        SealError::Service(error.into())
    }
}

/// A player's leaf: postings and head.
type Leaves = BTreeMap<String, (i64, String)>;

/// Makes one seal now, stores it and appends it (with any stored seal the file lacks) to
/// the seal file.
pub async fn seal_now(store: &Store, sealing: &Sealing) -> Result<SealRecord, SealError> {
    let _one_at_a_time = sealing.running.lock().await;
    let mut file = SealFile::lock(&sealing.file).await?;
    let in_file = file.last_seal()?;
    let snapshot = crate::ledger::chain::snapshot(store).await?;
    let latest = trail_seal::Entity::find()
        .order_by_desc(trail_seal::Column::Id)
        .one(&snapshot)
        .await?;
    let number = latest.as_ref().map_or(0, |seal| seal.id) + 1;
    if in_file >= number {
        return Err(SealError::ForeignFile {
            path: sealing.file.display().to_string(),
            in_file,
            next: number,
        });
    }
    let previous = match &latest {
        Some(seal) => serde_json::from_str::<SealRecord>(&seal.record)
            .map_err(|error| ServiceError::Bug(format!("stored seal {}: {error}", seal.id)))?
            .digest(),
        None => crate::ledger::chain::GENESIS.to_owned(),
    };
    let mut leaves = latest_leaves(&snapshot).await?;
    let changed = changed_leaves(&snapshot, &leaves).await?;
    drop(snapshot);
    for (player_id, leaf) in &changed {
        leaves.insert(player_id.clone(), leaf.clone());
    }
    let sealed_at = Utc::now();
    let summary = merkle::summarise(
        leaves
            .iter()
            .map(|(id, (postings, head))| (id.as_str(), *postings, head.as_str())),
    );
    let mut record = SealRecord {
        seal: number,
        sealed_at: sealed_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        players: summary.players,
        postings: summary.postings,
        root: summary.root,
        previous,
        public_key: sealing.key.public_hex(),
        signature: String::new(),
    };
    record.signature = sealing.key.sign(&record.message());
    store_seal(store, &record, sealed_at, changed).await?;
    file.append_missing(store, in_file).await?;
    tracing::info!(
        seal = record.seal,
        players = record.players,
        postings = record.postings,
        "trail sealed"
    );
    Ok(record)
}

/// Every player's leaf as the seals so far left it.
async fn latest_leaves(db: &impl ConnectionTrait) -> Result<Leaves, sea_orm::DbErr> {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT l.player_id, l.postings, l.head FROM trail_seal_leaves l \
             JOIN (SELECT player_id, MAX(seal_id) AS seal_id FROM trail_seal_leaves \
                   GROUP BY player_id) m \
             ON m.player_id = l.player_id AND m.seal_id = l.seal_id",
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<String>("", "player_id")?,
                (
                    row.try_get::<i64>("", "postings")?,
                    row.try_get::<String>("", "head")?,
                ),
            ))
        })
        .collect()
}

/// The players whose head moved since their last leaf, with their postings counted now.
/// A posting always moves the head, so an unchanged head means unchanged postings.
async fn changed_leaves(
    db: &impl ConnectionTrait,
    sealed: &Leaves,
) -> Result<Vec<(String, (i64, String))>, sea_orm::DbErr> {
    let heads: Vec<(String, Option<String>)> = player::Entity::find()
        .select_only()
        .column(player::Column::Id)
        .column(player::Column::LedgerHead)
        .filter(player::Column::LedgerHead.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let moved: Vec<(String, String)> = heads
        .into_iter()
        .filter_map(|(id, head)| Some((id, head?)))
        .filter(|(id, head)| sealed.get(id).is_none_or(|(_, sealed)| sealed != head))
        .collect();
    let mut changed = Vec::with_capacity(moved.len());
    for chunk in moved.chunks(CHUNK) {
        let accounts: HashMap<String, &(String, String)> = chunk
            .iter()
            .map(|moved| (crate::ledger::player_account(&moved.0), moved))
            .collect();
        let counts: Vec<(String, i64)> = ledger_entry::Entity::find()
            .select_only()
            .column(ledger_entry::Column::Account)
            .column_as(Expr::col(ledger_entry::Column::Id).count(), "postings")
            .filter(ledger_entry::Column::Account.is_in(accounts.keys().cloned()))
            .group_by(ledger_entry::Column::Account)
            .into_tuple()
            .all(db)
            .await?;
        for (account, postings) in counts {
            if let Some((id, head)) = accounts.get(&account) {
                changed.push((id.clone(), (postings, head.clone())));
            }
        }
    }
    Ok(changed)
}

async fn store_seal(
    store: &Store,
    record: &SealRecord,
    sealed_at: DateTime<Utc>,
    changed: Vec<(String, (i64, String))>,
) -> Result<(), SealError> {
    let seal = trail_seal::ActiveModel {
        id: Set(record.seal),
        sealed_at: Set(sealed_at),
        players: Set(record.players),
        postings: Set(record.postings),
        root: Set(record.root.clone()),
        record: Set(record.line()),
    };
    let leaves: Arc<Vec<Vec<trail_seal_leaf::ActiveModel>>> = Arc::new(
        changed
            .chunks(CHUNK)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(
                        |(player_id, (postings, head))| trail_seal_leaf::ActiveModel {
                            player_id: Set(player_id.clone()),
                            seal_id: Set(record.seal),
                            postings: Set(*postings),
                            head: Set(head.clone()),
                        },
                    )
                    .collect()
            })
            .collect(),
    );
    let number = record.seal;
    let stored = store
        .write(Box::new(move |txn| {
            let seal = seal.clone();
            let leaves = Arc::clone(&leaves);
            Box::pin(async move {
                // The number first: a seal made by another process meanwhile fails here,
                // before any leaf is written.
                let taken = trail_seal::Entity::find_by_id(number).one(txn).await?;
                if taken.is_some() {
                    return Ok(false);
                }
                trail_seal::Entity::insert(seal).exec(txn).await?;
                for chunk in leaves.iter() {
                    trail_seal_leaf::Entity::insert_many(chunk.clone())
                        .exec(txn)
                        .await?;
                }
                Ok(true)
            })
        }))
        .await;
    match stored {
        Ok(true) => Ok(()),
        Ok(false) => Err(SealError::Raced(number)),
        // Two processes inserting the same number at once: the unique key stops one.
        Err(ServiceError::Db(error)) if crate::db::sqlstate(&error).as_deref() == Some("23505") => {
            Err(SealError::Raced(number))
        }
        Err(error) => Err(error.into()),
    }
}

/// The seal file, locked (`flock`) for as long as one seal is being made: several
/// processes given the same file append in turn, each after the other's seals.
struct SealFile {
    file: std::fs::File,
    path: String,
}

impl SealFile {
    async fn lock(path: &Path) -> Result<SealFile, SealError> {
        let shown = path.display().to_string();
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path);
        let file = opened.map_err(|error| file_error(&shown, error))?;
        // Waits while another process makes its seal, off the async threads.
        let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|error| file_error(&shown, error))?
            .map_err(|error| file_error(&shown, error))?;
        Ok(SealFile { file, path: shown })
    }

    /// The number of the last seal in the file (0: none yet). A last line without its
    /// newline is an append cut short (a crash, a full disk): it is cut off, since the
    /// seal it was writing is in the database and is appended again after this.
    fn last_seal(&mut self) -> Result<i64, SealError> {
        let mut text = String::new();
        (&self.file)
            .read_to_string(&mut text)
            .map_err(|error| file_error(&self.path, error))?;
        if !text.is_empty() && !text.ends_with('\n') {
            let keep = text.rfind('\n').map_or(0, |at| at + 1);
            tracing::warn!(path = %self.path, "cutting off an unfinished last line of the seal file");
            self.file
                .set_len(keep as u64)
                .map_err(|error| file_error(&self.path, error))?;
            text.truncate(keep);
        }
        match text.lines().rev().find(|line| !line.trim().is_empty()) {
            None => Ok(0),
            Some(line) => serde_json::from_str::<SealRecord>(line)
                .map(|record| record.seal)
                .map_err(|error| SealError::File {
                    path: self.path.clone(),
                    error: format!("its last line is not a seal: {error}"),
                }),
        }
    }

    /// Appends every stored seal after `in_file` (the new one, and any an earlier append
    /// missed) in one write, then syncs; a failed write is cut back off.
    async fn append_missing(&mut self, store: &Store, in_file: i64) -> Result<(), SealError> {
        let missing = trail_seal::Entity::find()
            .filter(trail_seal::Column::Id.gt(in_file))
            .order_by_asc(trail_seal::Column::Id)
            .all(store.reader())
            .await?;
        let text: String = missing
            .iter()
            .map(|seal| format!("{}\n", seal.record))
            .collect();
        let before = self
            .file
            .metadata()
            .map_err(|error| file_error(&self.path, error))?
            .len();
        let written = (&self.file)
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_all());
        if let Err(error) = written {
            let _ = self.file.set_len(before);
            return Err(file_error(&self.path, error));
        }
        Ok(())
    }
}

fn file_error(path: &str, error: impl std::fmt::Display) -> SealError {
    SealError::File {
        path: path.to_owned(),
        error: error.to_string(),
    }
}

/// Seals whenever the newest seal is older than the interval, checked every minute (or
/// every interval, if shorter): a restart does not reset the clock, and of several
/// processes sharing the key only one seals each time.
/// The newest `limit` seals, newest first.
pub async fn recent(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<SealRecord>, ServiceError> {
    let seals = trail_seal::Entity::find()
        .order_by_desc(trail_seal::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(seals
        .iter()
        .filter_map(|seal| serde_json::from_str::<SealRecord>(&seal.record).ok())
        .collect())
}

pub fn spawn_schedule(store: Store, sealing: Sealing) {
    let Some(interval) = sealing.interval else {
        tracing::info!("scheduled sealing disabled");
        return;
    };
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval.min(Duration::from_secs(60)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match due(&store, interval).await {
                Ok(false) => continue,
                Ok(true) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot read the newest seal");
                    continue;
                }
            }
            match seal_now(&store, &sealing).await {
                Ok(_) => {}
                Err(SealError::Raced(seal)) => {
                    tracing::info!(seal, "another process sealed the trail first");
                }
                Err(error) => tracing::error!(%error, "sealing the trail failed"),
            }
        }
    });
}

async fn due(store: &Store, interval: Duration) -> Result<bool, sea_orm::DbErr> {
    let newest = trail_seal::Entity::find()
        .order_by_desc(trail_seal::Column::Id)
        .one(store.reader())
        .await?;
    Ok(newest.is_none_or(|seal| {
        Utc::now().signed_duration_since(seal.sealed_at)
            >= chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX)
    }))
}
