//! `POST /wallet/v1/balance` (section 4.1): a read, nothing stored but the attempt log.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_balance_endpoint_returns_the_players_balance() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 12_345).await;

    let response = provider
        .post(
            "/wallet/v1/balance",
            &json!({ "player_id": player.id, "currency": "EUR" }),
        )
        .await;

    response.assert_ok();
    assert_eq!(response.body["player_id"], player.id.as_str());
    assert_eq!(response.body["balance"], player.money(12_345));
    assert!(response.body["request_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn the_balance_follows_every_movement() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "KWD", 5_000).await;
    let round = player.new_round();
    provider.assert_balance(&player, 5_000).await;
    let bet = player.bet(&round, 1_234);
    provider.bet(&bet).await.assert_ok();
    provider.assert_balance(&player, 3_766).await;
    provider.win(&player.win(&round, 2_000)).await.assert_ok();
    provider.assert_balance(&player, 5_766).await;
    player.deposit(234).await;
    provider.assert_balance(&player, 6_000).await;
}

#[tokio::test]
async fn asking_for_a_balance_stores_nothing() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let transactions = app.transaction_count().await;
    let entries = app.ledger_entry_count().await;

    for _ in 0..3 {
        provider.assert_balance(&player, 1_000).await;
    }

    assert_eq!(app.transaction_count().await, transactions);
    assert_eq!(app.ledger_entry_count().await, entries);
}

#[tokio::test]
async fn the_balance_of_an_unknown_player_is_player_not_found() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let ghost = TestPlayer::unknown(&provider, "EUR");

    let response = provider
        .post(
            "/wallet/v1/balance",
            &json!({ "player_id": ghost.id, "currency": "EUR" }),
        )
        .await;

    response.assert_error("PLAYER_NOT_FOUND");
}

#[tokio::test]
async fn the_balance_in_another_currency_is_currency_mismatch() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;

    let response = provider
        .post(
            "/wallet/v1/balance",
            &json!({ "player_id": player.id, "currency": "USD" }),
        )
        .await;

    response.assert_error("CURRENCY_MISMATCH");
}

#[tokio::test]
async fn the_balance_in_an_unknown_currency_is_invalid_amount() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;

    for currency in ["XXX", "eur", "EURO"] {
        let response = provider
            .post(
                "/wallet/v1/balance",
                &json!({ "player_id": player.id, "currency": currency }),
            )
            .await;
        response.assert_error("INVALID_AMOUNT");
    }
}

#[tokio::test]
async fn a_malformed_balance_request_is_malformed_request() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;

    let bodies = [
        json!({ "currency": "EUR" }),
        json!({ "player_id": player.id }),
        json!({ "player_id": player.id, "currency": "EUR", "extra": 1 }),
        json!({ "player_id": "not an id!", "currency": "EUR" }),
        json!({ "player_id": 42, "currency": "EUR" }),
        json!([player.id, "EUR"]),
    ];
    for body in bodies {
        provider
            .post("/wallet/v1/balance", &body)
            .await
            .assert_error("MALFORMED_REQUEST");
    }
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_blocked_players_balance_can_still_be_read() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    player.set_status("BLOCKED").await;

    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn players_in_currencies_beyond_the_old_list_bet_and_win() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    for currency in ["NGN", "KES", "KZT", "GEL", "EGP", "UGX"] {
        let player = TestPlayer::with_balance(&provider, currency, 100_000).await;
        let round = player.new_round();
        let bet = player.bet(&round, 2_500);
        provider.bet(&bet).await.assert_ok();
        provider
            .win(&player.win_for(&round, 4_000, &tx_id(&bet)))
            .await
            .assert_ok();
        provider.assert_balance(&player, 101_500).await;
    }
    assert_invariants(&app).await;
}
