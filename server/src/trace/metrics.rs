//! `/metrics` in the Prometheus text format, for operators who already run Prometheus.
//! These are this process's counts since it started (Prometheus scrapes each process and
//! sums); the dashboard's durable, cross-process numbers are the attempt counters.
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::counters::LATENCY_BOUNDS_MS;

const REQUESTS: &str = "oncewallet_requests_total";
const REQUEST_DURATION: &str = "oncewallet_request_duration_seconds";
const LOG_DROPPED: &str = "oncewallet_attempt_log_dropped_total";
const LOG_WRITTEN: &str = "oncewallet_attempt_log_written_total";
const LOG_QUEUE_DEPTH: &str = "oncewallet_attempt_log_queue_depth";
const MONEY_BATCH_OPERATIONS: &str = "oncewallet_money_batch_operations";
const MONEY_BATCH_DURATION: &str = "oncewallet_money_batch_duration_seconds";
const WRITE_PHASE_DURATION: &str = "oncewallet_write_phase_duration_seconds";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. A process holds one global recorder,
/// and tests start many servers in one process: they all share this one.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let buckets: Vec<f64> = LATENCY_BOUNDS_MS
            .iter()
            .map(|ms| *ms as f64 / 1000.0)
            .collect();
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), &buckets)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics stays empty");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "Requests to the wallet and operator APIs by endpoint, provider, outcome and status."
    );
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time from receiving a request to answering it."
    );
    metrics::describe_counter!(
        LOG_DROPPED,
        "Attempt log records lost: queue full or batch failed."
    );
    metrics::describe_counter!(LOG_WRITTEN, "Attempt log records written.");
    metrics::describe_gauge!(
        LOG_QUEUE_DEPTH,
        "Attempt log records waiting for the background writer."
    );
    metrics::describe_histogram!(
        MONEY_BATCH_OPERATIONS,
        "Money operations decided together in one batch of the writer."
    );
    metrics::describe_histogram!(
        MONEY_BATCH_DURATION,
        metrics::Unit::Seconds,
        "Time a money batch takes to load, decide and write (before its commit)."
    );
    metrics::describe_histogram!(
        WRITE_PHASE_DURATION,
        metrics::Unit::Seconds,
        "Time the writer spends per batch in each phase: a money batch's load, decide and \
         write, and every batch's commit."
    );
}

/// One money batch of `operations`, loaded, decided and written in `duration`.
/// One phase of a write batch (`load`, `decide`, `write`, `commit`).
pub fn record_write_phase(phase: &'static str, duration: Duration) {
    metrics::histogram!(WRITE_PHASE_DURATION, "phase" => phase).record(duration.as_secs_f64());
}

pub fn record_money_batch(operations: usize, duration: Duration) {
    metrics::histogram!(MONEY_BATCH_OPERATIONS).record(operations as f64);
    metrics::histogram!(MONEY_BATCH_DURATION).record(duration.as_secs_f64());
}

/// `GET /metrics`; with `token` (`WALLET_METRICS_TOKEN`) only for a scraper that sends
/// `Authorization: Bearer <token>`, since the figures show traffic and money volumes.
pub fn router<S: Clone + Send + Sync + 'static>(token: Option<&str>) -> Router<S> {
    let route = Router::new().route("/metrics", get(render));
    match token {
        Some(token) => route.layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::<str>::from(token),
            require_token,
        )),
        None => route,
    }
}

async fn require_token(
    axum::extract::State(token): axum::extract::State<std::sync::Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use subtle::ConstantTimeEq;
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        return next.run(request).await;
    }
    (
        axum::http::StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
        "/metrics needs Authorization: Bearer <WALLET_METRICS_TOKEN>\n",
    )
        .into_response()
}

async fn render() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
}

/// One answered request.
pub fn record_request(
    endpoint: &str,
    provider_id: &str,
    outcome: &str,
    status: u16,
    latency: Duration,
) {
    let labels = [
        ("endpoint", endpoint.to_owned()),
        ("provider", provider_id.to_owned()),
        ("outcome", outcome.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(REQUEST_DURATION, "endpoint" => endpoint.to_owned())
        .record(latency.as_secs_f64());
}

pub fn record_log_dropped(count: u64) {
    metrics::counter!(LOG_DROPPED).increment(count);
}

pub fn record_log_batch(written: u64, queue_depth: usize) {
    metrics::counter!(LOG_WRITTEN).increment(written);
    metrics::gauge!(LOG_QUEUE_DEPTH).set(queue_depth as f64);
}

/// Folds recorded histogram samples; without scrapes they would pile up in memory.
pub fn run_upkeep() {
    handle().run_upkeep();
}
