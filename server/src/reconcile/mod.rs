//! Reconciliation: the wallet checks itself (balances against the ledger, the ledger
//! against itself, bets against their states, money stuck in open rounds) and checks
//! providers' statements against what it recorded. Every finding is a discrepancy record
//! that people acknowledge and resolve; the job resolves what clears by itself.
mod checks;
pub mod cli;
pub mod discrepancies;
mod findings;
mod handlers;
mod job;
mod matching;
mod pass;
mod runs;
mod sql;
pub mod statement;
mod trail_check;
mod wire;

use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::state::AppState;

pub use checks::{
    run as run_check, Thresholds, AMOUNT_HINT_MISMATCH, BALANCE_MISMATCH, BET_STATE_UNKNOWN,
    CLEARING_MISMATCH, DEFAULT_ORPHAN_AFTER_SECS, DEFAULT_STALE_ROUND_AFTER_SECS,
    MAX_FINDINGS_PER_CHECK, MONEY_INVARIANTS, PENDING_ROLLBACK, STALE_ROUND,
    UNBALANCED_TRANSACTION, UNCLAIMED_TOMBSTONE,
};
pub use findings::{flag_hint_mismatch, Finding, Severity, Subject, AUTO_RESOLVER};
pub use job::{
    critical_open, run_once, run_with, spawn_schedule, RunOptions, RunOutcome, RunSummary,
    Schedule, TrailSummary, Trigger, DEFAULT_INTERVAL_SECS,
};
pub use matching::{reconcile_statement, ReportResult, MAX_DISCREPANCIES};
pub use pass::{TrailMode, TrailPass, DEFAULT_FULL_EVERY_RUNS};
pub use runs::{recent_runs, run_now, run_now_with, RunError, MAX_RUNS};
pub use trail_check::TRAIL_BROKEN;

/// The provider API's reconciliation endpoint, behind the same capture and authentication
/// layers as the rest of `/wallet/v1` (the capture layer allows its larger body); and the
/// operator API's findings and runs, behind the operator's bearer token.
pub fn router(state: AppState) -> Router<AppState> {
    let provider = Router::new()
        .route(
            "/wallet/v1/reconciliation/reports",
            post(handlers::upload_report),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::wallet::auth::authenticate,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::trace::capture,
        ));
    let operator = Router::new()
        .route(
            "/operator/v1/discrepancies",
            get(handlers::list_discrepancies),
        )
        .route(
            "/operator/v1/discrepancies/{id}",
            get(handlers::get_discrepancy),
        )
        .route(
            "/operator/v1/discrepancies/{id}/acknowledge",
            post(handlers::acknowledge),
        )
        .route(
            "/operator/v1/discrepancies/{id}/resolve",
            post(handlers::resolve),
        )
        .route(
            "/operator/v1/reconciliation/runs",
            post(handlers::start_run).get(handlers::list_runs),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::operator::auth::require_token,
        ))
        .route_layer(middleware::from_fn_with_state(state, crate::trace::capture));
    provider.merge(operator)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        handlers::upload_report,
        handlers::list_discrepancies,
        handlers::get_discrepancy,
        handlers::acknowledge,
        handlers::resolve,
        handlers::start_run,
        handlers::list_runs
    ),
    components(schemas(
        statement::RawStatement,
        statement::RawRow,
        wire::AcknowledgeRequest,
        wire::FindingStatus,
        wire::ResolveRequest,
        wire::RunRequest,
        wire::DiscrepancyView,
        wire::RunView,
        wire::RunSummaryView,
        wire::CheckView,
        wire::TrailView
    ))
)]
pub struct ApiDoc;
