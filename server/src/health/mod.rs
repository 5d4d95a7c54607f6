//! How the running wallet is doing. `/healthz`: the process is up. `/readyz`: the
//! database answers and can grow. `/metrics`: counters and gauges for Prometheus.
mod gauges;
pub mod metrics;

pub use gauges::Gauges;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "OK" }))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if let Some(full) = state.store.space().full() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "UNAVAILABLE",
                "database": "full",
                "full_since": full.since,
                "detail": "the database cannot grow (disk full or WALLET_SQLITE_MAX_SIZE_MB): \
                           money operations answer 503 TEMPORARY_UNAVAILABLE; replays and \
                           lookups still answer. It clears by itself once writes succeed again.",
                "error": full.error,
            })),
        );
    }
    if state.store.is_ready().await {
        (
            StatusCode::OK,
            Json(json!({ "status": "OK", "database": "reachable" })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "UNAVAILABLE", "database": "unreachable" })),
        )
    }
}
