//! The tamper-evident trail in the reconciliation job: every run verifies the players'
//! ledger hash chains and reports each chain that does not verify as a CRITICAL
//! `TRAIL_BROKEN` finding about the player.
//!
//! Incremental by default: a checkpoint per player (`trail_checkpoints`) remembers the last
//! entry whose link verified, and a run only walks the players whose head moved since
//! (or who have entries above the previous run's highest entry id, or a recorded break),
//! from their checkpoint onwards. Every player's checkpointed entry is looked up by its
//! id on every run, so deleting it or changing its link is found at once. Entries
//! *before* a checkpoint (and the content of the checkpointed one) are not read again by
//! an incremental pass; a full pass re-walks every chain from the start, every
//! `WALLET_TRAIL_FULL_EVERY_RUNS` runs (default 288, a day at the default interval), on the
//! first run, and on demand (`server reconcile --full`, the operator API).
//!
//! A player whose chain broke keeps the break in its checkpoint and is re-walked from the
//! start on every run, so the finding stays open until the data is repaired, then resolves
//! itself like every other finding. The players are walked by [`WORKERS`] tasks at once,
//! each in a snapshot of its own taken after the one that read the player list and the
//! highest entry id, so postings committed meanwhile cannot make a head look wrong, and a
//! worker that sees more entries than the watermark only moves a checkpoint further (the
//! next incremental pass walks that player again from there).
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;

use super::checks::{CheckResult, MAX_FINDINGS_PER_CHECK};
use super::findings::{Finding, Severity, Subject};
use super::sql;
use crate::db::entities::{player, reconciliation_run as run, trail_checkpoint as checkpoint};
use crate::db::Store;
use crate::error::ServiceError;
use crate::trail::{self, Anchor, Chain};

/// A player's hash chain does not verify: a ledger entry or the head was edited, deleted
/// or inserted behind the wallet's back.
pub const TRAIL_BROKEN: &str = "TRAIL_BROKEN";
/// A full pass every this many runs, unless `WALLET_TRAIL_FULL_EVERY_RUNS` says otherwise.
pub const DEFAULT_FULL_EVERY_RUNS: u32 = 288;
/// Players loaded per query; also checkpoint rows per upsert (six parameters each).
const CHUNK: usize = 500;
/// Chains walked at once, each on a read connection of its own: a full pass is most of
/// a run, and one connection leaves the second core idle while it waits on the database.
const WORKERS: usize = 2;

/// How a run verifies the chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailPass {
    /// Every chain from its first posting.
    Full,
    /// Only what changed since each player's checkpoint.
    Incremental,
}

impl TrailPass {
    pub fn as_str(self) -> &'static str {
        match self {
            TrailPass::Full => "FULL",
            TrailPass::Incremental => "INCREMENTAL",
        }
    }
}

/// How a run chooses its pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailMode {
    /// Full on the first run and when the last full pass is `full_every_runs` runs old
    /// (0: only the first), incremental otherwise.
    Auto { full_every_runs: u32 },
    /// This pass, whatever the history.
    Force(TrailPass),
}

impl Default for TrailMode {
    fn default() -> Self {
        TrailMode::Auto {
            full_every_runs: DEFAULT_FULL_EVERY_RUNS,
        }
    }
}

/// What a pass found, and where the checkpoints move (written with the findings).
pub struct TrailOutcome {
    pub pass: TrailPass,
    pub check: CheckResult,
    pub checkpoints: Vec<checkpoint::Model>,
    pub players_checked: u64,
    pub postings_checked: u64,
    /// The highest ledger entry id in the snapshot (0 for an empty ledger).
    pub last_entry_id: i64,
}

impl TrailOutcome {
    fn empty(pass: TrailPass, last_entry_id: i64) -> TrailOutcome {
        TrailOutcome {
            pass,
            check: CheckResult {
                kind: TRAIL_BROKEN,
                findings: Vec::new(),
                truncated: false,
                elapsed_ms: 0,
            },
            checkpoints: Vec::new(),
            players_checked: 0,
            postings_checked: 0,
            last_entry_id,
        }
    }
}

