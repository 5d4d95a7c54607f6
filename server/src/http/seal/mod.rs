//! Seals of the trail over HTTP (`/operator/v1/trail/seals`): make one now, list them.
mod handlers;

use axum::routing::post;
use axum::{middleware, Router};

use crate::http::state::AppState;

/// The operator API's seals, behind the operator's bearer token.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/operator/v1/trail/seals",
            post(handlers::post_seal).get(handlers::list_seals),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::operator::auth::require_token,
        ))
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::http::capture::capture,
        ))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(handlers::post_seal, handlers::list_seals))]
pub struct ApiDoc;
