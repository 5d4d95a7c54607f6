//! A full database (docs/OPERATIONS.md, "A full disk"): SQLite's size cap lowered to the
//! file's size under load. Money operations answer only `503 TEMPORARY_UNAVAILABLE`
//! (retryable, nothing committed), replays, balances and lookups keep answering,
//! `/readyz` says why, and once the cap is lifted everything goes on by itself: every
//! refused bet, sent again, executes once; 0 lost, 0 doubled.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::Value;

use crate::dashboard::Staff;
use crate::helpers::*;
use crate::pg_cluster::{pg_bin_dir, Cluster};

#[derive(Default)]
struct Tally {
    /// Per player, the bets acknowledged (each 1 minor unit).
    acknowledged: HashMap<String, Vec<String>>,
    refused_full: u64,
    unexpected: Vec<String>,
}

#[tokio::test]
async fn a_full_sqlite_database_refuses_money_with_503_then_recovers_by_itself() {
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return; // PostgreSQL: the test below
    }
    let store = app.store.clone();
    let refill = store.clone();
    fill_and_free(
        &app,
        // The disk fills: no page beyond the file's size.
        move || store.space().set_sqlite_max_pages(1),
        // Space returns: nothing to do but lift the cap.
        move || refill.space().set_sqlite_max_pages(0),
    )
    .await;
}

