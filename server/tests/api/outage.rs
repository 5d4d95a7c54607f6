//! A database outage: PostgreSQL is stopped in the middle of load (an
//! immediate shutdown, as a crash of the database would be) and started again a few
//! seconds later. The server process keeps running throughout. While the database is
//! gone, the wallet answers only retryable errors (`503 TEMPORARY_UNAVAILABLE`, `500
//! INTERNAL_ERROR` where a commit's outcome is unknown, which the client's retry of the
//! same request then resolves), `/readyz` turns 503 and back to 200, and afterwards the
//! end checks of the crash test hold.
//!
//! The test needs a PostgreSQL server it may stop, so it starts its own cluster
//! (initdb and pg_ctl from /usr/lib/postgresql/*/bin, as the `postgres` user when run as
//! root) on a free port. It runs in the PostgreSQL pass of `cargo test` (when
//! `ONCEWALLET_TEST_PG_URL` is set) and says why it skips otherwise.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectOptions, Database};

use crate::node::{pg_admin_url, runs_from_env, Node, Provider, RetryLog, SharedRetryLog, Target};
use crate::pg_cluster::{pg_bin_dir, Cluster};
use crate::workload::{assert_end_state, start_players};

const CLIENTS: usize = 6;
/// How long the database stays down in the short run.
const OUTAGE_SECS_SHORT: u32 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_gets_only_retryable_answers_and_the_wallet_recovers_by_itself() {
    if pg_admin_url().is_none() {
        println!(
            "outage: skipped on SQLite; it runs in the PostgreSQL pass (ONCEWALLET_TEST_PG_URL)"
        );
        return;
    }
    let Some(bin) = pg_bin_dir() else {
        println!("outage: skipped, no PostgreSQL server under /usr/lib/postgresql");
        return;
    };
    let outage = Duration::from_secs(u64::from(runs_from_env(
        "ONCEWALLET_OUTAGE_SECS",
        OUTAGE_SECS_SHORT,
    )));
    let started = Instant::now();
    let cluster = Cluster::create(bin).await;
    cluster.start().await;

    let mut node = Node::start(&cluster.url(), &[]).await;
    let provider = Provider::register(&node.base_url).await;
    let target: Arc<dyn Target> = Arc::new(node.base_url.clone());
    let log: SharedRetryLog = Arc::new(Mutex::new(RetryLog::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_players(&provider, &node.base_url, CLIENTS, target, &log, &stop).await;
    let readiness = tokio::spawn(watch_readiness(node.base_url.clone(), stop.clone()));

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let retried_before = log.lock().unwrap().retryable.values().sum::<u64>();
    cluster.stop().await;
    let down_at = Instant::now();
    tokio::time::sleep(outage).await;
    cluster.start().await;
    let up_at = Instant::now();
    let ready_after = wait_ready(&node.base_url).await;
    // Traffic after the recovery.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut models = Vec::new();
    for client in clients {
        models.push(client.await.expect("a client panicked"));
    }
    let seen = readiness.await.expect("the readiness watcher");
    assert!(
        node.is_running(),
        "the server must survive the outage:\n{}",
        node.output()
    );

    let db = connect(&cluster.url()).await;
    let totals = assert_end_state(&db, &cluster.url(), &provider.id, &models).await;
    node.terminate().await;
    let log = log.lock().unwrap();
    assert!(
        log.violations.is_empty(),
        "answers outside the contract during the outage:\n{}",
        log.violations.join("\n")
    );
    assert_eq!(
        log.transport_errors, 0,
        "every request gets an HTTP answer while the database is down"
    );
    let retried: u64 = log.retryable.values().sum();
    assert!(
        retried > retried_before,
        "the clients never saw the outage: {:?}",
        log.retryable
    );
    assert!(
        seen.went_unready && seen.ready_again,
        "/readyz must go 503 during the outage and 200 after it: {seen:?}"
    );
    // The server bounds its readiness check at one second; the rest is slack for a busy
    // machine. Without the bound a probe waited out the pool's 5 s acquire timeout.
    assert!(
        seen.slowest < Duration::from_secs(3),
        "/readyz must answer promptly during the outage: {seen:?}"
    );
    println!(
        "outage: PostgreSQL down {:.1} s; retryable answers {:?} ({} unknown outcomes looked \
         up); /readyz back {:.1} s after the restart, slowest probe {} ms; {} acknowledged transactions, {} replays; \
         lost {}, doubled {}; {:.1} s in all",
        (up_at - down_at).as_secs_f64(),
        log.retryable,
        log.unknown_outcomes_looked_up,
        ready_after.as_secs_f64(),
        seen.slowest.as_millis(),
        totals.acknowledged,
        totals.replays,
        totals.lost,
        totals.doubled,
        started.elapsed().as_secs_f64()
    );
}

#[derive(Debug, Default)]
struct Readiness {
    went_unready: bool,
    /// 200 again after having been 503.
    ready_again: bool,
    /// The slowest answer: a probe must not hang while the database is gone.
    slowest: Duration,
}

async fn watch_readiness(base_url: String, stop: Arc<AtomicBool>) -> Readiness {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut seen = Readiness::default();
    while !stop.load(Ordering::Relaxed) {
        let asked = Instant::now();
        let status = client
            .get(format!("{base_url}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        seen.slowest = seen.slowest.max(asked.elapsed());
        match status {
            503 => seen.went_unready = true,
            200 if seen.went_unready => seen.ready_again = true,
            200 => {}
            other => panic!("/readyz answered {other}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

/// How long after the database came back `/readyz` said so.
async fn wait_ready(base_url: &str) -> Duration {
    let since = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let ready = client
            .get(format!("{base_url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "the wallet did not become ready within 60 s of the database's return"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connect(url: &str) -> sea_orm::DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(2).sqlx_logging(false);
    Database::connect(options).await.expect("connect")
}
