//! Pending rollbacks: open findings that need a person to refund or close something,
//! each with the bet it is about, oldest first and the biggest first among equals.
//!
//! The things the findings are about are read in batches (one `IN` list per few hundred
//! findings and table), not one query per finding: a backlog of hundreds stays cheap.
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::db::entities::{discrepancy, round, tombstone, wallet_transaction as wtx};
use crate::reconcile::discrepancies::{self, Filter};
use crate::reconcile::{AMOUNT_HINT_MISMATCH, PENDING_ROLLBACK, STALE_ROUND, UNCLAIMED_TOMBSTONE};

/// The kinds the page lists.
pub const PENDING_KINDS: [&str; 4] = [
    PENDING_ROLLBACK,
    UNCLAIMED_TOMBSTONE,
    STALE_ROUND,
    AMOUNT_HINT_MISMATCH,
];
pub const PENDING_PAGE_SIZE: u64 = 50;
/// Open findings of these kinds are sorted in memory; more than this per kind is an
/// incident (the reconciliation job caps its findings the same way).
const MAX_OPEN_PER_KIND: usize = 10_000;
/// Ids per `IN` list when reading what the findings are about.
const LOOKUP_CHUNK: usize = 500;

#[derive(Debug, Clone)]
pub struct PendingRollback {
    pub discrepancy: discrepancy::Model,
    /// The bet the finding is about: the orphan debit, or the target of a rollback whose
    /// hint differed. None for tombstones and stale rounds.
    pub bet: Option<wtx::Model>,
    pub player_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    /// When the thing began: the bet, the tombstone, or the round's opening.
    pub since: DateTime<Utc>,
    pub age_seconds: i64,
}

#[derive(Debug, Clone)]
pub struct PendingPage {
    pub items: Vec<PendingRollback>,
    /// Zero-based.
    pub page: u64,
    pub total: u64,
}

pub async fn pending_rollbacks(
    db: &impl ConnectionTrait,
    page: u64,
    now: DateTime<Utc>,
) -> Result<PendingPage, DbErr> {
    let all = all_pending(db, now).await?;
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(page.saturating_mul(PENDING_PAGE_SIZE) as usize)
        .take(PENDING_PAGE_SIZE as usize)
        .collect();
    Ok(PendingPage { items, page, total })
}