/// Six clients bet throughout; `fill` makes the database unable to grow, `free` gives it
/// room again. Checks everything the module's comment promises.
async fn fill_and_free(app: &TestApp, fill: impl FnOnce(), free: impl FnOnce()) {
    let provider = TestProvider::new(app).await;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut players = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..6 {
        let player = TestPlayer::with_balance(&provider, "EUR", 1_000_000).await;
        players.push(player.clone());
        let (provider, tally, stop) = (provider.clone(), Arc::clone(&tally), Arc::clone(&stop));
        clients.push(tokio::spawn(async move {
            // A refused bet is sent again, same transaction id, until it executes.
            let mut pending: Option<Value> = None;
            loop {
                if pending.is_none() && stop.load(Ordering::Relaxed) {
                    break;
                }
                let bet = pending
                    .take()
                    .unwrap_or_else(|| player.bet(&player.new_round(), 1));
                let answer = provider
                    .call("/wallet/v1/bet", &bet)
                    .unavailable_expected()
                    .send()
                    .await;
                {
                    let mut tally = tally.lock().unwrap();
                    match (
                        answer.status,
                        answer.code(),
                        answer.body["error"]["retryable"].as_bool(),
                    ) {
                        (200, _, _) => tally
                            .acknowledged
                            .entry(player.id.clone())
                            .or_default()
                            .push(bet["transaction_id"].as_str().unwrap().to_owned()),
                        (503, Some("TEMPORARY_UNAVAILABLE"), Some(true)) => {
                            tally.refused_full += 1;
                            pending = Some(bet);
                        }
                        (status, code, _) => tally
                            .unexpected
                            .push(format!("{status} {code:?}: {}", answer.body)),
                    }
                }
                if pending.is_some() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let acknowledged_bet = {
        let tally = tally.lock().unwrap();
        let (player_id, ids) = tally.acknowledged.iter().next().expect("bets went through");
        (player_id.clone(), ids[0].clone())
    };

    // Signed in before the disk fills: a sign-in writes its session.
    let admin = Staff::admin(app).await;
    let (status, quiet) = admin.call("get_database_full", &[]).await;
    assert_eq!(
        (status.as_u16(), &quiet),
        (200, &Value::Null),
        "nothing to report yet"
    );

    fill();
    let mut refused = 0;
    for _ in 0..200 {
        refused = tally.lock().unwrap().refused_full;
        if refused >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        refused >= 20,
        "bets are refused once the database cannot grow: {refused}"
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.body["database"], "full", "{}", ready.body);
    // The console says so on every page.
    let (status, full) = admin.call("get_database_full", &[]).await;
    assert_eq!(status.as_u16(), 200, "{full}");
    assert!(
        full["error"]
            .as_str()
            .is_some_and(|e| e.contains("full") || e.contains("No space")),
        "{full}"
    );
    let page = admin.get("/players").await.text().await.expect("the page");
    assert!(
        page.contains("The database is full."),
        "the banner is on the page"
    );
    // Reads go on: a replay of an acknowledged bet, a balance, a lookup.
    let player = players.iter().find(|p| p.id == acknowledged_bet.0).unwrap();
    let replay = provider
        .bet(&serde_json::json!({
            "transaction_id": acknowledged_bet.1,
            "player_id": player.id,
            "round_id": "unused",
            "game_id": player.game_id,
            "session_token": player.session_token,
            "amount": player.money(1),
        }))
        .await;
    assert!(
        replay.status == 200 || replay.code() == Some("IDEMPOTENCY_CONFLICT"),
        "a stored answer is still given: {} {}",
        replay.status,
        replay.body
    );
    provider.balance_of(player).await;
    let lookup = provider
        .call_raw(
            Method::GET,
            &format!("/wallet/v1/transactions/{}", acknowledged_bet.1),
            Vec::new(),
        )
        .send()
        .await;
    assert_eq!(lookup.status, 200, "{}", lookup.body);

    free();
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("a client");
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    assert!(
        tally.unexpected.is_empty(),
        "only retryable 503s: {:?}",
        &tally.unexpected[..tally.unexpected.len().min(5)]
    );
    for player in &players {
        let ids = tally
            .acknowledged
            .get(&player.id)
            .cloned()
            .unwrap_or_default();
        let stored = app
            .query_i64(&format!(
                "SELECT COUNT(*) AS n FROM wallet_transactions WHERE player_id = {} AND op = 'BET'",
                quote(&player.id)
            ))
            .await;
        assert_eq!(
            stored,
            ids.len() as i64,
            "every acknowledged bet stored once, nothing else"
        );
        provider
            .assert_balance(player, 1_000_000 - ids.len() as i64)
            .await;
    }
    assert_invariants(app).await;
    let mut ready = app.get("/readyz").await;
    for _ in 0..100 {
        if ready.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        ready = app.get("/readyz").await;
    }
    assert_eq!(ready.status, 200, "ready again by itself: {}", ready.body);
    eprintln!(
        "full disk: {} bets refused with 503 and sent again, {} acknowledged",
        tally.refused_full,
        tally.acknowledged.values().map(Vec::len).sum::<usize>()
    );
}

/// PostgreSQL with its database in a tablespace on a small tmpfs, shrunk to what it holds
/// and then grown again. Needs root (to mount) and PostgreSQL's server binaries, as
/// `scripts/test.sh` runs it; elsewhere it says why and returns. The cluster is the test's
/// own: on a shared one, whichever backend evicts one of the full tablespace's dirty
/// buffers fails its own statement, so other tests' databases would fail with it.
#[tokio::test]
async fn a_full_postgresql_tablespace_refuses_money_with_503_then_recovers_by_itself() {
    if std::env::var("ONCEWALLET_TEST_PG_URL").is_err() {
        return; // SQLite: the test above
    }
    let Some(bin) = pg_bin_dir() else {
        eprintln!("skipped: no PostgreSQL server under /usr/lib/postgresql");
        return;
    };
    let Some(volume) = Tmpfs::mount(64) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); docs/OPERATIONS.md");
        return;
    };
    // Declared after the volume, so dropped before it: the cluster stops before the
    // tmpfs under its tablespace is unmounted.
    let cluster = Cluster::create(bin).await;
    cluster.start().await;
    let admin_url = cluster.url();
    let admin = sea_orm::Database::connect(&admin_url).await.expect("admin");
    admin
        .execute_unprepared(&format!(
            "CREATE TABLESPACE full_disk LOCATION '{}'",
            volume.path.display()
        ))
        .await
        .expect("create the tablespace");
    let url = create_pg_database_in(&admin_url, Some("full_disk")).await;
    let app = spawn_app_on(&url).await;
    let path = volume.path.clone();
    fill_and_free(
        &app,
        move || Tmpfs::resize(&path, Tmpfs::used_kb(&path) + 64),
        || Tmpfs::resize(&volume.path, 64 * 1024),
    )
    .await;
}

/// A tmpfs mounted for one test, owned by PostgreSQL's user; unmounted when dropped, after
/// the cluster that used it has stopped.
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(size_mb: u64) -> Option<Tmpfs> {
        let path = std::env::temp_dir().join(format!("oncewallet-tmpfs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).ok()?;
        let mounted = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_mb}m,mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .output()
            .is_ok_and(|output| output.status.success());
        let owned = mounted
            && std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&path)
                .status()
                .is_ok_and(|status| status.success());
        if !owned {
            let _ = std::process::Command::new("umount").arg(&path).status();
            let _ = std::fs::remove_dir(&path);
            return None;
        }
        Some(Tmpfs { path })
    }

    fn used_kb(path: &std::path::Path) -> u64 {
        let output = std::process::Command::new("df")
            .args(["--output=used", "-k"])
            .arg(path)
            .output()
            .expect("df");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .and_then(|line| line.trim().parse().ok())
            .expect("df's used column")
    }

    fn resize(path: &std::path::Path, size_kb: u64) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size_kb}k")])
            .arg(path)
            .status()
            .expect("mount");
        assert!(status.success(), "resize the tmpfs to {size_kb} KiB");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
        let _ = std::fs::remove_dir(&self.path);
    }
}
