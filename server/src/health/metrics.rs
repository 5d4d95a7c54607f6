//! `GET /metrics` in the Prometheus text format: the process's counters
//! (`telemetry::metrics`) and the database's gauges ([`Gauges`]), for operators who run
//! Prometheus; the rules and the dashboard that read them are in `ops/`.
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::gauges::Gauges;
use crate::telemetry;

/// `GET /metrics`; with `token` (`WALLET_METRICS_TOKEN`) only for a scraper that sends
/// `Authorization: Bearer <token>`, since the figures show traffic and money volumes.
pub fn router<S: Clone + Send + Sync + 'static>(gauges: Gauges, token: Option<&str>) -> Router<S> {
    let route = Router::new()
        .route("/metrics", get(render))
        .with_state(Arc::new(gauges));
    match token {
        Some(token) => route.layer(axum::middleware::from_fn_with_state(
            Arc::<str>::from(token),
            require_token,
        )),
        None => route,
    }
}

async fn require_token(
    State(token): State<Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if crate::http::bearer_matches(request.headers(), &token) {
        return next.run(request).await;
    }
    (
        axum::http::StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
        "/metrics needs Authorization: Bearer <WALLET_METRICS_TOKEN>\n",
    )
        .into_response()
}

async fn render(State(gauges): State<Arc<Gauges>>) -> impl IntoResponse {
    let mut text = telemetry::metrics::render();
    text.push_str(&gauges.render().await);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
