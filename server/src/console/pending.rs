//! Pending rollbacks: open findings that need a person to refund or close something,
//! each with the bet it is about, oldest first and the biggest first among equals.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

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
    let mut all = Vec::new();
    for kind in PENDING_KINDS {
        for finding in open_of_kind(db, kind).await? {
            all.push(joined(db, finding, now).await?);
        }
    }
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
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(page.saturating_mul(PENDING_PAGE_SIZE) as usize)
        .take(PENDING_PAGE_SIZE as usize)
        .collect();
    Ok(PendingPage { items, page, total })
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

async fn joined(
    db: &impl ConnectionTrait,
    finding: discrepancy::Model,
    now: DateTime<Utc>,
) -> Result<PendingRollback, DbErr> {
    let parts: Vec<&str> = finding.subject_id.split('/').collect();
    let mut bet = None;
    let mut since = finding.first_seen_at;
    let mut player_id = None;
    match (finding.kind.as_str(), parts.as_slice()) {
        (PENDING_ROLLBACK, [scope, id]) => bet = by_key(db, scope, id).await?,
        (AMOUNT_HINT_MISMATCH, [scope, id]) => {
            if let Some(rollback) = by_key(db, scope, id).await? {
                player_id = Some(rollback.player_id.clone());
                if let Some(target) = &rollback.target_transaction_id {
                    bet = by_key(db, scope, target).await?;
                }
            }
        }
        (UNCLAIMED_TOMBSTONE, [provider, id]) => {
            let key = ((*provider).to_owned(), (*id).to_owned());
            if let Some(tomb) = tombstone::Entity::find_by_id(key).one(db).await? {
                since = tomb.created_at;
                player_id = Some(tomb.player_id);
            }
        }
        (STALE_ROUND, [provider, player, round_id]) => {
            let key = (
                (*provider).to_owned(),
                (*player).to_owned(),
                (*round_id).to_owned(),
            );
            if let Some(found) = round::Entity::find_by_id(key).one(db).await? {
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
    Ok(PendingRollback {
        player_id,
        amount_minor: bet.as_ref().and_then(|b| b.amount_minor),
        currency: bet.as_ref().and_then(|b| b.currency.clone()),
        age_seconds: (now - since).num_seconds().max(0),
        since,
        bet,
        discrepancy: finding,
    })
}

async fn by_key(
    db: &impl ConnectionTrait,
    scope: &str,
    id: &str,
) -> Result<Option<wtx::Model>, DbErr> {
    wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(scope))
        .filter(wtx::Column::TransactionId.eq(id))
        .one(db)
        .await
}
