//! `POST /wallet/v1/rollback` (section 4.4): refunds, tombstones and what cannot be undone.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_rollback_refunds_the_original_amount_of_a_committed_bet() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    provider.assert_balance(&player, 600).await;
    let rollback = player.rollback(&round, &tx_id(&bet));

    let response = provider.rollback(&rollback).await;

    response
        .assert_ok()
        .assert_fresh()
        .assert_transaction_shape("ROLLBACK", "COMMITTED");
    let tx = response.tx();
    assert_eq!(tx["transaction_id"], tx_id(&rollback).as_str());
    assert_eq!(tx["player_id"], player.id.as_str());
    assert_eq!(tx["target_transaction_id"], tx_id(&bet).as_str());
    assert_eq!(tx["outcome"], "REFUNDED");
    assert_eq!(tx["refunded"], player.money(400));
    assert_eq!(tx["amount_hint_mismatch"], false);
    assert_eq!(tx["balance_after"], player.money(1_000));
    assert_eq!(response.body["balance"], player.money(1_000));
    provider.assert_balance(&player, 1_000).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("ROLLED_BACK")
    );
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_replayed_rollback_refunds_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    let rollback = player.rollback(&round, &tx_id(&bet));

    let first = provider.rollback(&rollback).await;
    first.assert_ok();
    provider.assert_balance(&player, 1_000).await;
    for _ in 0..3 {
        provider.rollback(&rollback).await.assert_replay_of(&first);
        provider.assert_balance(&player, 1_000).await;
    }
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_second_rollback_of_the_same_bet_is_already_rolled_back_and_moves_nothing() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await
        .assert_ok();

    let second = provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await;

    second
        .assert_ok()
        .assert_fresh()
        .assert_transaction_shape("ROLLBACK", "COMMITTED");
    assert_eq!(second.tx()["outcome"], "ALREADY_ROLLED_BACK");
    assert_eq!(second.tx()["refunded"], player.money(0));
    provider.assert_balance(&player, 1_000).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn the_refund_is_the_original_amount_whatever_the_hint_says() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    let mut rollback = player.rollback(&round, &tx_id(&bet));
    rollback["amount_hint"] = player.money(900);

    let response = provider.rollback(&rollback).await;

    response.assert_ok();
    assert_eq!(response.tx()["outcome"], "REFUNDED");
    assert_eq!(response.tx()["refunded"], player.money(400));
    assert_eq!(response.tx()["amount_hint_mismatch"], true);
    provider.assert_balance(&player, 1_000).await;

    // The hint is not part of the fingerprint.
    rollback["amount_hint"] = player.money(400);
    provider
        .rollback(&rollback)
        .await
        .assert_replay_of(&response);
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_matching_hint_is_no_mismatch_and_a_hint_in_another_currency_is_one() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let first_bet = player.bet(&round, 400);
    let second_bet = player.bet(&round, 300);
    provider.bet(&first_bet).await.assert_ok();
    provider.bet(&second_bet).await.assert_ok();

    let mut matching = player.rollback(&round, &tx_id(&first_bet));
    matching["amount_hint"] = player.money(400);
    let response = provider.rollback(&matching).await;
    response.assert_ok();
    assert_eq!(response.tx()["amount_hint_mismatch"], false);
    provider.assert_balance(&player, 700).await;

    let mut foreign = player.rollback(&round, &tx_id(&second_bet));
    foreign["amount_hint"] = money(300, "USD");
    let response = provider.rollback(&foreign).await;
    response.assert_ok();
    assert_eq!(response.tx()["amount_hint_mismatch"], true);
    assert_eq!(response.tx()["refunded"], player.money(300));
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn reason_and_metadata_do_not_make_a_conflict() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    let mut rollback = player.rollback(&round, &tx_id(&bet));
    rollback["reason"] = json!("game client crashed");
    let first = provider.rollback(&rollback).await;
    first.assert_ok();

    rollback["reason"] = json!("retry after timeout");
    rollback["metadata"] = json!({ "attempt": 2 });
    provider.rollback(&rollback).await.assert_replay_of(&first);
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_rollback_id_reused_for_another_target_is_a_conflict() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let first_bet = player.bet(&round, 400);
    let second_bet = player.bet(&round, 100);
    provider.bet(&first_bet).await.assert_ok();
    provider.bet(&second_bet).await.assert_ok();
    let mut rollback = player.rollback(&round, &tx_id(&first_bet));
    provider.rollback(&rollback).await.assert_ok();

    rollback["target_transaction_id"] = second_bet["transaction_id"].clone();
    provider
        .rollback(&rollback)
        .await
        .assert_conflict(&["target_transaction_id"]);

    provider.assert_balance(&player, 900).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&second_bet))
            .await
            .as_deref(),
        Some("COMMITTED")
    );
}