/// The pass this run makes, and the previous run's highest entry id (the watermark an
/// incremental pass starts its look for inserted entries from).
pub async fn choose(
    db: &impl ConnectionTrait,
    mode: TrailMode,
) -> Result<(TrailPass, Option<i64>), DbErr> {
    let previous = run::Entity::find()
        .filter(run::Column::TrailPass.is_not_null())
        .order_by_desc(run::Column::Id)
        .one(db)
        .await?;
    let watermark = previous.as_ref().and_then(|r| r.trail_last_entry_id);
    let pass = match mode {
        TrailMode::Force(pass) => pass,
        TrailMode::Auto { full_every_runs } => {
            let last_full = run::Entity::find()
                .filter(run::Column::TrailPass.eq(TrailPass::Full.as_str()))
                .order_by_desc(run::Column::Id)
                .one(db)
                .await?;
            match last_full {
                None => TrailPass::Full,
                Some(_) if full_every_runs == 0 => TrailPass::Incremental,
                Some(full) => {
                    let since = runs_since(db, full.id).await?;
                    if since + 1 >= u64::from(full_every_runs) {
                        TrailPass::Full
                    } else {
                        TrailPass::Incremental
                    }
                }
            }
        }
    };
    Ok((pass, watermark))
}

/// Completed trail passes after run `id`.
async fn runs_since(db: &impl ConnectionTrait, id: i64) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    run::Entity::find()
        .filter(run::Column::TrailPass.is_not_null())
        .filter(run::Column::Id.gt(id))
        .count(db)
        .await
}

/// Verifies the chains the pass covers: [`WORKERS`] walks at once, each in a snapshot of its
/// own taken after the one that read the player list and the watermark (see the module doc).
pub async fn verify(
    store: &Store,
    pass: TrailPass,
    watermark: Option<i64>,
    now: DateTime<Utc>,
) -> Result<TrailOutcome, ServiceError> {
    let started = Instant::now();
    let db = trail::snapshot(store).await?;
    let last_entry_id = max_entry_id(&db).await?;
    let players = match pass {
        TrailPass::Full => all_players(&db).await?,
        TrailPass::Incremental => changed_players(&db, watermark).await?,
    };
    let shares: Vec<&[String]> = players
        .chunks(players.len().div_ceil(WORKERS).max(1))
        .collect();
    let mut snapshots = vec![db];
    while snapshots.len() < shares.len() {
        snapshots.push(trail::snapshot(store).await?);
    }
    if shares.is_empty() {
        snapshots
            .pop()
            .expect("the first snapshot")
            .rollback()
            .await?;
    }
    let walks = snapshots
        .into_iter()
        .zip(shares)
        .map(|(db, mine)| walk(db, pass, mine, now));
    let mut outcome = TrailOutcome::empty(pass, last_entry_id);
    for part in futures::future::try_join_all(walks).await? {
        outcome.players_checked += part.players_checked;
        outcome.postings_checked += part.postings_checked;
        outcome.checkpoints.extend(part.checkpoints);
        outcome.check.truncated |= part.check.truncated;
        outcome.check.findings.extend(part.check.findings);
    }
    if outcome.check.findings.len() > MAX_FINDINGS_PER_CHECK {
        outcome.check.findings.truncate(MAX_FINDINGS_PER_CHECK);
        outcome.check.truncated = true;
    }
    outcome.check.elapsed_ms = started.elapsed().as_millis();
    Ok(outcome)
}

/// One worker's share of the players, in its own snapshot.
async fn walk(
    db: DatabaseTransaction,
    pass: TrailPass,
    players: &[String],
    now: DateTime<Utc>,
) -> Result<TrailOutcome, ServiceError> {
    let mut outcome = TrailOutcome::empty(pass, 0);
    for chunk in players.chunks(CHUNK) {
        verify_chunk(&db, pass, chunk, now, &mut outcome).await?;
    }
    // Read-only: nothing to keep.
    db.rollback().await?;
    Ok(outcome)
}

async fn verify_chunk(
    db: &DatabaseTransaction,
    pass: TrailPass,
    ids: &[String],
    now: DateTime<Utc>,
    outcome: &mut TrailOutcome,
) -> Result<(), ServiceError> {
    let players = player::Entity::find()
        .filter(player::Column::Id.is_in(ids.iter().map(String::as_str)))
        .order_by_asc(player::Column::Id)
        .all(db)
        .await?;
    let mut known: HashMap<String, checkpoint::Model> = checkpoint::Entity::find()
        .filter(checkpoint::Column::PlayerId.is_in(ids.iter().map(String::as_str)))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.player_id.clone(), c))
        .collect();
    for player in &players {
        let known = known.remove(&player.id);
        let from = match (&known, pass) {
            (Some(c), TrailPass::Incremental) if c.broken_reason.is_none() => Anchor {
                entry_id: c.entry_id,
                link: c.chain_hash.clone(),
            },
            _ => Anchor::genesis(),
        };
        outcome.players_checked += 1;
        let next = match trail::verify_player(db, player, &from).await? {
            Chain::Verified { end, postings } => {
                outcome.postings_checked += postings;
                checkpoint_row(&player.id, &end, None, now)
            }
            Chain::Broken { found, postings } => {
                outcome.postings_checked += postings;
                let row = checkpoint_row(&player.id, &Anchor::genesis(), Some(&found), now);
                if outcome.check.findings.len() < MAX_FINDINGS_PER_CHECK {
                    outcome.check.findings.push(finding(found));
                } else {
                    outcome.check.truncated = true;
                }
                row
            }
        };
        if known.as_ref().is_none_or(|c| !same_position(c, &next)) {
            outcome.checkpoints.push(next);
        }
    }
    Ok(())
}

