//! The `subscribed` scenario's webhook subscriber (docs/PERFORMANCE.md, "Events"): a
//! receiver in the bench's process that acknowledges every delivery, subscribed to
//! `money.moved` for the scenario only, so that `subscribed / first` in one run is what
//! delivering events to one subscriber costs the money path.
//!
//! In service a receiver runs on another machine. Here it shares the wallet's cores, so
//! it runs on a thread of its own at a lower priority (`crate::background`): it takes the
//! CPU the wallet and the load leave, instead of taking its share from the wallet and
//! counting as the outbox's cost.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::config::BenchConfig;

/// How long the subscription may take to catch up after the scenario.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

pub struct Subscriber {
    id: String,
    received: Arc<AtomicU64>,
    /// Stops the receiver.
    stop: tokio::sync::oneshot::Sender<()>,
    client: reqwest::Client,
    target: String,
    token: String,
}

/// What the subscription did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivered {
    /// Deliveries the receiver got (a redelivery counts again).
    pub received: u64,
    /// From the scenario's end until the subscription had nothing pending (over several
    /// rounds, the longest).
    pub drained_s: Option<f64>,
}

impl Delivered {
    /// This round's deliveries added to an earlier round's.
    pub fn and(self, later: &Delivered) -> Delivered {
        Delivered {
            received: self.received + later.received,
            drained_s: self.drained_s.zip(later.drained_s).map(|(a, b)| a.max(b)),
        }
    }

    pub fn summary_line(&self) -> String {
        format!(
            "subscriber: {} deliveries received; caught up {}",
            self.received,
            self.drained_s
                .map_or("not within 120 s".to_owned(), |s| format!(
                    "{s} s after the scenario"
                ))
        )
    }
}

impl Subscriber {
    /// Starts the receiver and subscribes it, as a subscription of its own for each of
    /// the run's rounds (`--rounds`).
    pub async fn attach(config: &BenchConfig, round: u32) -> anyhow::Result<Subscriber> {
        let received = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                async { axum::http::StatusCode::NO_CONTENT }
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/events", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        crate::background::run_low_priority("bench-receiver", move || async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let stopped = async move {
                    let _ = stopped.await;
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await;
            }
        })?;
        let subscriber = Subscriber {
            id: format!("{}-subscriber-{round}", config.run_tag),
            received,
            stop,
            client: reqwest::Client::new(),
            target: config.target.trim_end_matches('/').to_owned(),
            token: config.operator_token.clone(),
        };
        let secret = format!("{}-{}", config.run_tag, uuid::Uuid::new_v4().simple());
        let body = json!({ "url": url, "secret": secret, "types": ["money.moved"] });
        subscriber
            .operator(reqwest::Method::PUT, Some(body))
            .await?
            .error_for_status()?;
        Ok(subscriber)
    }

    async fn operator(
        &self,
        method: reqwest::Method,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/operator/v1/webhooks/{}", self.target, self.id);
        let mut request = self.client.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Ok(request.send().await?)
    }

    /// Waits until nothing is pending, then unsubscribes and stops the receiver.
    pub async fn detach(self) -> anyhow::Result<Delivered> {
        let started = Instant::now();
        let mut drained_s = None;
        while started.elapsed() < DRAIN_LIMIT {
            let answer: serde_json::Value = self
                .operator(reqwest::Method::GET, None)
                .await?
                .error_for_status()?
                .json()
                .await?;
            if answer["webhook"]["stats"]["pending"].as_i64() == Some(0) {
                drained_s = Some((started.elapsed().as_secs_f64() * 10.0).round() / 10.0);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.operator(reqwest::Method::DELETE, None)
            .await?
            .error_for_status()?;
        let _ = self.stop.send(());
        Ok(Delivered {
            received: self.received.load(Ordering::Relaxed),
            drained_s,
        })
    }
}
