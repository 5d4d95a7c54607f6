//! The rows of the findings, audit and pending-rollback exports as CSV lines. Amounts
//! come twice, as a decimal in their currency's scale and in minor units, so a
//! spreadsheet can sum either without knowing the scales.
use std::collections::HashMap;

use app::model::AuditFilter;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, QuerySelect};

use super::findings::{details_text, finding_amounts, Amount};
use super::lists::audit_select;
use super::{all_pending, csv_line, transactions_by_key, ExportChunk};
use crate::db::entities::{discrepancy, staff_audit, wallet_transaction as wtx};
use crate::domain::CurrencyTable;
use crate::idempotency::format_time;
use crate::reconcile::discrepancies::{self, Filter};

pub const FINDINGS_HEADER: [&str; 20] = [
    "finding_id",
    "kind",
    "severity",
    "status",
    "subject_type",
    "subject_id",
    "provider_id",
    "reported_amount",
    "reported_amount_minor",
    "reported_currency",
    "wallet_amount",
    "wallet_amount_minor",
    "wallet_currency",
    "details",
    "first_seen_at",
    "last_seen_at",
    "acknowledged_by",
    "resolved_by",
    "resolved_at",
    "resolution_note",
];

pub const AUDIT_HEADER: [&str; 11] = [
    "audit_id",
    "at",
    "actor",
    "action",
    "subject_type",
    "subject_id",
    "reason",
    "amount",
    "amount_minor",
    "currency",
    "details",
];

pub const PENDING_HEADER: [&str; 14] = [
    "finding_id",
    "kind",
    "status",
    "player_id",
    "provider_id",
    "transaction_id",
    "round_id",
    "amount",
    "amount_minor",
    "currency",
    "since",
    "age_seconds",
    "subject_id",
    "details",
];

/// The reconciliation page's filter; empty means any.
#[derive(Debug, Clone)]
pub struct FindingsFilter {
    kind: Option<String>,
    status: Option<String>,
}

impl FindingsFilter {
    pub fn new(kind: &str, status: &str) -> Self {
        let some = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
        FindingsFilter {
            kind: some(kind),
            status: some(status),
        }
    }
}

