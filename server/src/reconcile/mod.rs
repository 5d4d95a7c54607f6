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
mod sql;
pub mod statement;

use axum::routing::post;
use axum::{middleware, Router};

use crate::state::AppState;

pub use checks::{
    Thresholds, AMOUNT_HINT_MISMATCH, BALANCE_MISMATCH, BET_STATE_UNKNOWN, CLEARING_MISMATCH,
    MAX_FINDINGS_PER_CHECK, PENDING_ROLLBACK, STALE_ROUND, UNBALANCED_TRANSACTION,
    UNCLAIMED_TOMBSTONE,
};
pub use findings::{flag_hint_mismatch, Finding, Severity, Subject, AUTO_RESOLVER};
pub use job::{critical_open, run_once, spawn_schedule, RunOutcome, RunSummary, Schedule, Trigger};
pub use matching::{reconcile_statement, ReportResult, MAX_DISCREPANCIES};

/// The provider API's reconciliation endpoint, behind the same capture and authentication
/// layers as the rest of `/wallet/v1` (the capture layer allows its larger body).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/wallet/v1/reconciliation/reports",
            post(handlers::upload_report),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::wallet::auth::authenticate,
        ))
        .route_layer(middleware::from_fn_with_state(state, crate::trace::capture))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(handlers::upload_report),
    components(schemas(statement::RawStatement, statement::RawRow))
)]
pub struct ApiDoc;
