//! The wallet API over HTTP (`/wallet/v1`): routes, the providers' authentication and rate
//! limit, and the handlers that parse a request and call `crate::wallet`.
pub mod auth;
mod handlers;
#[cfg(test)]
mod parse_props;
pub mod rate_limit;

use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::http::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    // Money operations confirm a cached signing key in their first read; every other
    // request reads its key (`auth::authenticate_money`, `keys::KeyUse`).
    let money = Router::new()
        .route("/wallet/v1/bet", post(handlers::bet))
        .route("/wallet/v1/win", post(handlers::win))
        .route("/wallet/v1/rollback", post(handlers::rollback))
        .route("/wallet/v1/rounds/close", post(handlers::close_round));
    let lookups = Router::new()
        .route("/wallet/v1/balance", post(handlers::balance))
        .route("/wallet/v1/transactions", get(handlers::transaction_feed))
        .route(
            "/wallet/v1/transactions/{transaction_id}",
            get(handlers::transaction_status),
        )
        .route("/wallet/v1/rounds/{round_id}", get(handlers::round));
    // Inside authentication: only signed requests count against a key, and the 429 is
    // signed like every answer to an authenticated request.
    let rate_limited = |router: Router<AppState>| match state.wallet_rate_limit.clone() {
        Some(limit) => {
            router.route_layer(middleware::from_fn_with_state(limit, rate_limit::enforce))
        }
        None => router,
    };
    rate_limited(money)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate_money,
        ))
        .merge(
            rate_limited(lookups).route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::authenticate,
            )),
        )
        // Outermost, so that refused requests are recorded too.
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::http::capture::capture,
        ))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        handlers::balance,
        handlers::bet,
        handlers::win,
        handlers::rollback,
        handlers::close_round,
        handlers::transaction_status,
        handlers::round,
        handlers::transaction_feed
    ),
    components(schemas(
        crate::wallet::wire::BetKind,
        crate::wallet::wire::WinKind,
        crate::domain::WireMoney,
        crate::error::ErrorCode
    ))
)]
pub struct ApiDoc;