#[tokio::test]
async fn a_rollback_of_an_unknown_bet_leaves_a_tombstone_and_moves_nothing() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let lost_bet = player.bet(&round, 400);
    let rollback = player.rollback(&round, &tx_id(&lost_bet));

    let response = provider.rollback(&rollback).await;

    response
        .assert_ok()
        .assert_fresh()
        .assert_transaction_shape("ROLLBACK", "COMMITTED");
    assert_eq!(
        response.tx()["target_transaction_id"],
        tx_id(&lost_bet).as_str()
    );
    assert_eq!(response.tx()["outcome"], "TARGET_NOT_FOUND_TOMBSTONED");
    assert_eq!(response.tx()["refunded"], player.money(0));
    provider.assert_balance(&player, 1_000).await;
    provider
        .rollback(&rollback)
        .await
        .assert_replay_of(&response);
    let tombstones = app
        .query_i64(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM tombstones WHERE provider_id = {} AND transaction_id = {}",
            quote(&provider.id),
            quote(&tx_id(&lost_bet))
        ))
        .await;
    assert_eq!(tombstones, 1);

    // The bet arriving late is voided and moves nothing.
    let late = provider.bet(&lost_bet).await;
    late.assert_error("TRANSACTION_VOIDED");
    assert_eq!(late.tx()["state"], "VOIDED_BY_PRIOR_ROLLBACK");
    provider.assert_balance(&player, 1_000).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_rollback_of_a_tombstoned_id_is_already_rolled_back() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let lost_bet = player.bet(&round, 400);
    provider
        .rollback(&player.rollback(&round, &tx_id(&lost_bet)))
        .await
        .assert_ok();

    let before_late_bet = provider
        .rollback(&player.rollback(&round, &tx_id(&lost_bet)))
        .await;
    before_late_bet.assert_ok();
    assert_eq!(before_late_bet.tx()["outcome"], "ALREADY_ROLLED_BACK");
    assert_eq!(before_late_bet.tx()["refunded"], player.money(0));

    provider
        .bet(&lost_bet)
        .await
        .assert_error("TRANSACTION_VOIDED");
    let after_late_bet = provider
        .rollback(&player.rollback(&round, &tx_id(&lost_bet)))
        .await;
    after_late_bet.assert_ok();
    assert_eq!(after_late_bet.tx()["outcome"], "ALREADY_ROLLED_BACK");
    assert_eq!(after_late_bet.tx()["refunded"], player.money(0));
    provider.assert_balance(&player, 1_000).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&lost_bet))
            .await
            .as_deref(),
        Some("VOIDED_BY_PRIOR_ROLLBACK")
    );
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_rollback_of_a_settled_bet_is_bet_already_settled_and_recorded() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    provider.win(&player.win(&round, 100)).await.assert_ok();
    provider.assert_balance(&player, 700).await;
    let rollback = player.rollback(&round, &tx_id(&bet));

    let first = provider.rollback(&rollback).await;

    first.assert_error("BET_ALREADY_SETTLED");
    assert_eq!(first.tx()["transaction_id"], tx_id(&rollback).as_str());
    assert_eq!(first.tx()["state"], "DECLINED");
    assert_eq!(first.body["balance"], player.money(700));
    provider.rollback(&rollback).await.assert_replay_of(&first);
    provider.assert_balance(&player, 700).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("SETTLED")
    );
}

