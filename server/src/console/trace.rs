//! The trace of one transaction: everything the wallet knows about it, for a dispute.
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::db::entities::{
    attempt, ledger_entry, round, staff_audit, tombstone, wallet_transaction as wtx,
};
use crate::domain::{CurrencyTable, MinorUnits, Money};

/// An id that matches more transactions than this (one per provider) is shown cut short.
const MAX_MATCHES: u64 = 20;
/// Bounds on what one trace lists; a key retried more often than this is an incident.
const MAX_ATTEMPTS: u64 = 1000;
const MAX_ROUND_TRANSACTIONS: u64 = 1000;
const MAX_RELATED: u64 = 100;
const MAX_AUDIT: u64 = 100;

/// What a query found: the matching transactions, each traced, and the attempts of a
/// request id that reached no transaction (a bad signature, a malformed body).
#[derive(Debug, Clone)]
pub struct Trace {
    pub transactions: Vec<TransactionTrace>,
    pub unmatched_attempts: Vec<attempt::Model>,
}

#[derive(Debug, Clone)]
pub struct TransactionTrace {
    /// The row with its current state and the first request and response.
    pub transaction: wtx::Model,
    /// The amount in the wire shape, when the transaction has one.
    pub amount: Option<Value>,
    /// Every attempt for the key, oldest first.
    pub attempts: Vec<attempt::Model>,
    pub ledger: Vec<LedgerLine>,
    pub round: Option<RoundTrace>,
    /// The bet a rollback or win names.
    pub target: Option<wtx::Model>,
    /// Rollbacks and wins that name this transaction.
    pub related: Vec<wtx::Model>,
    pub tombstone: Option<tombstone::Model>,
    pub audit: Vec<staff_audit::Model>,
}

