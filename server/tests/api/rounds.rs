//! `POST /wallet/v1/rounds/close` (section 4.5) and how rounds are scoped.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn closing_a_round_returns_closed_and_refuses_later_bets_and_wins() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    let close = player.close_round(&round);

    let response = provider.close_round(&close).await;

    response
        .assert_ok()
        .assert_fresh()
        .assert_transaction_shape("CLOSE_ROUND", "COMMITTED");
    assert_eq!(response.tx()["transaction_id"], tx_id(&close).as_str());
    assert_eq!(response.tx()["round_state"], "CLOSED");
    assert_eq!(response.tx()["round_id"], round.as_str());
    assert_eq!(response.tx()["player_id"], player.id.as_str());
    assert_eq!(response.body["balance"], player.money(900));
    provider.assert_balance(&player, 900).await;
    let state = app
        .query(&format!(
            "SELECT state FROM rounds WHERE provider_id = {} AND player_id = {} AND round_id = {}",
            quote(&provider.id),
            quote(&player.id),
            quote(&round)
        ))
        .await;
    assert_eq!(state.len(), 1);
    assert_eq!(
        state[0].try_get::<String>("", "state").expect("state"),
        "CLOSED"
    );

    provider
        .bet(&player.bet(&round, 100))
        .await
        .assert_error("ROUND_CLOSED");
    provider
        .win(&player.win(&round, 100))
        .await
        .assert_error("ROUND_CLOSED");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_replayed_close_returns_the_first_answer() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    let close = player.close_round(&round);

    let first = provider.close_round(&close).await;
    first.assert_ok();
    provider.close_round(&close).await.assert_replay_of(&first);
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn closing_an_unknown_round_says_not_found_and_does_not_create_it() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let close = player.close_round(&round);

    let first = provider.close_round(&close).await;

    first
        .assert_ok()
        .assert_transaction_shape("CLOSE_ROUND", "COMMITTED");
    assert_eq!(first.tx()["round_state"], "NOT_FOUND");
    provider.close_round(&close).await.assert_replay_of(&first);
    // The round was not created closed: it can still be played.
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider.win(&player.win(&round, 300)).await.assert_ok();
    provider.assert_balance(&player, 1_200).await;
    // And the replay still says what it said then.
    provider.close_round(&close).await.assert_replay_of(&first);
}

#[tokio::test]
async fn closing_a_round_twice_with_different_ids_is_fine() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();

    let first = provider.close_round(&player.close_round(&round)).await;
    let second = provider.close_round(&player.close_round(&round)).await;

    first.assert_ok();
    second.assert_ok().assert_fresh();
    assert_eq!(second.tx()["round_state"], "CLOSED");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn closing_a_round_for_an_unknown_player_is_player_not_found_and_recorded() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let ghost = TestPlayer::unknown(&provider, "EUR");
    let close = ghost.close_round(&ghost.new_round());

    let first = provider.close_round(&close).await;
    first.assert_error("PLAYER_NOT_FOUND");
    assert_eq!(first.tx()["state"], "DECLINED");
    provider.close_round(&close).await.assert_replay_of(&first);
}

#[tokio::test]
async fn a_close_id_reused_for_another_round_is_a_conflict() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let other_round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider
        .bet(&player.bet(&other_round, 100))
        .await
        .assert_ok();
    let mut close = player.close_round(&round);
    provider.close_round(&close).await.assert_ok();

    close["round_id"] = json!(other_round);
    provider
        .close_round(&close)
        .await
        .assert_conflict(&["round_id"]);

    // The other round stayed open.
    provider
        .bet(&player.bet(&other_round, 100))
        .await
        .assert_ok();
    provider.assert_balance(&player, 700).await;
}

#[tokio::test]
async fn rounds_are_scoped_by_player() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let alice = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bob = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = alice.new_round();
    provider.bet(&alice.bet(&round, 100)).await.assert_ok();
    provider.bet(&bob.bet(&round, 100)).await.assert_ok();

    provider
        .close_round(&alice.close_round(&round))
        .await
        .assert_ok();

    provider
        .bet(&alice.bet(&round, 100))
        .await
        .assert_error("ROUND_CLOSED");
    provider.bet(&bob.bet(&round, 100)).await.assert_ok();
    provider.win(&bob.win(&round, 500)).await.assert_ok();
    provider.assert_balance(&alice, 900).await;
    provider.assert_balance(&bob, 1_300).await;
}

#[tokio::test]
async fn rounds_are_scoped_by_provider() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let other_provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let mut player_elsewhere = player.clone();
    player_elsewhere.game_id.clone_from(&other_provider.game_id);
    player_elsewhere.session_token = player_elsewhere.open_session(&other_provider, None).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    other_provider
        .bet(&player_elsewhere.bet(&round, 100))
        .await
        .assert_ok();

    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();

    provider
        .bet(&player.bet(&round, 100))
        .await
        .assert_error("ROUND_CLOSED");
    other_provider
        .bet(&player_elsewhere.bet(&round, 100))
        .await
        .assert_ok();
    provider.assert_balance(&player, 700).await;
}

#[tokio::test]
async fn a_round_close_is_accepted_for_a_blocked_player() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    player.set_status("BLOCKED").await;

    let response = provider.close_round(&player.close_round(&round)).await;

    response.assert_ok();
    assert_eq!(response.tx()["round_state"], "CLOSED");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_close_reusing_a_bets_transaction_id_is_a_conflict_on_the_operation() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    let mut close = player.close_round(&round);
    close["transaction_id"] = bet["transaction_id"].clone();

    let conflict = provider.close_round(&close).await;

    conflict.assert_error("IDEMPOTENCY_CONFLICT");
    assert!(
        conflict.conflict_fields().contains(&"op".to_owned()),
        "fields: {:?}",
        conflict.conflict_fields()
    );
    // Nothing changed: the round is still open.
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider.assert_balance(&player, 800).await;
}