#[tokio::test]
async fn a_rollback_of_anything_but_a_bet_is_not_reversible() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    let win = player.win_for(&round, 100, &tx_id(&bet));
    provider.win(&win).await.assert_ok();
    let other_round = player.new_round();
    let other_bet = player.bet(&other_round, 50);
    provider.bet(&other_bet).await.assert_ok();
    let refund = player.rollback(&other_round, &tx_id(&other_bet));
    provider.rollback(&refund).await.assert_ok();
    let close = player.close_round(&other_round);
    provider.close_round(&close).await.assert_ok();
    provider.assert_balance(&player, 700).await;

    for target in [&win, &refund, &close] {
        let rollback = player.rollback(&round, &tx_id(target));
        let first = provider.rollback(&rollback).await;
        first.assert_error("NOT_REVERSIBLE");
        assert_eq!(first.tx()["state"], "DECLINED");
        provider.rollback(&rollback).await.assert_replay_of(&first);
        provider.assert_balance(&player, 700).await;
    }
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_rollback_of_a_declined_bet_is_not_reversible() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 100).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_error("INSUFFICIENT_FUNDS");

    provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await
        .assert_error("NOT_REVERSIBLE");

    provider.assert_balance(&player, 100).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("DECLINED")
    );
}

#[tokio::test]
async fn a_rollback_of_another_players_bet_is_reference_not_found() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let owner = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let stranger = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = owner.new_round();
    let bet = owner.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();

    let first = provider
        .rollback(&stranger.rollback(&round, &tx_id(&bet)))
        .await;

    first.assert_error("REFERENCE_NOT_FOUND");
    assert_eq!(first.body["balance"], stranger.money(1_000));
    provider.assert_balance(&owner, 600).await;
    provider.assert_balance(&stranger, 1_000).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("COMMITTED")
    );
    // The owner can still roll it back.
    provider
        .rollback(&owner.rollback(&round, &tx_id(&bet)))
        .await
        .assert_ok();
    provider.assert_balance(&owner, 1_000).await;
}

#[tokio::test]
async fn a_rollback_for_an_unknown_player_is_player_not_found() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let ghost = TestPlayer::unknown(&provider, "EUR");
    let rollback = ghost.rollback(&ghost.new_round(), &unique_id("bet"));

    let first = provider.rollback(&rollback).await;
    first.assert_error("PLAYER_NOT_FOUND");
    assert_eq!(first.tx()["state"], "DECLINED");
    provider.rollback(&rollback).await.assert_replay_of(&first);
}

#[tokio::test]
async fn a_rollback_of_a_free_bet_refunds_zero() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let mut bet = player.bet(&round, 400);
    bet["kind"] = json!("FREE_BET");
    provider.bet(&bet).await.assert_ok();

    let response = provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await;

    response.assert_ok();
    assert_eq!(response.tx()["outcome"], "REFUNDED");
    assert_eq!(response.tx()["refunded"], player.money(0));
    provider.assert_balance(&player, 1_000).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("ROLLED_BACK")
    );
}

#[tokio::test]
async fn rollbacks_are_accepted_in_closed_rounds_for_blocked_players_and_expired_sessions() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let mut player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    player.session_token = player.open_session(&provider, Some(1)).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();
    player.set_status("BLOCKED").await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;

    let response = provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await;

    response.assert_ok();
    assert_eq!(response.tx()["outcome"], "REFUNDED");
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_rollback_at_one_provider_does_not_touch_another_providers_bet() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let other_provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();

    let response = other_provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await;

    response.assert_ok();
    assert_eq!(response.tx()["outcome"], "TARGET_NOT_FOUND_TOMBSTONED");
    provider.assert_balance(&player, 600).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("COMMITTED")
    );
}

#[tokio::test]
async fn a_rollback_reusing_a_bets_transaction_id_is_a_conflict_on_the_operation() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    let mut rollback = player.rollback(&round, &tx_id(&bet));
    rollback["transaction_id"] = bet["transaction_id"].clone();

    let conflict = provider.rollback(&rollback).await;

    conflict.assert_error("IDEMPOTENCY_CONFLICT");
    assert!(
        conflict.conflict_fields().contains(&"op".to_owned()),
        "fields: {:?}",
        conflict.conflict_fields()
    );
    provider.assert_balance(&player, 600).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("COMMITTED")
    );
}
