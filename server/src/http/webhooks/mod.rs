//! Webhook subscriptions over HTTP (`/operator/v1/webhooks`, docs/EVENTS.md,
//! "Subscriptions"), behind the operator token like the rest of the operator API.
mod handlers;

pub use handlers::ApiDoc;

use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::http::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/operator/v1/webhooks", get(handlers::list_webhooks))
        .route(
            "/operator/v1/webhooks/{webhook_id}",
            get(handlers::get_webhook)
                .put(handlers::put_webhook)
                .delete(handlers::delete_webhook),
        )
        .route(
            "/operator/v1/webhooks/{webhook_id}/dead",
            get(handlers::list_dead),
        )
        .route(
            "/operator/v1/webhooks/{webhook_id}/dead/{event_id}/redeliver",
            post(handlers::redeliver),
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
