//! The crash test: the real binary under load from clients that retry
//! every request with the same transaction id until the answer is definitive, killed
//! again and again, and restarted on the same database. Half of the lives end with a
//! SIGKILL at a random moment, the other half at a failpoint inside the money path
//! (`WALLET_FAILPOINT`: after the key claim, after the money moved, after the commit
//! before the reply; the process aborts there). At the end every acknowledged
//! transaction must exist exactly once with exactly its ledger entries, every balance
//! must equal the clients' model (half the clients speak the PAM, `crate::pam_workload`), and the ledger invariants, `server reconcile` and
//! `server verify-trail` must hold.
//!
//! The short run (`CRASH_KILLS_SHORT` kills) is part of `cargo test`. The long run:
//! `ONCEWALLET_CRASH_KILLS=1000 cargo test -p server --test api crash:: -- --nocapture`
//! (add `ONCEWALLET_TEST_PG_URL=…` for PostgreSQL); see docs/RELIABILITY.md.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::node::{runs_from_env, Node, Provider, RetryLog, SharedRetryLog, Target, TestDatabase};
use crate::pam_workload::start_pam_players;
use crate::workload::{assert_end_state, start_players, Expected};

const CRASH_KILLS_SHORT: u32 = 30;
/// Half speak the wallet API, half the PAM (docs/PAM.md), to the same provider.
const CLIENTS: usize = 8;
/// Armed on the failpoint lives: each passage of each point aborts with this chance.
const FAILPOINTS: &str = "after_claim:0.02,after_money:0.02,after_commit_before_reply:0.02";
/// A failpoint life that lasts this long without firing ends with a SIGKILL instead.
const FAILPOINT_LIFE_MAX: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_transaction_is_lost_or_doubled_across_kills() {
    let kills = runs_from_env("ONCEWALLET_CRASH_KILLS", CRASH_KILLS_SHORT);
    let started = Instant::now();
    let database = TestDatabase::fresh().await;
    let engine = if database.is_sqlite() {
        "SQLite"
    } else {
        "PostgreSQL"
    };

    let mut node = Node::start(&database.url, &[]).await;
    let provider = Provider::register(&node.base_url).await;
    let (url_sender, url) = tokio::sync::watch::channel(node.base_url.clone());
    let target: Arc<dyn Target> = Arc::new(url);
    let log: SharedRetryLog = Arc::new(Mutex::new(RetryLog::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = start_players(
        &provider,
        &node.base_url,
        CLIENTS / 2,
        target.clone(),
        &log,
        &stop,
    )
    .await;
    clients.extend(
        start_pam_players(&provider, &node.base_url, CLIENTS / 2, target, &log, &stop).await,
    );

    let mut deaths = Deaths::default();
    for life in 0..kills {
        if life > 0 {
            let armed = life % 2 == 1;
            let env: &[(&str, &str)] = if armed {
                &[("WALLET_FAILPOINT", FAILPOINTS)]
            } else {
                &[]
            };
            node = Node::start(&database.url, env).await;
            url_sender.send_replace(node.base_url.clone());
        }
        let armed = life % 2 == 1;
        let aborted = armed
            && tokio::select! {
                _ = node.exited() => true,
                () = tokio::time::sleep(FAILPOINT_LIFE_MAX) => false,
            };
        if aborted {
            // The last words are still in the pipe.
            tokio::time::sleep(Duration::from_millis(50)).await;
            deaths.at_failpoint(&node.output());
            continue;
        }
        if !armed {
            let life_ms = rand::thread_rng().gen_range(20..600);
            tokio::time::sleep(Duration::from_millis(life_ms)).await;
        }
        assert!(
            node.is_running(),
            "the server died by itself:\n{}",
            node.output()
        );
        node.kill().await;
        deaths.random += 1;
    }

    // A last life without kills lets every client finish the request in hand.
    let mut node = Node::start(&database.url, &[]).await;
    url_sender.send_replace(node.base_url.clone());
    stop.store(true, Ordering::Relaxed);
    let mut models = Vec::new();
    for client in clients {
        models.push(client.await.expect("a client panicked"));
    }
    node.terminate().await;

    let db = database.connect().await;
    let totals = assert_end_state(&db, &database.url, &provider.id, &models).await;
    let through_pam: usize = models
        .iter()
        .filter(|model| model.player_id.starts_with("pam"))
        .map(|model| model.acked.len())
        .sum();
    {
        let log = log.lock().unwrap();
        assert!(
            log.violations.is_empty(),
            "answers outside the contract while retrying:\n{}",
            log.violations.join("\n")
        );
        println!(
            "crash test on {engine}: {kills} kills ({} SIGKILL at random moments, failpoints {:?}), \
             {} acknowledged transactions ({through_pam} through the PAM), {} answered as replays, {} attempts, retryable answers {:?}, \
             {} requests without an answer; lost {}, doubled {}; {:.1} s",
            deaths.random,
            deaths.failpoints,
            totals.acknowledged,
            totals.replays,
            totals.attempts,
            log.retryable,
            log.transport_errors,
            totals.lost,
            totals.doubled,
            started.elapsed().as_secs_f64()
        );
        assert!(totals.acknowledged > 0, "the clients got nothing done");
        assert!(through_pam > 0, "the PAM clients got nothing done");
    }

    // The end check is not vacuous: one acknowledgement the database never saw, and it
    // reports a lost transaction.
    let mut forged = models;
    forged[0].acked.insert(
        "never-stored".to_owned(),
        Expected {
            http_status: 200,
            state: "COMMITTED".to_owned(),
            entries: 2,
        },
    );
    let url = database.url.clone();
    let check =
        tokio::spawn(async move { assert_end_state(&db, &url, &provider.id, &forged).await });
    assert!(
        check.await.is_err_and(|e| e.is_panic()),
        "a forged acknowledgement must fail the end check"
    );
}

#[derive(Debug, Default)]
struct Deaths {
    random: u32,
    /// Lives ended by each failpoint.
    failpoints: BTreeMap<String, u32>,
}

impl Deaths {
    /// Counts the failpoint the process names on its way out.
    fn at_failpoint(&mut self, output: &str) {
        let point = output
            .lines()
            .rev()
            .find_map(|line| {
                line.strip_prefix("failpoint ")
                    .and_then(|rest| rest.split(':').next())
            })
            .unwrap_or("exit without a failpoint message")
            .to_owned();
        *self.failpoints.entry(point).or_default() += 1;
    }
}
