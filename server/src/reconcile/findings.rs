//! Findings and how they are stored: upserted by (kind, subject), so a re-run refreshes
//! `last_seen_at` instead of adding a row, and resolved automatically once a run no longer
//! sees them.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};
use serde_json::Value;

use crate::db::entities::discrepancy;

/// Who resolves findings whose condition cleared by itself.
pub const AUTO_RESOLVER: &str = "reconciliation";
/// Rows per INSERT; keeps every statement under SQLite's parameter limit.
const UPSERT_CHUNK: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Money does not add up.
    Critical,
    /// Something needs a person (a refund, a round to close).
    Warning,
    /// Worth knowing, nothing to do.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "WARNING",
            Severity::Info => "INFO",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Player(String),
    /// (provider or scope, transaction id).
    Transaction(String, String),
    /// (provider, player, round).
    Round(String, String, String),
    /// (provider, report id).
    Report(String, String),
    /// A ledger account: a provider's clearing account per currency, which belongs to no
    /// single player, transaction or round.
    Account(String),
}

impl Subject {
    pub fn type_str(&self) -> &'static str {
        match self {
            Subject::Player(_) => "PLAYER",
            Subject::Transaction(..) => "TRANSACTION",
            Subject::Round(..) => "ROUND",
            Subject::Report(..) => "REPORT",
            Subject::Account(_) => "ACCOUNT",
        }
    }

    /// Parts joined with '/', which is outside the id alphabet: ids never collide.
    pub fn id(&self) -> String {
        match self {
            Subject::Player(id) | Subject::Account(id) => id.clone(),
            Subject::Transaction(scope, id) | Subject::Report(scope, id) => format!("{scope}/{id}"),
            Subject::Round(provider, player, round) => format!("{provider}/{player}/{round}"),
        }
    }
}

/// One finding of one check or statement.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: &'static str,
    pub severity: Severity,
    pub subject: Subject,
    pub provider_id: Option<String>,
    pub details: Value,
}

/// Inserts new findings as OPEN and refreshes `last_seen_at` and `details` of known ones,
/// keeping their status — except that a finding the job itself had resolved opens again.
/// Returns how many rows were new or reopened.
pub async fn upsert(
    txn: &DatabaseTransaction,
    findings: &[Finding],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut opened = 0;
    for chunk in findings.chunks(UPSERT_CHUNK) {
        opened += count_new(txn, chunk).await?;
        let mut insert = Query::insert();
        insert.into_table(discrepancy::Entity).columns([
            discrepancy::Column::Kind,
            discrepancy::Column::Severity,
            discrepancy::Column::SubjectType,
            discrepancy::Column::SubjectId,
            discrepancy::Column::ProviderId,
            discrepancy::Column::Details,
            discrepancy::Column::FirstSeenAt,
            discrepancy::Column::LastSeenAt,
            discrepancy::Column::Status,
        ]);
        for finding in chunk {
            insert.values_panic([
                finding.kind.into(),
                finding.severity.as_str().into(),
                finding.subject.type_str().into(),
                finding.subject.id().into(),
                finding.provider_id.clone().into(),
                finding.details.to_string().into(),
                now.into(),
                now.into(),
                "OPEN".into(),
            ]);
        }
        insert.on_conflict(on_conflict());
        txn.execute(txn.get_database_backend().build(&insert))
            .await?;
    }
    Ok(opened)
}

/// Known findings keep their status, unless the job had resolved them: then the
/// condition came back and the finding is open again.
fn on_conflict() -> OnConflict {
    let table = "discrepancies";
    let reopened =
        format!("{table}.status = 'RESOLVED' AND {table}.resolved_by = '{AUTO_RESOLVER}'");
    let keep_or = |column: &str, reopened_value: &str| {
        Expr::cust(format!(
            "CASE WHEN {reopened} THEN {reopened_value} ELSE {table}.{column} END"
        ))
    };
    OnConflict::columns([
        discrepancy::Column::Kind,
        discrepancy::Column::SubjectType,
        discrepancy::Column::SubjectId,
    ])
    .value(discrepancy::Column::Status, keep_or("status", "'OPEN'"))
    .value(
        discrepancy::Column::ResolvedBy,
        keep_or("resolved_by", "NULL"),
    )
    .value(
        discrepancy::Column::ResolvedAt,
        keep_or("resolved_at", "NULL"),
    )
    .value(
        discrepancy::Column::ResolutionNote,
        keep_or("resolution_note", "NULL"),
    )
    .update_columns([
        discrepancy::Column::LastSeenAt,
        discrepancy::Column::Details,
    ])
    .to_owned()
}

/// How many of these findings are not open or acknowledged already (new, or reopened).
async fn count_new(txn: &DatabaseTransaction, chunk: &[Finding]) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let mut known = 0;
    // Grouped by kind and type so each query is one IN list on the unique index.
    let mut groups: std::collections::BTreeMap<(&str, &str), Vec<String>> = Default::default();
    for finding in chunk {
        groups
            .entry((finding.kind, finding.subject.type_str()))
            .or_default()
            .push(finding.subject.id());
    }
    for ((kind, subject_type), ids) in groups {
        known += discrepancy::Entity::find()
            .filter(discrepancy::Column::Kind.eq(kind))
            .filter(discrepancy::Column::SubjectType.eq(subject_type))
            .filter(discrepancy::Column::SubjectId.is_in(ids))
            .filter(discrepancy::Column::Status.ne("RESOLVED"))
            .count(txn)
            .await?;
    }
    Ok(chunk.len() as u64 - known)
}

/// Resolves the open and acknowledged findings of `kind` that this run did not see
/// (their `last_seen_at` is older than the run), but for the subjects in `keep`, which the
/// run could not look at. Returns how many.
pub async fn resolve_cleared(
    txn: &DatabaseTransaction,
    kind: &str,
    keep: &[String],
    run_at: DateTime<Utc>,
    run_id: i64,
) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let result = discrepancy::Entity::update_many()
        .col_expr(discrepancy::Column::Status, Expr::value("RESOLVED"))
        .col_expr(discrepancy::Column::ResolvedBy, Expr::value(AUTO_RESOLVER))
        .col_expr(discrepancy::Column::ResolvedAt, Expr::value(run_at))
        .col_expr(
            discrepancy::Column::ResolutionNote,
            Expr::value(format!(
                "the condition cleared: reconciliation run {run_id} no longer found it"
            )),
        )
        .filter(discrepancy::Column::Kind.eq(kind))
        .filter(discrepancy::Column::Status.is_in(["OPEN", "ACKNOWLEDGED"]))
        .filter(discrepancy::Column::LastSeenAt.lt(run_at))
        .filter(discrepancy::Column::SubjectId.is_not_in(keep.iter().map(String::as_str)))
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}

/// Marks a rollback whose `amount_hint` differed from the bet, in the rollback's own
/// transaction, so the check reads an indexed flag instead of every stored answer. The
/// column is not in the entity on purpose: only this write and the check use it.
pub async fn flag_hint_mismatch(txn: &DatabaseTransaction, wallet_tx_id: i64) -> Result<(), DbErr> {
    let mut update = Query::update();
    update
        .table(sea_orm::sea_query::Alias::new("wallet_transactions"))
        .value(sea_orm::sea_query::Alias::new("amount_hint_mismatch"), true)
        .and_where(Expr::col(sea_orm::sea_query::Alias::new("id")).eq(wallet_tx_id));
    txn.execute(txn.get_database_backend().build(&update))
        .await?;
    Ok(())
}
