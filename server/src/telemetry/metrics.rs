//! The process's own counts since it started, in the Prometheus text format: requests,
//! latencies, the attempt log's and the writer's work, and the process itself (RSS, CPU,
//! open files). Prometheus scrapes each process and sums; the dashboard's durable,
//! cross-process numbers are the attempt counters. `/metrics` (`health::metrics`) serves
//! these beside the gauges it reads from the database when scraped.
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds of the latency buckets in milliseconds; a last bucket takes the rest. The
/// request-duration histogram and the attempt counters (`attempts::counters`) share them.
pub const LATENCY_BOUNDS_MS: [i64; 12] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

const REQUESTS: &str = "oncewallet_requests_total";
const REQUEST_DURATION: &str = "oncewallet_request_duration_seconds";
const LOG_DROPPED: &str = "oncewallet_attempt_log_dropped_total";
const LOG_WRITTEN: &str = "oncewallet_attempt_log_written_total";
const LOG_QUEUE_DEPTH: &str = "oncewallet_attempt_log_queue_depth";
const MONEY_BATCH_OPERATIONS: &str = "oncewallet_money_batch_operations";
const MONEY_BATCH_DURATION: &str = "oncewallet_money_batch_duration_seconds";
const WRITE_PHASE_DURATION: &str = "oncewallet_write_phase_duration_seconds";
const REPLAYED_AMOUNT: &str = "oncewallet_replayed_amount_minor_units_total";
const WEBHOOK_DELIVERIES: &str = "oncewallet_webhook_deliveries_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

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
        // Exported from the start, so that an alert on their increase has a series.
        metrics::counter!(LOG_DROPPED).increment(0);
        metrics::counter!(LOG_WRITTEN).increment(0);
        metrics::gauge!(LOG_QUEUE_DEPTH).set(0.0);
        PROCESS
            .get_or_init(metrics_process::Collector::default)
            .describe();
        handle
    })
}

/// Everything recorded so far, with the process's figures read now.
pub fn render() -> String {
    let handle = handle();
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    handle.render()
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
    metrics::describe_counter!(
        REPLAYED_AMOUNT,
        "Money that duplicate requests would have moved a second time, had they not been \
         answered from the stored result: the replays' amounts in the currency's minor units."
    );
    metrics::describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook deliveries by result: delivered (acknowledged with a 2xx), failed (another \
         answer or none; tried again later), dead (given up on after the retry period)."
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

/// Replays' amounts, by currency (minor units).
pub fn record_replayed(amounts: &std::collections::BTreeMap<String, i64>) {
    for (currency, amount_minor) in amounts {
        if let Ok(amount) = u64::try_from(*amount_minor) {
            metrics::counter!(REPLAYED_AMOUNT, "currency" => currency.clone()).increment(amount);
        }
    }
}

/// One webhook delivery's result: `delivered`, `failed` or `dead`.
pub fn record_webhook_delivery(result: &'static str) {
    metrics::counter!(WEBHOOK_DELIVERIES, "result" => result).increment(1);
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