/// Every pending rollback, in the page's order: what the CSV export writes.
pub async fn all_pending(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<PendingRollback>, DbErr> {
    let mut findings = Vec::new();
    for kind in PENDING_KINDS {
        findings.extend(open_of_kind(db, kind).await?);
    }
    let subjects = Subjects::load(db, &findings).await?;
    let mut all: Vec<PendingRollback> = findings
        .into_iter()
        .map(|finding| subjects.join(finding, now))
        .collect();
    all.sort_by(|a, b| {
        a.since
            .cmp(&b.since)
            .then(
                b.amount_minor
                    .unwrap_or(0)
                    .cmp(&a.amount_minor.unwrap_or(0)),
            )
            .then(a.discrepancy.id.cmp(&b.discrepancy.id))
    });
    Ok(all)
}

/// Every OPEN finding of one kind, through the discrepancy list's own paging.
async fn open_of_kind(
    db: &impl ConnectionTrait,
    kind: &str,
) -> Result<Vec<discrepancy::Model>, DbErr> {
    let mut filter = Filter {
        kind: Some(kind.to_owned()),
        status: Some("OPEN".to_owned()),
        before_id: None,
        limit: discrepancies::MAX_PAGE,
    };
    let mut found = Vec::new();
    loop {
        let page = discrepancies::list(db, &filter).await?;
        found.extend(page.items);
        match page.next_before_id {
            Some(before) if found.len() < MAX_OPEN_PER_KIND => filter.before_id = Some(before),
            _ => return Ok(found),
        }
    }
}

/// What the findings are about, read in batches.
struct Subjects {
    /// By (scope, transaction id): orphan bets, hint-mismatch rollbacks and their bets.
    transactions: HashMap<(String, String), wtx::Model>,
    /// By (provider, transaction id).
    tombstones: HashMap<(String, String), tombstone::Model>,
    /// By (provider, player, round).
    rounds: HashMap<(String, String, String), round::Model>,
}

/// A finding's subject id split at '/' (which ids cannot contain).
fn parts(finding: &discrepancy::Model) -> Vec<&str> {
    finding.subject_id.split('/').collect()
}

impl Subjects {
    async fn load(
        db: &impl ConnectionTrait,
        findings: &[discrepancy::Model],
    ) -> Result<Self, DbErr> {
        let mut keys = Vec::new();
        let mut tomb_keys = Vec::new();
        let mut round_keys = Vec::new();
        for finding in findings {
            match (finding.kind.as_str(), parts(finding).as_slice()) {
                (PENDING_ROLLBACK | AMOUNT_HINT_MISMATCH, [scope, id]) => {
                    keys.push(((*scope).to_owned(), (*id).to_owned()));
                }
                (UNCLAIMED_TOMBSTONE, [provider, id]) => {
                    tomb_keys.push(((*provider).to_owned(), (*id).to_owned()));
                }
                (STALE_ROUND, [provider, player, round_id]) => round_keys.push((
                    (*provider).to_owned(),
                    (*player).to_owned(),
                    (*round_id).to_owned(),
                )),
                _ => {}
            }
        }
        let mut subjects = Subjects {
            transactions: transactions_by_key(db, &keys).await?,
            tombstones: tombstones(db, &tomb_keys).await?,
            rounds: rounds(db, &round_keys).await?,
        };
        // The bets that hint-mismatch rollbacks name, in a second round.
        let targets: Vec<(String, String)> = subjects
            .transactions
            .values()
            .filter(|t| t.op == "ROLLBACK")
            .filter_map(|t| Some((t.scope.clone(), t.target_transaction_id.clone()?)))
            .collect();
        subjects
            .transactions
            .extend(transactions_by_key(db, &targets).await?);
        Ok(subjects)
    }

    fn transaction(&self, scope: &str, id: &str) -> Option<&wtx::Model> {
        self.transactions.get(&(scope.to_owned(), id.to_owned()))
    }

    fn join(&self, finding: discrepancy::Model, now: DateTime<Utc>) -> PendingRollback {
        let mut bet = None;
        let mut since = finding.first_seen_at;
        let mut player_id = None;
        match (finding.kind.as_str(), parts(&finding).as_slice()) {
            (PENDING_ROLLBACK, [scope, id]) => bet = self.transaction(scope, id).cloned(),
            (AMOUNT_HINT_MISMATCH, [scope, id]) => {
                if let Some(rollback) = self.transaction(scope, id) {
                    player_id = Some(rollback.player_id.clone());
                    if let Some(target) = &rollback.target_transaction_id {
                        bet = self.transaction(scope, target).cloned();
                    }
                }
            }
            (UNCLAIMED_TOMBSTONE, [provider, id]) => {
                let key = ((*provider).to_owned(), (*id).to_owned());
                if let Some(tomb) = self.tombstones.get(&key) {
                    since = tomb.created_at;
                    player_id = Some(tomb.player_id.clone());
                }
            }
            (STALE_ROUND, [provider, player, round_id]) => {
                let key = (
                    (*provider).to_owned(),
                    (*player).to_owned(),
                    (*round_id).to_owned(),
                );
                if let Some(found) = self.rounds.get(&key) {
                    since = found.opened_at;
                }
                player_id = Some((*player).to_owned());
            }
            _ => {}
        }
        if let Some(bet) = &bet {
            since = bet.created_at;
            player_id = Some(bet.player_id.clone());
        }
        PendingRollback {
            player_id,
            amount_minor: bet.as_ref().and_then(|b| b.amount_minor),
            currency: bet.as_ref().and_then(|b| b.currency.clone()),
            age_seconds: (now - since).num_seconds().max(0),
            since,
            bet,
            discrepancy: finding,
        }
    }
}

/// Transactions by (scope, id): an `IN` list on the transaction id index, the scope
/// matched here.
pub async fn transactions_by_key(
    db: &impl ConnectionTrait,
    keys: &[(String, String)],
) -> Result<HashMap<(String, String), wtx::Model>, DbErr> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        let wanted: BTreeSet<&(String, String)> = chunk.iter().collect();
        let ids = chunk.iter().map(|(_, id)| id.as_str());
        for row in wtx::Entity::find()
            .filter(wtx::Column::TransactionId.is_in(ids))
            .all(db)
            .await?
        {
            let key = (row.scope.clone(), row.transaction_id.clone());
            if wanted.contains(&key) {
                found.insert(key, row);
            }
        }
    }
    Ok(found)
}

async fn tombstones(
    db: &impl ConnectionTrait,
    keys: &[(String, String)],
) -> Result<HashMap<(String, String), tombstone::Model>, DbErr> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        // One primary-key lookup per key, OR-ed: both engines answer it from the index.
        let keys = chunk.iter().fold(Condition::any(), |any, (provider, id)| {
            any.add(
                tombstone::Column::ProviderId
                    .eq(provider.as_str())
                    .and(tombstone::Column::TransactionId.eq(id.as_str())),
            )
        });
        for row in tombstone::Entity::find().filter(keys).all(db).await? {
            found.insert((row.provider_id.clone(), row.transaction_id.clone()), row);
        }
    }
    Ok(found)
}

async fn rounds(
    db: &impl ConnectionTrait,
    keys: &[(String, String, String)],
) -> Result<HashMap<(String, String, String), round::Model>, DbErr> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        // One primary-key lookup per key, OR-ed: both engines answer it from the index
        // (three IN lists let PostgreSQL scan every round of the players instead).
        let keys = chunk
            .iter()
            .fold(Condition::any(), |any, (provider, player, round_id)| {
                any.add(
                    round::Column::ProviderId
                        .eq(provider.as_str())
                        .and(round::Column::PlayerId.eq(player.as_str()))
                        .and(round::Column::RoundId.eq(round_id.as_str())),
                )
            });
        for row in round::Entity::find().filter(keys).all(db).await? {
            let key = (
                row.provider_id.clone(),
                row.player_id.clone(),
                row.round_id.clone(),
            );
            found.insert(key, row);
        }
    }
    Ok(found)
}
