//! The PAM API for the Valkyrie aggregator over HTTP (`/pam/valkyrie`, docs/PAM.md):
//! routes, the aggregator's bearer token (`WALLET_VALKYRIE_API_KEY`), and the handlers that
//! call `crate::pam`.
mod auth;
mod handlers;

use axum::routing::get;
use axum::{middleware, Router};

use crate::http::state::AppState;

/// Where Valkyrie's `pam.url` points: `<wallet>/pam/valkyrie`.
pub const BASE: &str = "/pam/valkyrie";

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/pam/valkyrie/players/session",
            get(handlers::get_session).put(handlers::refresh_session),
        )
        .route(
            "/pam/valkyrie/players/{player_id}/balance",
            get(handlers::balance),
        )
        .route(
            "/pam/valkyrie/players/{player_id}/transactions",
            get(handlers::find_transactions).post(handlers::add_transaction),
        )
        .route(
            "/pam/valkyrie/players/{player_id}/gamerounds/{round_id}",
            get(handlers::game_round),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ))
        // Outermost, so that refused requests are recorded too.
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::http::capture::capture,
        ))
}
