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
    /// Who acknowledges (1–200 bytes), for the record and the staff audit log.
    pub actor: String,
    /// Optional, at most 4096 bytes.
    pub note: Option<String>,
}

/// `POST /operator/v1/discrepancies/{id}/resolve`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub actor: String,
    /// Why it is resolved (required, at most 4096 bytes).
    pub note: String,
}

/// `POST /operator/v1/reconciliation/runs`; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Re-walk every ledger hash chain from the start instead of from the checkpoints.
    #[serde(default)]
    pub full: bool,
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
