//! The server's own floor for a request: `GET /healthz` (no database, no signature, no
//! body) from the same number of clients for the same time, in the same run. A replay's
//! rate is read against it: both are one HTTP request through the same server and the
//! same load generator, so the ratio shows what the replay's own work costs.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests per second that `/healthz` answered 200 with `clients` clients, one request
/// in flight each, for `duration`.
pub async fn rate(target: &str, clients: usize, duration: Duration) -> anyhow::Result<f64> {
    // Through the same kind of connections as the wallet's requests.
    let connections = crate::plain_http::Connections::for_url(target).map(Arc::new);
    let http = crate::simulate::client::http_client()?;
    let url = format!("{}/healthz", target.trim_end_matches('/'));
    let answered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (http, url, answered) = (http.clone(), url.clone(), Arc::clone(&answered));
            let connections = connections.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let ok = match &connections {
                        Some(connections) => connections
                            .send("GET", "/healthz", &[], &[])
                            .await
                            .is_ok_and(|answer| answer.status == 200),
                        None => http
                            .get(&url)
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success()),
                    };
                    if ok {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    Ok(answered.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
