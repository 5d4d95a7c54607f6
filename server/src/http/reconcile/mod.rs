//! Reconciliation over HTTP: providers' statements (`/wallet/v1/reconciliation/reports`),
//! findings and runs (`/operator/v1/discrepancies`, `/operator/v1/reconciliation/runs`).
mod handlers;

use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::http::state::AppState;

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
            crate::http::wallet::auth::authenticate,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::capture::capture,
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
            crate::http::operator::auth::require_token,
        ))
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::http::capture::capture,
        ));
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
        crate::reconcile::statement::RawStatement,
        crate::reconcile::statement::RawRow,
        crate::reconcile::wire::AcknowledgeRequest,
        crate::reconcile::wire::FindingStatus,
        crate::reconcile::wire::ResolveRequest,
        crate::reconcile::wire::RunRequest,
        crate::reconcile::wire::DiscrepancyView,
        crate::reconcile::wire::RunView,
        crate::reconcile::wire::RunSummaryView,
        crate::reconcile::wire::CheckView,
        crate::reconcile::wire::TrailView
    ))
)]
pub struct ApiDoc;