/// A ledger entry; on the player's entry, the balance before and after it.
#[derive(Debug, Clone)]
pub struct LedgerLine {
    pub entry: ledger_entry::Model,
    pub balance_before_minor: Option<i64>,
    pub balance_after_minor: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct RoundTrace {
    pub round: round::Model,
    /// Every transaction of the round, this one included, in commit order.
    pub transactions: Vec<wtx::Model>,
}

/// Traces a transaction id (of any provider) or a request id (of an attempt or of a
/// transaction's first request). `None` when nothing matches.
pub async fn trace(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    query: &str,
) -> Result<Option<Trace>, DbErr> {
    let query = query.trim();
    if query.is_empty() {
        return Ok(None);
    }
    let (rows, unmatched_attempts) = matches(db, query).await?;
    if rows.is_empty() && unmatched_attempts.is_empty() {
        return Ok(None);
    }
    let mut transactions = Vec::with_capacity(rows.len());
    for row in rows {
        transactions.push(one(db, currencies, row).await?);
    }
    Ok(Some(Trace {
        transactions,
        unmatched_attempts,
    }))
}

/// The transactions the query names, and request-id attempts without a transaction.
async fn matches(
    db: &impl ConnectionTrait,
    query: &str,
) -> Result<(Vec<wtx::Model>, Vec<attempt::Model>), DbErr> {
    let by_id = wtx::Entity::find()
        .filter(wtx::Column::Scope.is_in(super::key_scopes(db).await?))
        .filter(wtx::Column::TransactionId.eq(query))
        .order_by_asc(wtx::Column::Id)
        .limit(MAX_MATCHES)
        .all(db)
        .await?;
    if !by_id.is_empty() {
        return Ok((by_id, Vec::new()));
    }
    let first_request = wtx::Entity::find()
        .filter(wtx::Column::RequestId.eq(query))
        .order_by_asc(wtx::Column::Id)
        .limit(MAX_MATCHES)
        .all(db)
        .await?;
    if !first_request.is_empty() {
        return Ok((first_request, Vec::new()));
    }
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::RequestId.eq(query))
        .order_by_asc(attempt::Column::Id)
        .limit(MAX_MATCHES)
        .all(db)
        .await?;
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for attempt in attempts {
        let row = match (&attempt.provider_id, &attempt.transaction_id) {
            (Some(provider), Some(id)) => by_key(db, provider, id).await?,
            _ => None,
        };
        match row {
            Some(row) if !rows.iter().any(|r: &wtx::Model| r.id == row.id) => rows.push(row),
            Some(_) => {}
            None => unmatched.push(attempt),
        }
    }
    Ok((rows, unmatched))
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

async fn one(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    row: wtx::Model,
) -> Result<TransactionTrace, DbErr> {
    let scope = row.scope.as_str();
    let id = row.transaction_id.as_str();
    // Sorted here, not in SQL: an ORDER BY id would tempt the planner into walking the
    // provider's (provider_id, id) feed index instead of looking the key up.
    let mut attempts = attempt::Entity::find()
        .filter(attempt::Column::ProviderId.eq(scope))
        .filter(attempt::Column::TransactionId.eq(id))
        .limit(MAX_ATTEMPTS)
        .all(db)
        .await?;
    attempts.sort_by_key(|a| a.id);
    let target = match &row.target_transaction_id {
        Some(target) => by_key(db, scope, target).await?,
        None => None,
    };
    // The scope is checked here, not in SQL: given both, SQLite's statistics prefer the
    // scope's (huge) prefix of the unique key to the target index.
    let mut related = wtx::Entity::find()
        .filter(wtx::Column::TargetTransactionId.eq(id))
        .limit(MAX_RELATED)
        .all(db)
        .await?;
    related.retain(|r| r.scope == scope);
    related.sort_by_key(|r| r.id);
    let tombstone = tombstone::Entity::find_by_id((scope.to_owned(), id.to_owned()))
        .one(db)
        .await?;
    // Operator refunds are audited against the bet they refund.
    let audit = staff_audit::Entity::find()
        .filter(staff_audit::Column::SubjectType.eq("TRANSACTION"))
        .filter(staff_audit::Column::SubjectId.eq(format!("{scope}/{id}")))
        .order_by_asc(staff_audit::Column::Id)
        .limit(MAX_AUDIT)
        .all(db)
        .await?;
    Ok(TransactionTrace {
        amount: amount(currencies, &row),
        attempts,
        ledger: ledger(db, &row).await?,
        round: round_of(db, &row).await?,
        target,
        related,
        tombstone,
        audit,
        transaction: row,
    })
}

fn amount(currencies: &CurrencyTable, row: &wtx::Model) -> Option<Value> {
    let currency = currencies.currency(row.currency.as_deref()?).ok()?;
    let minor = MinorUnits::from_stored(row.amount_minor?).ok()?;
    serde_json::to_value(Money::new(minor, currency).to_wire()).ok()
}

async fn ledger(db: &impl ConnectionTrait, row: &wtx::Model) -> Result<Vec<LedgerLine>, DbErr> {
    let entries = ledger_entry::Entity::find()
        .filter(ledger_entry::Column::WalletTransactionId.eq(row.id))
        .order_by_asc(ledger_entry::Column::Id)
        .all(db)
        .await?;
    Ok(entries
        .into_iter()
        .map(|entry| {
            let after = entry.balance_after_minor;
            LedgerLine {
                balance_before_minor: after.map(|after| after - entry.amount_minor),
                balance_after_minor: after,
                entry,
            }
        })
        .collect())
}

async fn round_of(
    db: &impl ConnectionTrait,
    row: &wtx::Model,
) -> Result<Option<RoundTrace>, DbErr> {
    let Some(round_id) = &row.round_id else {
        return Ok(None);
    };
    let key = (row.scope.clone(), row.player_id.clone(), round_id.clone());
    let Some(round) = round::Entity::find_by_id(key).one(db).await? else {
        return Ok(None);
    };
    let transactions = wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(row.scope.as_str()))
        .filter(wtx::Column::PlayerId.eq(row.player_id.as_str()))
        .filter(wtx::Column::RoundId.eq(round_id.as_str()))
        .order_by_asc(wtx::Column::Id)
        .limit(MAX_ROUND_TRANSACTIONS)
        .all(db)
        .await?;
    Ok(Some(RoundTrace {
        round,
        transactions,
    }))
}
