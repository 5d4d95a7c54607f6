//! Compares a provider's statement with the wallet's records and stores the answer, so a
//! re-upload of the same report id gets the same answer back. Every discrepancy is also a
//! discrepancy record for people to follow up.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};
use serde_json::{json, Value};

use super::findings::{self, Finding, Severity, Subject};
use super::statement::{ReportedOp, ReportedTransaction, Statement};
use crate::db::entities::{ledger_entry, provider_report, wallet_transaction as wtx};
use crate::db::Store;
use crate::domain::{CurrencyTable, ProviderId};
use crate::error::ServiceError;

/// Ids per IN list: well under every engine's parameter limit.
const LOOKUP_CHUNK: usize = 500;
/// Rows per page when walking the period for transactions the report lacks.
const PERIOD_PAGE: u64 = 5_000;
/// Discrepancies listed in one answer; past this the answer says it was cut short.
pub const MAX_DISCREPANCIES: usize = 100_000;

/// The stored answer to a statement, and whether it was stored earlier.
#[derive(Debug, Clone)]
pub struct ReportResult {
    /// `report_id`, `matched`, `discrepancies` (and `truncated`), as first answered.
    pub result: Value,
    pub replayed: bool,
}

/// What the wallet recorded for one transaction, as far as a statement cares.
struct Recorded {
    id: i64,
    op: String,
    player_id: String,
    state: String,
    amount_minor: Option<i64>,
    currency: Option<String>,
}

type RecordedRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
);

pub async fn reconcile_statement(
    store: &Store,
    currencies: &CurrencyTable,
    provider: &ProviderId,
    statement: Statement,
) -> Result<ReportResult, ServiceError> {
    let provider_id = provider.as_str();
    if let Some(stored) = stored(store.reader(), provider_id, statement.report_id.as_str()).await? {
        return Ok(stored);
    }
    let reader = store.reader();
    let recorded = recorded(reader, provider_id, &statement.transactions).await?;
    let refunds = refunds(reader, &recorded).await?;
    let mut discrepancies = Vec::new();
    let mut matched = 0i64;
    for row in &statement.transactions {
        let found = recorded.get(row.transaction_id.as_str());
        let before = discrepancies.len();
        compare(row, found, &refunds, currencies, &mut discrepancies);
        matched += i64::from(discrepancies.len() == before);
    }
    let reported: HashSet<&str> = statement
        .transactions
        .iter()
        .map(|r| r.transaction_id.as_str())
        .collect();
    missing_at_provider(
        reader,
        provider_id,
        &statement,
        &reported,
        currencies,
        &mut discrepancies,
    )
    .await?;
    let truncated = discrepancies.len() > MAX_DISCREPANCIES;
    discrepancies.truncate(MAX_DISCREPANCIES);
    let result = json!({
        "report_id": statement.report_id.as_str(),
        "matched": matched,
        "discrepancies": discrepancies,
        "truncated": truncated,
    });
    save(store, provider_id, &statement, matched, result).await
}

async fn stored(
    db: &impl ConnectionTrait,
    provider_id: &str,
    report_id: &str,
) -> Result<Option<ReportResult>, ServiceError> {
    let row = provider_report::Entity::find_by_id((provider_id.to_owned(), report_id.to_owned()))
        .one(db)
        .await?;
    Ok(row.map(|row| ReportResult {
        result: serde_json::from_str(&row.result).unwrap_or(Value::Null),
        replayed: true,
    }))
}

/// The wallet's records of the reported ids, looked up by the unique key in chunks.
async fn recorded(
    db: &impl ConnectionTrait,
    provider_id: &str,
    rows: &[ReportedTransaction],
) -> Result<HashMap<String, Recorded>, ServiceError> {
    let mut found = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(LOOKUP_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|r| r.transaction_id.as_str()).collect();
        let page: Vec<RecordedRow> = recorded_columns()
            .filter(wtx::Column::Scope.eq(provider_id))
            .filter(wtx::Column::TransactionId.is_in(ids))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(page.into_iter().map(into_recorded));
    }
    Ok(found)
}

fn recorded_columns() -> sea_orm::Select<wtx::Entity> {
    wtx::Entity::find().select_only().columns([
        wtx::Column::Id,
        wtx::Column::TransactionId,
        wtx::Column::Op,
        wtx::Column::PlayerId,
        wtx::Column::State,
        wtx::Column::AmountMinor,
        wtx::Column::Currency,
    ])
}