/// Findings older than `before`, newest first, through the findings list's own paging.
pub async fn findings_chunk(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    filter: &FindingsFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<ExportChunk, DbErr> {
    let page = discrepancies::list(
        db,
        &Filter {
            kind: filter.kind.clone(),
            status: filter.status.clone(),
            before_id: before,
            limit: limit.min(discrepancies::MAX_PAGE),
        },
    )
    .await?;
    Ok(ExportChunk {
        lines: page
            .items
            .iter()
            .map(|finding| finding_line(currencies, finding))
            .collect(),
        next_before: page.next_before_id,
    })
}

fn finding_line(currencies: &CurrencyTable, finding: &discrepancy::Model) -> String {
    let amounts = finding_amounts(currencies, &finding.kind, &finding.details);
    let optional = |value: &Option<String>| value.clone().unwrap_or_default();
    let mut cells = vec![
        finding.id.to_string(),
        finding.kind.clone(),
        finding.severity.clone(),
        finding.status.clone(),
        finding.subject_type.clone(),
        finding.subject_id.clone(),
        optional(&finding.provider_id),
    ];
    cells.extend(amount_cells(amounts.reported.as_ref()));
    cells.extend(amount_cells(amounts.wallet.as_ref()));
    cells.extend([
        details_text(&finding.details),
        format_time(finding.first_seen_at),
        format_time(finding.last_seen_at),
        optional(&finding.acknowledged_by),
        optional(&finding.resolved_by),
        finding.resolved_at.map(format_time).unwrap_or_default(),
        optional(&finding.resolution_note),
    ]);
    csv_line(&cells)
}

/// Audit entries older than `before`, newest first, filtered as the audit page filters.
/// An entry about a transaction (a refund names the bet it reversed) carries that
/// transaction's amount.
pub async fn audit_chunk(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<ExportChunk, DbErr> {
    let mut select = audit_select(filter);
    if let Some(before) = before {
        select = select.filter(staff_audit::Column::Id.lt(before));
    }
    let entries = select
        .order_by_desc(staff_audit::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let keys: Vec<(String, String)> = entries.iter().filter_map(transaction_subject).collect();
    let transactions = transactions_by_key(db, &keys).await?;
    let next_before = if entries.len() as u64 == limit {
        entries.last().map(|entry| entry.id)
    } else {
        None
    };
    Ok(ExportChunk {
        lines: entries
            .iter()
            .map(|entry| audit_line(currencies, entry, &transactions))
            .collect(),
        next_before,
    })
}

/// `(scope, transaction id)` of an entry whose subject is a transaction (`<scope>/<id>`).
fn transaction_subject(entry: &staff_audit::Model) -> Option<(String, String)> {
    if entry.subject_type != "TRANSACTION" {
        return None;
    }
    let (scope, id) = entry.subject_id.split_once('/')?;
    Some((scope.to_owned(), id.to_owned()))
}

fn audit_line(
    currencies: &CurrencyTable,
    entry: &staff_audit::Model,
    transactions: &HashMap<(String, String), wtx::Model>,
) -> String {
    let amount = transaction_subject(entry)
        .and_then(|key| transactions.get(&key))
        .and_then(|found| transaction_amount(currencies, found));
    let mut cells = vec![
        entry.id.to_string(),
        format_time(entry.at),
        entry.actor.clone(),
        entry.action.clone(),
        entry.subject_type.clone(),
        entry.subject_id.clone(),
        entry.reason.clone(),
    ];
    cells.extend(amount_cells(amount.as_ref()));
    cells.push(entry.details.clone());
    csv_line(&cells)
}

/// Every pending rollback, oldest first, as the page lists them.
pub async fn pending_lines(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    now: DateTime<Utc>,
) -> Result<ExportChunk, DbErr> {
    let lines = all_pending(db, now)
        .await?
        .iter()
        .map(|item| {
            let bet = item.bet.as_ref();
            let amount = item
                .amount_minor
                .zip(item.currency.as_deref())
                .map(|(minor, currency)| amount_of(currencies, minor, currency));
            let finding = &item.discrepancy;
            let mut cells = vec![
                finding.id.to_string(),
                finding.kind.clone(),
                finding.status.clone(),
                item.player_id.clone().unwrap_or_default(),
                finding.provider_id.clone().unwrap_or_default(),
                bet.map(|bet| bet.transaction_id.clone())
                    .unwrap_or_default(),
                bet.and_then(|bet| bet.round_id.clone()).unwrap_or_default(),
            ];
            cells.extend(amount_cells(amount.as_ref()));
            cells.extend([
                format_time(item.since),
                item.age_seconds.to_string(),
                finding.subject_id.clone(),
                details_text(&finding.details),
            ]);
            csv_line(&cells)
        })
        .collect();
    Ok(ExportChunk {
        lines,
        next_before: None,
    })
}

fn transaction_amount(currencies: &CurrencyTable, found: &wtx::Model) -> Option<Amount> {
    let minor = found.amount_minor?;
    Some(amount_of(currencies, minor, found.currency.as_deref()?))
}

/// An unknown currency keeps scale 0, as the console shows it (`amounts::money_text`).
fn amount_of(currencies: &CurrencyTable, minor: i64, currency: &str) -> Amount {
    Amount {
        minor,
        scale: currencies
            .currency(currency)
            .map(|c| c.scale())
            .unwrap_or(0),
        currency: currency.to_owned(),
    }
}

/// The decimal, the minor units and the currency; empty cells without an amount.
fn amount_cells(amount: Option<&Amount>) -> [String; 3] {
    match amount {
        Some(amount) => [
            amount.decimal(),
            amount.minor.to_string(),
            amount.currency.clone(),
        ],
        None => Default::default(),
    }
}
