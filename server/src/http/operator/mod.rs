//! The operator API over HTTP (`/operator/v1`): routes, the bearer token, and the handlers
//! that parse a request and call `crate::operator`.
pub mod auth;
pub mod handlers;

use axum::routing::{get, post, put};
use axum::{middleware, Router};

use crate::http::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/operator/v1/providers", get(handlers::list_providers))
        .route(
            "/operator/v1/providers/{provider_id}",
            put(handlers::put_provider),
        )
        .route(
            "/operator/v1/players/{player_id}",
            put(handlers::put_player).get(handlers::get_player),
        )
        .route(
            "/operator/v1/players/{player_id}/adjustments",
            post(handlers::post_adjustment),
        )
        .route("/operator/v1/sessions", post(handlers::post_session))
        .route(
            "/operator/v1/providers/{provider_id}/transactions/{transaction_id}/refund",
            post(handlers::post_refund),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::http::capture::capture,
        ))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        handlers::list_providers,
        handlers::put_provider,
        handlers::put_player,
        handlers::get_player,
        handlers::post_adjustment,
        handlers::post_session,
        handlers::post_refund
    ),
    components(schemas(crate::operator::wire::PlayerStatus, crate::operator::wire::Direction))
)]
pub struct ApiDoc;