fn checkpoint_row(
    player_id: &str,
    at: &Anchor,
    broken: Option<&trail::Break>,
    now: DateTime<Utc>,
) -> checkpoint::Model {
    checkpoint::Model {
        player_id: player_id.to_owned(),
        entry_id: at.entry_id,
        chain_hash: at.link.clone(),
        broken_entry_id: broken.and_then(|b| b.entry_id),
        broken_reason: broken.map(|b| b.reason.clone()),
        updated_at: now,
    }
}

/// Same checkpoint apart from when it was written: no need to write it again.
fn same_position(a: &checkpoint::Model, b: &checkpoint::Model) -> bool {
    (
        a.entry_id,
        &a.chain_hash,
        a.broken_entry_id,
        &a.broken_reason,
    ) == (
        b.entry_id,
        &b.chain_hash,
        b.broken_entry_id,
        &b.broken_reason,
    )
}

fn finding(found: trail::Break) -> Finding {
    Finding {
        kind: TRAIL_BROKEN,
        severity: Severity::Critical,
        subject: Subject::Player(found.player_id),
        provider_id: None,
        details: json!({ "entry_id": found.entry_id, "reason": found.reason }),
    }
}

async fn max_entry_id(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let rows = sql::query(
        db,
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS n FROM ledger_entries",
        vec![],
    )
    .await?;
    rows.first()
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()
        .map(Option::unwrap_or_default)
}

async fn all_players(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let rows = sql::query(db, "SELECT id FROM players ORDER BY id", vec![]).await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "id"))
        .collect()
}

/// Players an incremental pass walks: no checkpoint yet, a recorded break, a head that is
/// not the checkpoint's link (new postings, or an edited head), a checkpointed entry that
/// is gone or carries another link, or a player entry above the previous run's highest id
/// (an entry inserted without moving the head). One pass over the players joined to their
/// checkpoints and those entries by primary key, and one index range over the new entries.
async fn changed_players(
    db: &impl ConnectionTrait,
    watermark: Option<i64>,
) -> Result<Vec<String>, DbErr> {
    let rows = sql::query(
        db,
        "SELECT p.id AS id FROM players p \
         LEFT JOIN trail_checkpoints c ON c.player_id = p.id \
         LEFT JOIN ledger_entries e ON e.id = c.entry_id \
         WHERE c.player_id IS NULL OR c.broken_reason IS NOT NULL \
            OR c.chain_hash <> COALESCE(p.ledger_head, ?) \
            OR (c.entry_id > 0 AND (e.id IS NULL OR e.chain_hash IS NULL \
                                    OR e.chain_hash <> c.chain_hash))",
        vec![trail::GENESIS.into()],
    )
    .await?;
    let mut ids: BTreeSet<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", "id"))
        .collect::<Result<_, _>>()?;
    if let Some(watermark) = watermark {
        let rows = sql::query(
            db,
            "SELECT DISTINCT account FROM ledger_entries \
             WHERE id > ? AND account LIKE 'player:%'",
            vec![watermark.into()],
        )
        .await?;
        for row in rows {
            let account = row.try_get::<String>("", "account")?;
            if let Some(id) = account.strip_prefix("player:") {
                ids.insert(id.to_owned());
            }
        }
    }
    Ok(ids.into_iter().collect())
}

/// Moves the checkpoints, in the run's own transaction (with its findings).
pub async fn save_checkpoints(
    txn: &DatabaseTransaction,
    rows: &[checkpoint::Model],
) -> Result<(), DbErr> {
    for chunk in rows.chunks(CHUNK) {
        let models = chunk.iter().map(|row| checkpoint::ActiveModel {
            player_id: Set(row.player_id.clone()),
            entry_id: Set(row.entry_id),
            chain_hash: Set(row.chain_hash.clone()),
            broken_entry_id: Set(row.broken_entry_id),
            broken_reason: Set(row.broken_reason.clone()),
            updated_at: Set(row.updated_at),
        });
        checkpoint::Entity::insert_many(models)
            .on_conflict(
                OnConflict::column(checkpoint::Column::PlayerId)
                    .update_columns([
                        checkpoint::Column::EntryId,
                        checkpoint::Column::ChainHash,
                        checkpoint::Column::BrokenEntryId,
                        checkpoint::Column::BrokenReason,
                        checkpoint::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