fn into_recorded(row: RecordedRow) -> (String, Recorded) {
    let (id, transaction_id, op, player_id, state, amount_minor, currency) = row;
    (
        transaction_id,
        Recorded {
            id,
            op,
            player_id,
            state,
            amount_minor,
            currency,
        },
    )
}

/// What each reported rollback refunded: the player's entry of that transaction.
async fn refunds(
    db: &impl ConnectionTrait,
    recorded: &HashMap<String, Recorded>,
) -> Result<HashMap<i64, i64>, ServiceError> {
    let ids: Vec<i64> = recorded
        .values()
        .filter(|r| r.op == "ROLLBACK")
        .map(|r| r.id)
        .collect();
    let mut refunds = HashMap::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let entries: Vec<(i64, i64)> = ledger_entry::Entity::find()
            .select_only()
            .columns([
                ledger_entry::Column::WalletTransactionId,
                ledger_entry::Column::AmountMinor,
            ])
            .filter(ledger_entry::Column::WalletTransactionId.is_in(chunk.to_vec()))
            .filter(ledger_entry::Column::Account.starts_with("player:"))
            .into_tuple()
            .all(db)
            .await?;
        for (id, amount) in entries {
            *refunds.entry(id).or_insert(0) += amount;
        }
    }
    Ok(refunds)
}

fn compare(
    row: &ReportedTransaction,
    found: Option<&Recorded>,
    refunds: &HashMap<i64, i64>,
    currencies: &CurrencyTable,
    out: &mut Vec<Value>,
) {
    let reported = reported_json(row);
    let Some(found) = found else {
        out.push(json!({ "kind": "MISSING_IN_WALLET", "transaction_id": row.transaction_id.as_str(), "op": row.op.as_str(), "reported": reported }));
        return;
    };
    let wallet_amount = match row.op {
        ReportedOp::Rollback => Some((
            refunds.get(&found.id).copied().unwrap_or(0),
            found.currency.clone(),
        )),
        _ => found.amount_minor.map(|a| (a, found.currency.clone())),
    };
    let wallet = json!({
        "op": found.op, "player_id": found.player_id, "state": found.state,
        "amount": wallet_amount.as_ref().and_then(|(minor, cur)| money_json(currencies, *minor, cur.as_deref())),
    });
    if let Some(amount) = &row.amount {
        let same = wallet_amount.as_ref().is_some_and(|(minor, cur)| {
            *minor == amount.minor.get()
                && cur.as_deref().is_none_or(|c| c == amount.currency.code())
        });
        if !same {
            out.push(json!({ "kind": "AMOUNT_MISMATCH", "transaction_id": row.transaction_id.as_str(), "op": row.op.as_str(), "reported": reported, "wallet": wallet }));
        }
    }
    let same_state = found.state == row.state
        && found.op == row.op.as_str()
        && found.player_id == row.player_id.as_str();
    if !same_state {
        out.push(json!({ "kind": "STATE_MISMATCH", "transaction_id": row.transaction_id.as_str(), "op": row.op.as_str(), "reported": reported, "wallet": wallet }));
    }
}

fn reported_json(row: &ReportedTransaction) -> Value {
    json!({
        "op": row.op.as_str(),
        "player_id": row.player_id.as_str(),
        "round_id": row.round_id.as_ref().map(|r| r.as_str()),
        "amount": row.amount.as_ref().map(|m| m.to_wire()),
        "state": row.state,
    })
}

fn money_json(currencies: &CurrencyTable, minor: i64, currency: Option<&str>) -> Option<Value> {
    let currency = currencies.currency(currency?).ok()?;
    let minor = crate::domain::MinorUnits::from_stored(minor.abs()).ok()?;
    Some(json!(crate::domain::Money::new(minor, currency).to_wire()))
}

