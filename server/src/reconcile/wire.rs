//! The operator API's reconciliation bodies as they travel.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::job::RunSummary;
use crate::db::entities::{discrepancy, reconciliation_run as run};
use crate::idempotency::format_time;

/// `POST /operator/v1/discrepancies/{id}/acknowledge`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    /// Who acknowledges (1–200 bytes of UTF-8, not blank), for the record and the staff
    /// audit log.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub actor: String,
    /// Optional; when given, not blank and at most 4096 bytes of UTF-8.
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S")]
    pub note: Option<String>,
}

/// `POST /operator/v1/discrepancies/{id}/resolve`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// Who resolves (1–200 bytes of UTF-8, not blank).
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub actor: String,
    /// Why it is resolved (required, not blank, at most 4096 bytes of UTF-8).
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S")]
    pub note: String,
}

/// `POST /operator/v1/reconciliation/runs`; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// A full pass: every ledger hash chain from the start and the money checks over the
    /// whole ledger, instead of what changed since the checkpoints.
    #[serde(default)]
    pub full: bool,
}

/// A finding's status, as the list filters it: one type with the console's pages.
pub use app::model::FindingStatus;

/// `GET /operator/v1/discrepancies`
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscrepancyList {
    #[schema(pattern = "^OK$")]
    pub status: String,
    /// Newest first.
    pub discrepancies: Vec<DiscrepancyView>,
    /// Pass as `before_id` for the next page; `null` on the last page.
    pub next_before_id: Option<i64>,
    pub request_id: String,
}

/// One finding, as read, acknowledged or resolved.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscrepancyAnswer {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub discrepancy: DiscrepancyView,
    pub request_id: String,
}

/// `POST /operator/v1/reconciliation/runs`
#[derive(Debug, Serialize, ToSchema)]
pub struct RunAnswer {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub run: RunSummaryView,
    pub request_id: String,
}

/// `GET /operator/v1/reconciliation/runs`
#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    #[schema(pattern = "^OK$")]
    pub status: String,
    /// Newest first.
    pub runs: Vec<RunView>,
    pub request_id: String,
}

/// `POST /wallet/v1/reconciliation/reports`
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAnswer {
    #[schema(pattern = "^OK$")]
    pub status: String,
    /// `true` when the report id was uploaded before: the stored result.
    pub replayed: bool,
    pub report_id: String,
    /// Reported transactions whose amount and state agree with the wallet's.
    pub matched: u64,
    pub discrepancies: Vec<StatementDiscrepancy>,
    /// More than 100,000 discrepancies: the first 100,000 are listed.
    pub truncated: bool,
    pub request_id: String,
}

/// A difference between a statement and the wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementDiscrepancy {
    /// `MISSING_IN_WALLET`, `MISSING_AT_PROVIDER`, `AMOUNT_MISMATCH` or `STATE_MISMATCH`.
    pub kind: String,
    pub transaction_id: String,
    pub op: String,
    /// What the statement says (`op`, `player_id`, `round_id`, `amount`, `state`); absent for
    /// `MISSING_AT_PROVIDER`.
    #[schema(value_type = Option<Object>)]
    pub reported: Option<serde_json::Value>,
    /// What the wallet recorded (`op`, `player_id`, `state`, `amount`); absent for
    /// `MISSING_IN_WALLET`.
    #[schema(value_type = Option<Object>)]
    pub wallet: Option<serde_json::Value>,
}

/// One finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscrepancyView {
    pub id: i64,
    pub kind: String,
    /// `CRITICAL`, `WARNING` or `INFO`.
    pub severity: String,
    /// `PLAYER`, `TRANSACTION`, `ROUND`, `REPORT` or `ACCOUNT`.
    pub subject_type: String,
    pub subject_id: String,
    pub provider_id: Option<String>,
    /// What was seen (per kind).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// `OPEN`, `ACKNOWLEDGED` or `RESOLVED`.
    pub status: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolution_note: Option<String>,
}

impl From<discrepancy::Model> for DiscrepancyView {
    fn from(row: discrepancy::Model) -> Self {
        DiscrepancyView {
            details: serde_json::from_str(&row.details)
                .unwrap_or(serde_json::Value::String(row.details)),
            id: row.id,
            kind: row.kind,
            severity: row.severity,
            subject_type: row.subject_type,
            subject_id: row.subject_id,
            provider_id: row.provider_id,
            first_seen_at: format_time(row.first_seen_at),
            last_seen_at: format_time(row.last_seen_at),
            status: row.status,
            acknowledged_by: row.acknowledged_by,
            acknowledged_at: row.acknowledged_at.map(format_time),
            resolved_by: row.resolved_by,
            resolved_at: row.resolved_at.map(format_time),
            resolution_note: row.resolution_note,
        }
    }
}

/// A recorded run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub run_id: i64,
    /// `SCHEDULE`, `MANUAL` or `CLI`.
    pub trigger: String,
    pub started_at: String,
    /// `null` while running, or if the run died.
    pub finished_at: Option<String>,
    pub findings: i64,
    pub opened: i64,
    pub auto_resolved: i64,
    pub critical_open: i64,
    pub duration_ms: i64,
    /// `FULL` or `INCREMENTAL`; `null` for a run that did not finish.
    pub trail_pass: Option<String>,
    pub trail_postings: Option<i64>,
}

impl From<run::Model> for RunView {
    fn from(row: run::Model) -> Self {
        RunView {
            run_id: row.id,
            trigger: row.trigger,
            started_at: format_time(row.started_at),
            finished_at: row.finished_at.map(format_time),
            findings: row.findings,
            opened: row.opened,
            auto_resolved: row.auto_resolved,
            critical_open: row.critical_open,
            duration_ms: row.duration_ms,
            trail_pass: row.trail_pass,
            trail_postings: row.trail_postings,
        }
    }
}

/// What a run just found.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummaryView {
    pub run_id: i64,
    pub findings: u64,
    pub opened: u64,
    pub auto_resolved: u64,
    pub critical_open: u64,
    pub duration_ms: u64,
    pub checks: Vec<CheckView>,
    pub trail: TrailView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    pub kind: String,
    pub findings: usize,
    /// More than 10,000: the first 10,000 are stored, nothing of the kind is auto-resolved.
    pub truncated: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrailView {
    /// `FULL` or `INCREMENTAL`.
    pub pass: String,
    pub players_checked: u64,
    pub postings_checked: u64,
    pub broken: usize,
}

impl From<RunSummary> for RunSummaryView {
    fn from(summary: RunSummary) -> Self {
        RunSummaryView {
            run_id: summary.run_id,
            findings: summary.findings,
            opened: summary.opened,
            auto_resolved: summary.auto_resolved,
            critical_open: summary.critical_open,
            duration_ms: summary.duration_ms,
            checks: summary
                .checks
                .iter()
                .map(|(kind, findings, truncated)| CheckView {
                    kind: (*kind).to_owned(),
                    findings: *findings,
                    truncated: *truncated,
                })
                .collect(),
            trail: TrailView {
                pass: summary.trail.pass.as_str().to_owned(),
                players_checked: summary.trail.players_checked,
                postings_checked: summary.trail.postings_checked,
                broken: summary.trail.broken,
            },
        }
    }
}
