//! SQLite's writer commits a batch before its fsync and answers it after
//! (docs/PERFORMANCE.md, "The fsync off the writer"). Meanwhile the batch is visible to
//! every reader, so nothing may be answered from it until it is on disk: not the bet's own
//! caller, not a replay of the bet, not a balance or a lookup that includes it.
//!
//! The fsync thread is held 1.5 s on every passage (`WALLET_FAILPOINT=before_wal_sync:pause=1500`),
//! so a commit stays visible and not yet durable long enough to ask for it.
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{money, unique_id};
use crate::node::{Node, Provider, TestDatabase};

const FSYNC_HELD: Duration = Duration::from_millis(1500);

#[tokio::test]
async fn nothing_is_answered_from_a_commit_before_its_fsync() {
    let database = TestDatabase::fresh().await;
    if !database.is_sqlite() {
        // PostgreSQL makes a commit visible only once it is durable.
        return;
    }
    let mut node = Node::start(
        &database.url,
        &[("WALLET_FAILPOINT", "before_wal_sync:pause=1500")],
    )
    .await;
    let url = node.base_url.clone();
    let provider = Provider::register(&url).await;
    let player_id = unique_id("player");
    let session = provider.player(&url, &player_id, 10_000).await;
    let bet = json!({
        "transaction_id": unique_id("bet"), "player_id": player_id, "game_id": provider.game_id,
        "round_id": unique_id("round"), "session_token": session, "amount": money(1_000, "EUR"),
    });
    let bet_bytes = serde_json::to_vec(&bet).unwrap();
    let balance =
        serde_json::to_vec(&json!({ "player_id": player_id, "currency": "EUR" })).unwrap();

    let sent = Instant::now();
    let first = {
        let (provider, url, bytes) = (provider.clone(), url.clone(), bet_bytes.clone());
        tokio::spawn(async move {
            let answer = provider
                .attempt(&url, Method::POST, "/wallet/v1/bet", &bytes, None)
                .await
                .expect("the bet's answer");
            (answer, sent.elapsed())
        })
    };
    // The batch commits at once; its fsync is held.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let timed = |path: &'static str, bytes: Vec<u8>| {
        let (provider, url) = (provider.clone(), url.clone());
        async move {
            let asked = Instant::now();
            let answer = provider
                .attempt(&url, Method::POST, path, &bytes, None)
                .await;
            (answer.expect("an answer"), asked.elapsed())
        }
    };
    let ((replay, replay_took), (balance, balance_took)) = tokio::join!(
        timed("/wallet/v1/bet", bet_bytes.clone()),
        timed("/wallet/v1/balance", balance),
    );
    let (first, first_took) = first.await.unwrap();

    assert_eq!(first.status, 200, "{}", first.body);
    assert!(
        first_took >= FSYNC_HELD,
        "the bet was answered before its fsync ({first_took:?})"
    );
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.body["replayed"], true, "{}", replay.body);
    assert_eq!(
        balance.body["balance"],
        money(9_000, "EUR"),
        "{}",
        balance.body
    );
    // Asked 0.3 s into a held fsync of 1.5 s: answered no sooner than its end.
    let earliest = FSYNC_HELD - Duration::from_millis(400);
    assert!(
        replay_took >= earliest,
        "a replay was answered from a commit not yet on disk (after {replay_took:?})"
    );
    assert!(
        balance_took >= earliest,
        "a balance was answered from a commit not yet on disk (after {balance_took:?})"
    );
    node.terminate().await;
}
