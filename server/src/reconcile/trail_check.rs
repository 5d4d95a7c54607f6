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
//! each in snapshots of its own ([`PLAYERS_PER_SNAPSHOT`] players each) taken after the one
//! that read the player list and the highest entry id, so postings committed meanwhile
//! cannot make a head look wrong, and a
//! worker that sees more entries than the watermark only moves a checkpoint further (the
//! next incremental pass walks that player again from there).
//!
//! The walk also checks the money on every posting it reads (docs/API.md, "Incremental
//! runs"): the posting's two entries sum to zero, each player entry's `balance_after` is
//! the sum of the player's entries so far (the checkpoint keeps the sum up to it), and the
//! player's balance is the sum at the end. A player who did not post since the checkpoint
//! is not walked; an incremental pass compares that player's balance with the
//! checkpoint's sum instead, in the snapshot that chose whom to walk. That is how an
//! incremental run checks every balance, and the transactions posted since, without
//! aggregating the whole ledger. A player whose money does not add up is kept under watch
//! like a broken chain (walked from the start on every run, so the sums are the ledger's
//! own), and is reported as `BALANCE_MISMATCH` or `UNBALANCED_TRANSACTION`, not as a break.
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;

use super::checks::{
    CheckResult, BALANCE_MISMATCH, MAX_FINDINGS_PER_CHECK, UNBALANCED_TRANSACTION,
};
use super::findings::{Finding, Severity, Subject};
use super::pass::TrailPass;
use super::sql;
use crate::db::entities::{player, trail_checkpoint as checkpoint, wallet_transaction};
use crate::db::Store;
use crate::error::ServiceError;
use crate::ledger::chain::{self, Anchor, Chain, Tally};

/// A player's hash chain does not verify: a ledger entry or the head was edited, deleted
/// or inserted behind the wallet's back.
pub const TRAIL_BROKEN: &str = "TRAIL_BROKEN";
/// Checkpoint rows per upsert (seven parameters each).
const CHUNK: usize = 500;
/// Players walked in one snapshot; the next ones get a fresh snapshot. A snapshot held for
/// a whole run (minutes at a soak's rates) kept SQLite from restarting its WAL, which grew
/// to 2.4 GB and stayed, and on PostgreSQL holds back what VACUUM may clean up
/// (docs/RELIABILITY.md, "The soak"). Each player is still read in one snapshot: its row,
/// checkpoint and entries agree.
const PLAYERS_PER_SNAPSHOT: usize = 50;
/// Chains walked at once on a full pass, each on a read connection of its own: a full pass
/// is most of a run, and one connection leaves the second core idle while it waits on the
/// database. An incremental pass walks with one: it reads only minutes of postings, and
/// two walkers took both cores from the money path for seconds every run (p99 spikes in
/// the soak, docs/RELIABILITY.md).
const WORKERS: usize = 2;

/// What a pass found, and where the checkpoints move (written with the findings).
pub struct TrailOutcome {
    pub pass: TrailPass,
    pub check: CheckResult,
    pub checkpoints: Vec<checkpoint::Model>,
    pub players_checked: u64,
    pub postings_checked: u64,
    /// The highest ledger entry id in the snapshot (0 for an empty ledger).
    pub last_entry_id: i64,
    /// `BALANCE_MISMATCH` and `UNBALANCED_TRANSACTION` findings on the postings walked.
    pub money: Vec<Finding>,
    /// More money findings than [`MAX_FINDINGS_PER_CHECK`]: the rest wait for the next run.
    pub money_truncated: bool,
}

impl TrailOutcome {
    fn empty(pass: TrailPass, last_entry_id: i64) -> TrailOutcome {
        TrailOutcome {
            pass,
            check: CheckResult {
                kind: TRAIL_BROKEN,
                findings: Vec::new(),
                truncated: false,
                partial: false,
                elapsed_ms: 0,
            },
            checkpoints: Vec::new(),
            players_checked: 0,
            postings_checked: 0,
            last_entry_id,
            money: Vec::new(),
            money_truncated: false,
        }
    }
}

