//! The provider-facing wallet API (`/wallet/v1`): balance, bet, win, rollback, round close.
pub mod auth;
mod handlers;
pub mod operations;
pub mod signing;
pub mod wire;

use axum::routing::post;
use axum::{middleware, Router};

use crate::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/wallet/v1/balance", post(handlers::balance))
        .route("/wallet/v1/bet", post(handlers::bet))
        .route("/wallet/v1/win", post(handlers::win))
        .route("/wallet/v1/rollback", post(handlers::rollback))
        .route("/wallet/v1/rounds/close", post(handlers::close_round))
        .route_layer(middleware::from_fn_with_state(state, auth::authenticate))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        handlers::balance,
        handlers::bet,
        handlers::win,
        handlers::rollback,
        handlers::close_round
    ),
    components(schemas(
        wire::BetKind,
        wire::WinKind,
        crate::domain::WireMoney,
        crate::error::ErrorCode
    ))
)]
pub struct ApiDoc;
