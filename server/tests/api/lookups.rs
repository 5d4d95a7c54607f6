//! Lookups (docs/API.md, "Lookups"): the status lookup for a caller whose request timed
//! out, the round lookup and the provider's transaction feed, all signed GETs scoped to the
//! calling provider.
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

async fn get(provider: &TestProvider, path: &str) -> ApiResponse {
    provider
        .call_raw(Method::GET, path, Vec::new())
        .send()
        .await
}

async fn status_of(provider: &TestProvider, transaction_id: &str) -> Value {
    let response = get(
        provider,
        &format!("/wallet/v1/transactions/{transaction_id}"),
    )
    .await;
    response.assert_status(200);
    response.body["lookup"].clone()
}

/// The attempt log is written in the background: wait until it holds `expected` attempts.
async fn status_with_attempts(
    provider: &TestProvider,
    transaction_id: &str,
    expected: u64,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lookup = status_of(provider, transaction_id).await;
        if lookup["attempts"].as_u64() == Some(expected) || Instant::now() > deadline {
            return lookup;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_status_lookup_shows_the_first_answer_every_attempt_and_the_current_state() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 300);
    let first = provider.bet(&bet).await;
    first.assert_ok();
    provider.bet(&bet).await.assert_ok();
    provider.bet(&bet).await.assert_ok();

    let lookup = status_with_attempts(&provider, &tx_id(&bet), 3).await;
    assert_eq!(lookup["attempts"], 3, "{lookup}");
    assert_eq!(lookup["state"], "COMMITTED");
    assert_eq!(lookup["op"], "BET");
    assert_eq!(lookup["original_response"]["http_status"], 200);
    assert_eq!(
        lookup["original_response"]["body"], first.body,
        "the body exactly as first sent"
    );

    let rollback = player.rollback(&round, &tx_id(&bet));
    provider.rollback(&rollback).await.assert_ok();
    let lookup = status_of(&provider, &tx_id(&bet)).await;
    assert_eq!(lookup["state"], "ROLLED_BACK");
    assert_eq!(lookup["related"][0]["transaction_id"], tx_id(&rollback));
    assert_eq!(lookup["related"][0]["outcome"], "REFUNDED");
}

#[tokio::test]
async fn unknown_tombstoned_and_foreign_ids_are_told_apart() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let other = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    provider.bet(&bet).await.assert_ok();

    assert_eq!(
        status_of(&provider, "never-sent").await["state"],
        "NOT_FOUND"
    );
    assert_eq!(
        status_of(&other, &tx_id(&bet)).await["state"],
        "NOT_FOUND",
        "scoped to the caller"
    );
    let round = player.new_round();
    provider
        .rollback(&player.rollback(&round, "late-bet"))
        .await
        .assert_ok();
    let tombstone = status_of(&provider, "late-bet").await;
    assert_eq!(tombstone["state"], "TOMBSTONE");
    assert_eq!(tombstone["original_response"], Value::Null);
    get(&provider, "/wallet/v1/transactions/bad%20id")
        .await
        .assert_error("MALFORMED_REQUEST");
}

#[tokio::test]
async fn the_round_lookup_lists_the_rounds_transactions_and_totals() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let path = format!("/wallet/v1/rounds/{round}?player_id={}", player.id);
    assert_eq!(
        get(&provider, &path).await.body["round"]["state"],
        "NOT_FOUND"
    );

    provider.bet(&player.bet(&round, 200)).await.assert_ok();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider.win(&player.win(&round, 450)).await.assert_ok();
    let open = get(&provider, &path).await;
    open.assert_status(200);
    assert_eq!(open.body["round"]["state"], "OPEN");
    let ops: Vec<&str> = open.body["round"]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tx| tx["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["BET", "BET", "WIN"], "in order");
    assert_eq!(open.body["round"]["totals"]["bets"]["value"], "300");
    assert_eq!(open.body["round"]["totals"]["wins"]["value"], "450");

    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();
    assert_eq!(get(&provider, &path).await.body["round"]["state"], "CLOSED");
    get(&provider, &format!("/wallet/v1/rounds/{round}"))
        .await
        .assert_error("MALFORMED_REQUEST");
}

#[tokio::test]
async fn the_feed_pages_through_the_providers_transactions_oldest_first() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let other = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let mut sent = Vec::new();
    for amount in [10, 20, 30, 40, 50] {
        let bet = player.bet(&player.new_round(), amount);
        provider.bet(&bet).await.assert_ok();
        sent.push(tx_id(&bet));
    }
    let stranger = TestPlayer::with_balance(&other, "EUR", 1_000).await;
    other
        .bet(&stranger.bet(&stranger.new_round(), 5))
        .await
        .assert_ok();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _page in 0..10 {
        let path = match &cursor {
            Some(cursor) => format!("/wallet/v1/transactions?limit=2&cursor={cursor}"),
            None => "/wallet/v1/transactions?limit=2".to_owned(),
        };
        let page = get(&provider, &path).await;
        page.assert_status(200);
        for tx in page.body["transactions"].as_array().unwrap() {
            seen.push(tx["transaction_id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen, sent,
        "every own transaction once, oldest first, none of the other provider's"
    );

    let later = get(
        &provider,
        "/wallet/v1/transactions?from=2999-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(later.body["transactions"].as_array().unwrap().len(), 0);
    for bad in ["limit=0", "limit=1001", "cursor=nonsense", "from=yesterday"] {
        get(&provider, &format!("/wallet/v1/transactions?{bad}"))
            .await
            .assert_error("MALFORMED_REQUEST");
    }
}