/// Verifies the chains the pass covers: [`WORKERS`] walks at once, each in snapshots of its
/// own taken after the one that read the player list and the watermark (see the module doc).
pub async fn verify(
    store: &Store,
    pass: TrailPass,
    watermark: Option<i64>,
    now: DateTime<Utc>,
) -> Result<TrailOutcome, ServiceError> {
    let started = Instant::now();
    let db = chain::snapshot(store).await?;
    let last_entry_id = max_entry_id(&db).await?;
    let (players, resting) = match pass {
        TrailPass::Full => (all_players(&db).await?, Vec::new()),
        TrailPass::Incremental => (
            changed_players(&db, watermark).await?,
            resting_balances(&db).await?,
        ),
    };
    let workers = match pass {
        TrailPass::Full => WORKERS,
        TrailPass::Incremental => 1,
    };
    let shares: Vec<&[String]> = players
        .chunks(players.len().div_ceil(workers).max(1))
        .collect();
    let mut snapshots = vec![db];
    while snapshots.len() < shares.len() {
        snapshots.push(chain::snapshot(store).await?);
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
        .map(|(db, mine)| walk(store, db, pass, mine, now));
    let mut outcome = TrailOutcome::empty(pass, last_entry_id);
    outcome.money_truncated = resting.len() > MAX_FINDINGS_PER_CHECK;
    outcome.money = resting;
    for part in futures::future::try_join_all(walks).await? {
        outcome.players_checked += part.players_checked;
        outcome.postings_checked += part.postings_checked;
        outcome.checkpoints.extend(part.checkpoints);
        outcome.check.truncated |= part.check.truncated;
        outcome.check.findings.extend(part.check.findings);
        outcome.money_truncated |= part.money_truncated;
        outcome.money.extend(part.money);
    }
    if outcome.check.findings.len() > MAX_FINDINGS_PER_CHECK {
        outcome.check.findings.truncate(MAX_FINDINGS_PER_CHECK);
        outcome.check.truncated = true;
    }
    if outcome.money.len() > MAX_FINDINGS_PER_CHECK {
        outcome.money.truncate(MAX_FINDINGS_PER_CHECK);
        outcome.money_truncated = true;
    }
    outcome.check.elapsed_ms = started.elapsed().as_millis();
    Ok(outcome)
}

/// One worker's share of the players: the first [`PLAYERS_PER_SNAPSHOT`] in `first`, a
/// snapshot taken after the one that chose them, each further group in a fresh one.
async fn walk(
    store: &Store,
    first: DatabaseTransaction,
    pass: TrailPass,
    players: &[String],
    now: DateTime<Utc>,
) -> Result<TrailOutcome, ServiceError> {
    let mut outcome = TrailOutcome::empty(pass, 0);
    let mut first = Some(first);
    for group in players.chunks(PLAYERS_PER_SNAPSHOT) {
        let db = match first.take() {
            Some(db) => db,
            None => chain::snapshot(store).await?,
        };
        verify_chunk(&db, pass, group, now, &mut outcome).await?;
        // Read-only: nothing to keep.
        db.rollback().await?;
    }
    if let Some(unused) = first {
        unused.rollback().await?;
    }
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
        let (from, balance) = match (&known, pass) {
            (
                Some(checkpoint::Model {
                    entry_id,
                    chain_hash,
                    broken_reason: None,
                    balance_minor: Some(balance),
                    ..
                }),
                TrailPass::Incremental,
            ) => (
                Anchor {
                    entry_id: *entry_id,
                    link: chain_hash.clone(),
                },
                *balance,
            ),
            _ => (Anchor::genesis(), 0),
        };
        outcome.players_checked += 1;
        let next = match chain::verify_player(db, player, &from, balance).await? {
            Chain::Verified {
                end,
                postings,
                money,
            } => {
                outcome.postings_checked += postings;
                let found = money_findings(db, player, &money).await?;
                if found.is_empty() {
                    checkpoint_row(&player.id, &end, None, Some(money.balance), now)
                } else {
                    // Under watch: walked from the start on every run until the money adds up.
                    let watch = chain::Break {
                        player_id: player.id.clone(),
                        entry_id: money
                            .first_wrong_balance
                            .or(money.unbalanced.first().map(|u| u.entry_id)),
                        reason: MONEY_WATCH.to_owned(),
                    };
                    if outcome.money.len() < MAX_FINDINGS_PER_CHECK {
                        outcome.money.extend(found);
                    } else {
                        outcome.money_truncated = true;
                    }
                    checkpoint_row(&player.id, &Anchor::genesis(), Some(&watch), None, now)
                }
            }
            Chain::Broken { found, postings } => {
                outcome.postings_checked += postings;
                let row = checkpoint_row(&player.id, &Anchor::genesis(), Some(&found), None, now);
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

/// The checkpoint's reason for a player whose chain verifies but whose money does not.
const MONEY_WATCH: &str = "the chain verifies but the money does not add up";

/// What the money on a walked stretch of a player's chain says: the balance against the
/// running sum of the entries (and the first entry whose `balance_after` strays from it),
/// and every posting whose two entries do not sum to zero.
async fn money_findings(
    db: &impl ConnectionTrait,
    player: &player::Model,
    money: &Tally,
) -> Result<Vec<Finding>, DbErr> {
    let mut found = Vec::new();
    if money.first_wrong_balance.is_some() || player.balance_minor != money.balance {
        found.push(Finding {
            kind: BALANCE_MISMATCH,
            severity: Severity::Critical,
            subject: Subject::Player(player.id.clone()),
            provider_id: None,
            details: json!({
                "balance_minor": player.balance_minor,
                "ledger_sum_minor": money.balance,
                "first_wrong_balance_entry_id": money.first_wrong_balance,
            }),
        });
    }
    if money.unbalanced.is_empty() {
        return Ok(found);
    }
    let ids = money.unbalanced.iter().map(|u| u.wallet_transaction_id);
    let transactions: HashMap<i64, wallet_transaction::Model> = wallet_transaction::Entity::find()
        .filter(wallet_transaction::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    for posting in &money.unbalanced {
        let id = posting.wallet_transaction_id;
        // The foreign key keeps the row; without it the finding still names the posting.
        let (scope, transaction_id) = transactions.get(&id).map_or_else(
            || (NO_SCOPE.to_owned(), id.to_string()),
            |t| (t.scope.clone(), t.transaction_id.clone()),
        );
        found.push(Finding {
            kind: UNBALANCED_TRANSACTION,
            severity: Severity::Critical,
            provider_id: Some(scope.clone()).filter(|s| !s.starts_with('@')),
            subject: Subject::Transaction(scope, transaction_id),
            details: json!({ "wallet_transaction_id": id, "entries_sum_minor": posting.sum,
                             "entries": 2, "player_entry_id": posting.entry_id }),
        });
    }
    Ok(found)
}

/// The scope of an unbalanced posting whose wallet transaction row is gone.
const NO_SCOPE: &str = "@missing";

/// Players who did not post since their checkpoint, whose balance is not the sum the
/// checkpoint keeps: a balance changed without a posting. One pass over the players
/// joined to their checkpoints by primary key.
async fn resting_balances(db: &impl ConnectionTrait) -> Result<Vec<Finding>, DbErr> {
    let rows = sql::query(
        db,
        "SELECT p.id AS player_id, p.balance_minor AS balance_minor, \
                c.balance_minor AS ledger_sum_minor \
         FROM players p JOIN trail_checkpoints c ON c.player_id = p.id \
         WHERE c.broken_reason IS NULL AND c.balance_minor IS NOT NULL \
           AND c.chain_hash = COALESCE(p.ledger_head, ?) \
           AND p.balance_minor <> c.balance_minor \
         ORDER BY p.id LIMIT ?",
        vec![
            chain::GENESIS.into(),
            i64::try_from(MAX_FINDINGS_PER_CHECK + 1)
                .unwrap_or(i64::MAX)
                .into(),
        ],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let balance = row.try_get::<i64>("", "balance_minor")?;
            let sum = row.try_get::<i64>("", "ledger_sum_minor")?;
            Ok(Finding {
                kind: BALANCE_MISMATCH,
                severity: Severity::Critical,
                subject: Subject::Player(row.try_get::<String>("", "player_id")?),
                provider_id: None,
                details: json!({ "balance_minor": balance, "ledger_sum_minor": sum }),
            })
        })
        .collect()
}

fn checkpoint_row(
    player_id: &str,
    at: &Anchor,
    broken: Option<&chain::Break>,
    balance: Option<i64>,
    now: DateTime<Utc>,
) -> checkpoint::Model {
    checkpoint::Model {
        player_id: player_id.to_owned(),
        entry_id: at.entry_id,
        chain_hash: at.link.clone(),
        broken_entry_id: broken.and_then(|b| b.entry_id),
        broken_reason: broken.map(|b| b.reason.clone()),
        balance_minor: balance,
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
        a.balance_minor,
    ) == (
        b.entry_id,
        &b.chain_hash,
        b.broken_entry_id,
        &b.broken_reason,
        b.balance_minor,
    )
}

fn finding(found: chain::Break) -> Finding {
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

/// Players an incremental pass walks: no checkpoint yet, a recorded break (or money under
/// watch), a checkpoint without its sum (written before the money was checked), a head that is
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
         WHERE c.player_id IS NULL OR c.broken_reason IS NOT NULL OR c.balance_minor IS NULL \
            OR c.chain_hash <> COALESCE(p.ledger_head, ?) \
            OR (c.entry_id > 0 AND (e.id IS NULL OR e.chain_hash IS NULL \
                                    OR e.chain_hash <> c.chain_hash))",
        vec![chain::GENESIS.into()],
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
            balance_minor: Set(row.balance_minor),
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
                        checkpoint::Column::BalanceMinor,
                        checkpoint::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