/// Walks the provider's bets, wins and rollbacks committed in the period (keyset pages on
/// the (scope, created_at) index) and lists those the report lacks. Declined and voided
/// transactions moved no money and do not count.
async fn missing_at_provider(
    db: &impl ConnectionTrait,
    provider_id: &str,
    statement: &Statement,
    reported: &HashSet<&str>,
    currencies: &CurrencyTable,
    out: &mut Vec<Value>,
) -> Result<(), ServiceError> {
    let mut after_id = 0i64;
    loop {
        let page: Vec<RecordedRow> = recorded_columns()
            .filter(wtx::Column::Scope.eq(provider_id))
            .filter(wtx::Column::CreatedAt.gte(statement.period_start))
            .filter(wtx::Column::CreatedAt.lt(statement.period_end))
            .filter(wtx::Column::Op.is_in(["BET", "WIN", "ROLLBACK"]))
            .filter(wtx::Column::State.is_not_in(["DECLINED", "VOIDED_BY_PRIOR_ROLLBACK"]))
            .filter(wtx::Column::Id.gt(after_id))
            .order_by_asc(wtx::Column::Id)
            .limit(PERIOD_PAGE)
            .into_tuple()
            .all(db)
            .await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after_id = last.0;
        for (transaction_id, found) in page.into_iter().map(into_recorded) {
            if reported.contains(transaction_id.as_str()) {
                continue;
            }
            if out.len() > MAX_DISCREPANCIES {
                return Ok(());
            }
            let amount = found
                .amount_minor
                .and_then(|minor| money_json(currencies, minor, found.currency.as_deref()));
            out.push(json!({ "kind": "MISSING_AT_PROVIDER", "transaction_id": transaction_id, "op": found.op,
                             "wallet": { "op": found.op, "player_id": found.player_id, "state": found.state, "amount": amount } }));
        }
    }
}

/// Stores the report and its discrepancy records in one unit of work. If the same report
/// id was stored meanwhile (a concurrent upload), that answer wins and is returned.
async fn save(
    store: &Store,
    provider_id: &str,
    statement: &Statement,
    matched: i64,
    result: Value,
) -> Result<ReportResult, ServiceError> {
    let now = Utc::now();
    let report = provider_report::ActiveModel {
        provider_id: Set(provider_id.to_owned()),
        report_id: Set(statement.report_id.as_str().to_owned()),
        period_start: Set(statement.period_start),
        period_end: Set(statement.period_end),
        uploaded_at: Set(now),
        rows: Set(statement.transactions.len() as i64),
        matched: Set(matched),
        result: Set(result.to_string()),
    };
    let records = Arc::new(as_findings(
        provider_id,
        statement.report_id.as_str(),
        &result,
    ));
    let provider_id = provider_id.to_owned();
    let report_id = statement.report_id.as_str().to_owned();
    let result = Arc::new(result);
    store
        .write(Box::new(move |txn| {
            let (report, records, result) =
                (report.clone(), Arc::clone(&records), Arc::clone(&result));
            let (provider_id, report_id) = (provider_id.clone(), report_id.clone());
            Box::pin(async move {
                let inserted = provider_report::Entity::insert(report)
                    .on_conflict(
                        OnConflict::columns([
                            provider_report::Column::ProviderId,
                            provider_report::Column::ReportId,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .do_nothing()
                    .exec_without_returning(txn)
                    .await;
                let fresh = match inserted {
                    Ok(TryInsertResult::Inserted(n)) => n > 0,
                    Ok(_) => false,
                    Err(error) => return Err(error.into()),
                };
                if !fresh {
                    return stored(txn, &provider_id, &report_id)
                        .await?
                        .ok_or(ServiceError::InProgress);
                }
                findings::upsert(txn, &records, now).await?;
                Ok(ReportResult {
                    result: (*result).clone(),
                    replayed: false,
                })
            })
        }))
        .await
}

/// Each discrepancy as a record: subject the transaction, details the report's view and
/// the wallet's.
fn as_findings(provider_id: &str, report_id: &str, result: &Value) -> Vec<Finding> {
    let Some(list) = result["discrepancies"].as_array() else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    list.iter()
        .filter_map(|d| {
            let kind = match d["kind"].as_str()? {
                "MISSING_IN_WALLET" => "MISSING_IN_WALLET",
                "MISSING_AT_PROVIDER" => "MISSING_AT_PROVIDER",
                "AMOUNT_MISMATCH" => "AMOUNT_MISMATCH",
                _ => "STATE_MISMATCH",
            };
            let transaction_id = d["transaction_id"].as_str()?.to_owned();
            // One record per kind and subject, even if a statement repeats itself.
            if !seen.insert((kind, transaction_id.clone())) {
                return None;
            }
            let severity = if kind == "STATE_MISMATCH" {
                Severity::Warning
            } else {
                Severity::Critical
            };
            let mut details = d.clone();
            details["report_id"] = json!(report_id);
            Some(Finding {
                kind,
                severity,
                subject: Subject::Transaction(provider_id.to_owned(), transaction_id),
                provider_id: Some(provider_id.to_owned()),
                details,
            })
        })
        .collect()
}
