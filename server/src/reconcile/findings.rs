//! Findings and how they are stored: upserted by (kind, subject), so a re-run refreshes
//! `last_seen_at` instead of adding a row, and resolved automatically once a run no longer
//! sees them.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};
use serde_json::Value;

use crate::db::entities::discrepancy;
use crate::events::outbox;

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
/// Each new or reopened finding is a `finding.opened` event, in the same transaction.
/// Returns how many rows were new or reopened.
pub async fn upsert(
    txn: &DatabaseTransaction,
    findings: &[Finding],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut opened = 0;
    for chunk in findings.chunks(UPSERT_CHUNK) {
        let known = known_open(txn, chunk).await?;
        let new: Vec<&Finding> = chunk
            .iter()
            .filter(|finding| !known.contains(&key_of(finding)))
            .collect();
        opened += new.len() as u64;
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
        let events = rows_of(txn, &new)
            .await?
            .iter()
            .map(|row| outbox::finding_event(crate::events::FINDING_OPENED, row))
            .collect();
        outbox::record_findings(txn, events, now).await?;
    }
    Ok(opened)
}

/// `(kind, subject type, subject id)`: what makes a finding unique.
type FindingKey = (String, &'static str, String);

fn key_of(finding: &Finding) -> FindingKey {
    (
        finding.kind.to_owned(),
        finding.subject.type_str(),
        finding.subject.id(),
    )
}

/// Groups findings by kind and subject type, so each query is one IN list on the unique
/// index.
fn grouped<'a>(
    findings: impl IntoIterator<Item = &'a Finding>,
) -> std::collections::BTreeMap<(&'static str, &'static str), Vec<String>> {
    let mut groups: std::collections::BTreeMap<(&str, &str), Vec<String>> = Default::default();
    for finding in findings {
        groups
            .entry((finding.kind, finding.subject.type_str()))
            .or_default()
            .push(finding.subject.id());
    }
    groups
}

/// The rows of these findings as they are now.
async fn rows_of(
    txn: &DatabaseTransaction,
    findings: &[&Finding],
) -> Result<Vec<discrepancy::Model>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut rows = Vec::new();
    for ((kind, subject_type), ids) in grouped(findings.iter().copied()) {
        rows.extend(
            discrepancy::Entity::find()
                .filter(discrepancy::Column::Kind.eq(kind))
                .filter(discrepancy::Column::SubjectType.eq(subject_type))
                .filter(discrepancy::Column::SubjectId.is_in(ids))
                .all(txn)
                .await?,
        );
    }
    Ok(rows)
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

/// Which of these findings are open or acknowledged already (the others are new, or
/// open again).
async fn known_open(
    txn: &DatabaseTransaction,
    chunk: &[Finding],
) -> Result<std::collections::HashSet<FindingKey>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let mut known = std::collections::HashSet::new();
    for ((kind, subject_type), ids) in grouped(chunk) {
        let open: Vec<String> = discrepancy::Entity::find()
            .select_only()
            .column(discrepancy::Column::SubjectId)
            .filter(discrepancy::Column::Kind.eq(kind))
            .filter(discrepancy::Column::SubjectType.eq(subject_type))
            .filter(discrepancy::Column::SubjectId.is_in(ids))
            .filter(discrepancy::Column::Status.ne("RESOLVED"))
            .into_tuple()
            .all(txn)
            .await?;
        known.extend(
            open.into_iter()
                .map(|id| (kind.to_owned(), subject_type, id)),
        );
    }
    Ok(known)
}

/// Resolves the open and acknowledged findings of `kind` that this run did not see
/// (their `last_seen_at` is older than the run), but for the subjects in `keep`, which the
/// run could not look at. Each is a `finding.resolved` event. Returns how many.
pub async fn resolve_cleared(
    txn: &DatabaseTransaction,
    kind: &str,
    keep: &[String],
    run_at: DateTime<Utc>,
    run_id: i64,
) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    // Locked first, so a person resolving one of them at the same moment waits, and each
    // is resolved (and announced) once.
    let cleared: Vec<i64> = discrepancy::Entity::find()
        .select_only()
        .column(discrepancy::Column::Id)
        .filter(discrepancy::Column::Kind.eq(kind))
        .filter(discrepancy::Column::Status.is_in(["OPEN", "ACKNOWLEDGED"]))
        .filter(discrepancy::Column::LastSeenAt.lt(run_at))
        .filter(discrepancy::Column::SubjectId.is_not_in(keep.iter().map(String::as_str)))
        .lock_exclusive()
        .into_tuple()
        .all(txn)
        .await?;
    let mut resolved_count = 0;
    for chunk in cleared.chunks(UPSERT_CHUNK) {
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
            .filter(discrepancy::Column::Id.is_in(chunk.iter().copied()))
            .filter(discrepancy::Column::Status.is_in(["OPEN", "ACKNOWLEDGED"]))
            .exec(txn)
            .await?;
        resolved_count += result.rows_affected;
        let events = discrepancy::Entity::find()
            .filter(discrepancy::Column::Id.is_in(chunk.iter().copied()))
            .all(txn)
            .await?
            .iter()
            .map(|row| outbox::finding_event(crate::events::FINDING_RESOLVED, row))
            .collect();
        outbox::record_findings(txn, events, run_at).await?;
    }
    Ok(resolved_count)
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
