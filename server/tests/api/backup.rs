//! `server backup` (SQLite): a copy taken under load restores (a server started on it,
//! nothing else) to a wallet that passes verification and holds every transaction
//! acknowledged before the backup began, and bets do not wait much longer while it runs.
//! PostgreSQL's procedure is proved by `scripts/pg-backup-drill.sh` (docs/OPERATIONS.md).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend};
use server::seed::SeedConfig;

use crate::helpers::*;

/// One bet as a client saw it.
struct Sent {
    started: Instant,
    answered: Instant,
    transaction_id: String,
}

fn p99(latencies: &mut [Duration]) -> Duration {
    latencies.sort();
    latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_backup_under_load_restores_whole_and_bets_barely_notice() {
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return; // PostgreSQL: scripts/pg-backup-drill.sh
    }
    // History to copy: a backup of a few pages would be over before a bet noticed it.
    let mut seed = SeedConfig::new(&app.database_url, 20_000);
    seed.print = false;
    server::seed::run(seed).await.expect("the seed runs");

    let provider = TestProvider::new(&app).await;
    let sent = Arc::new(Mutex::new(Vec::<Sent>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let player = TestPlayer::with_balance(&provider, "EUR", 100_000_000).await;
        let (provider, sent, stop) = (provider.clone(), Arc::clone(&sent), Arc::clone(&stop));
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let bet = player.bet(&player.new_round(), 1);
                let started = Instant::now();
                let answer = provider.bet(&bet).await;
                if answer.status == 200 {
                    sent.lock().unwrap().push(Sent {
                        started,
                        answered: Instant::now(),
                        transaction_id: bet["transaction_id"].as_str().unwrap().to_owned(),
                    });
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let copy = std::env::temp_dir().join(format!("oncewallet-backup-{}.db", uuid::Uuid::new_v4()));
    let began = Instant::now();
    let acknowledged_before: Vec<String> = sent
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.answered < began)
        .map(|s| s.transaction_id.clone())
        .collect();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["backup", "--to"])
        .arg(&copy)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the server binary runs");
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("a client");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the summary is JSON");
    assert!(
        summary["transactions"].as_i64() >= Some(20_000),
        "{summary}"
    );

    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let mut before: Vec<Duration> = sent
        .iter()
        .filter(|s| s.answered < began)
        .map(|s| s.answered - s.started)
        .collect();
    let mut during: Vec<Duration> = sent
        .iter()
        .filter(|s| s.started >= began && s.started < ended)
        .map(|s| s.answered - s.started)
        .collect();
    assert!(
        !before.is_empty() && !during.is_empty(),
        "bets before and during the backup"
    );
    let (before_p99, during_p99) = (p99(&mut before), p99(&mut during));
    eprintln!(
        "backup took {:?}; bets p99 {before_p99:?} before ({} bets), {during_p99:?} during ({} bets)",
        ended - began,
        before.len(),
        during.len()
    );
    assert!(
        during_p99 <= before_p99 + Duration::from_millis(100),
        "p99 {during_p99:?} during the backup against {before_p99:?} before it"
    );

    // A restore is starting a server on the copy.
    let restored = spawn_app_on_sqlite_file(copy.clone()).await;
    let held = restored
        .query_i64(&format!(
            "SELECT COUNT(*) AS n FROM wallet_transactions WHERE transaction_id IN ({})",
            acknowledged_before
                .iter()
                .map(|id| quote(id))
                .collect::<Vec<_>>()
                .join(",")
        ))
        .await;
    assert_eq!(
        held,
        acknowledged_before.len() as i64,
        "every bet acknowledged before the backup began is in it"
    );
    assert_invariants(&restored).await;
    let verified = run_subcommand("verify-trail", &restored.database_url).await;
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["backup", "--to"])
        .arg(&copy)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .await
        .expect("the server binary runs");
    assert_eq!(
        refused.status.code(),
        Some(1),
        "an existing file is never overwritten"
    );
}
