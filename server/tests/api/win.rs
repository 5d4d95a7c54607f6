//! `POST /wallet/v1/win` (section 4.3): credits, what they settle, and their checks.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_win_credits_the_player_and_settles_the_bets_of_its_round() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    provider.assert_balance(&player, 900).await;
    let win = player.win(&round, 350);

    let response = provider.win(&win).await;

    response
        .assert_ok()
        .assert_fresh()
        .assert_transaction_shape("WIN", "COMMITTED");
    let tx = response.tx();
    assert_eq!(tx["transaction_id"], tx_id(&win).as_str());
    assert_eq!(tx["kind"], "WIN");
    assert_eq!(tx["player_id"], player.id.as_str());
    assert_eq!(tx["round_id"], round.as_str());
    assert_eq!(tx["game_id"], player.game_id.as_str());
    assert_eq!(tx["amount"], player.money(350));
    assert_eq!(tx["balance_after"], player.money(1_250));
    assert_eq!(response.body["balance"], player.money(1_250));
    provider.assert_balance(&player, 1_250).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("SETTLED")
    );
    provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await
        .assert_error("BET_ALREADY_SETTLED");
    provider.assert_balance(&player, 1_250).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_replayed_win_credits_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    let win = player.win(&round, 500);

    let first = provider.win(&win).await;
    first.assert_ok().assert_fresh();
    provider.assert_balance(&player, 1_400).await;
    for _ in 0..3 {
        provider.win(&win).await.assert_replay_of(&first);
        provider.assert_balance(&player, 1_400).await;
    }
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_win_of_zero_records_a_loss_and_settles_the_bet() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();

    let response = provider.win(&player.win(&round, 0)).await;

    response
        .assert_ok()
        .assert_transaction_shape("WIN", "COMMITTED");
    assert_eq!(response.tx()["amount"], player.money(0));
    provider.assert_balance(&player, 900).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("SETTLED")
    );
    provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await
        .assert_error("BET_ALREADY_SETTLED");
    provider.assert_balance(&player, 900).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_win_without_a_bet_in_its_round_is_reference_not_found_and_recorded() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let win = player.win(&round, 500);

    let first = provider.win(&win).await;
    first.assert_error("REFERENCE_NOT_FOUND");
    assert_eq!(first.tx()["transaction_id"], tx_id(&win).as_str());
    assert_eq!(first.tx()["state"], "DECLINED");
    assert_eq!(first.body["balance"], player.money(1_000));
    provider.assert_balance(&player, 1_000).await;

    // The bet arriving afterwards does not change the recorded answer of the win.
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider.win(&win).await.assert_replay_of(&first);
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_win_in_a_round_with_only_a_declined_bet_is_reference_not_found() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 100).await;
    let round = player.new_round();
    let bet = player.bet(&round, 5_000);
    provider.bet(&bet).await.assert_error("INSUFFICIENT_FUNDS");

    provider
        .win(&player.win(&round, 500))
        .await
        .assert_error("REFERENCE_NOT_FOUND");
    provider
        .win(&player.win_for(&round, 500, &tx_id(&bet)))
        .await
        .assert_error("REFERENCE_NOT_FOUND");
    provider.assert_balance(&player, 100).await;
}

#[tokio::test]
async fn a_win_referencing_an_unknown_bet_is_reference_not_found() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();

    let win = player.win_for(&round, 500, &unique_id("never-sent"));
    provider.win(&win).await.assert_error("REFERENCE_NOT_FOUND");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_win_referencing_another_players_bet_is_reference_not_found() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let other = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let other_bet = other.bet(&round, 100);
    provider.bet(&other_bet).await.assert_ok();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();

    provider
        .win(&player.win_for(&round, 500, &tx_id(&other_bet)))
        .await
        .assert_error("REFERENCE_NOT_FOUND");
    provider.assert_balance(&player, 900).await;
    provider.assert_balance(&other, 900).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&other_bet))
            .await
            .as_deref(),
        Some("COMMITTED")
    );
}

#[tokio::test]
async fn a_win_referencing_something_that_is_not_a_bet_is_reference_not_found() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    let first_win = player.win(&round, 10);
    provider.win(&first_win).await.assert_ok();

    provider
        .win(&player.win_for(&round, 500, &tx_id(&first_win)))
        .await
        .assert_error("REFERENCE_NOT_FOUND");
    provider.assert_balance(&player, 910).await;
}

#[tokio::test]
async fn a_win_for_a_rolled_back_bet_is_transaction_rolled_back() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await
        .assert_ok();
    provider.assert_balance(&player, 1_000).await;

    let with_reference = player.win_for(&round, 500, &tx_id(&bet));
    let first = provider.win(&with_reference).await;
    first.assert_error("TRANSACTION_ROLLED_BACK");
    assert_eq!(first.tx()["state"], "DECLINED");
    provider.win(&with_reference).await.assert_replay_of(&first);
    provider
        .win(&player.win(&round, 500))
        .await
        .assert_error("TRANSACTION_ROLLED_BACK");
    provider.assert_balance(&player, 1_000).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("ROLLED_BACK")
    );
}

#[tokio::test]
async fn a_win_referencing_a_tombstoned_id_is_transaction_rolled_back() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let lost_bet = player.bet(&round, 100);
    provider
        .rollback(&player.rollback(&round, &tx_id(&lost_bet)))
        .await
        .assert_ok();

    provider
        .win(&player.win_for(&round, 500, &tx_id(&lost_bet)))
        .await
        .assert_error("TRANSACTION_ROLLED_BACK");
    provider.assert_balance(&player, 1_000).await;

    // Once the late bet arrived and was voided, the same holds, with and without reference.
    provider
        .bet(&lost_bet)
        .await
        .assert_error("TRANSACTION_VOIDED");
    provider
        .win(&player.win_for(&round, 500, &tx_id(&lost_bet)))
        .await
        .assert_error("TRANSACTION_ROLLED_BACK");
    provider
        .win(&player.win(&round, 500))
        .await
        .assert_error("TRANSACTION_ROLLED_BACK");
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_win_without_reference_settles_the_bets_that_were_not_rolled_back() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let kept = player.bet(&round, 100);
    let cancelled = player.bet(&round, 200);
    provider.bet(&kept).await.assert_ok();
    provider.bet(&cancelled).await.assert_ok();
    provider
        .rollback(&player.rollback(&round, &tx_id(&cancelled)))
        .await
        .assert_ok();
    provider.assert_balance(&player, 900).await;

    provider.win(&player.win(&round, 300)).await.assert_ok();

    provider.assert_balance(&player, 1_200).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&kept)).await.as_deref(),
        Some("SETTLED")
    );
    assert_eq!(
        app.stored_state(&provider, &tx_id(&cancelled))
            .await
            .as_deref(),
        Some("ROLLED_BACK")
    );
}

#[tokio::test]
async fn a_win_without_reference_settles_every_bet_committed_before_it() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let first_bet = player.bet(&round, 100);
    let second_bet = player.bet(&round, 150);
    provider.bet(&first_bet).await.assert_ok();
    provider.bet(&second_bet).await.assert_ok();

    provider.win(&player.win(&round, 400)).await.assert_ok();
    provider.assert_balance(&player, 1_150).await;
    let later_bet = player.bet(&round, 50);
    provider.bet(&later_bet).await.assert_ok();
    provider.assert_balance(&player, 1_100).await;

    for bet in [&first_bet, &second_bet] {
        provider
            .rollback(&player.rollback(&round, &tx_id(bet)))
            .await
            .assert_error("BET_ALREADY_SETTLED");
    }
    // The bet placed after the win is still open and can be rolled back.
    let refund = provider
        .rollback(&player.rollback(&round, &tx_id(&later_bet)))
        .await;
    refund.assert_ok();
    assert_eq!(refund.tx()["outcome"], "REFUNDED");
    provider.assert_balance(&player, 1_150).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_win_with_a_reference_settles_only_that_bet() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let settled = player.bet(&round, 100);
    let open = player.bet(&round, 200);
    provider.bet(&settled).await.assert_ok();
    provider.bet(&open).await.assert_ok();

    let win = player.win_for(&round, 250, &tx_id(&settled));
    let response = provider.win(&win).await;
    response.assert_ok();
    provider.assert_balance(&player, 950).await;

    assert_eq!(
        app.stored_state(&provider, &tx_id(&settled))
            .await
            .as_deref(),
        Some("SETTLED")
    );
    assert_eq!(
        app.stored_state(&provider, &tx_id(&open)).await.as_deref(),
        Some("COMMITTED")
    );
    provider
        .rollback(&player.rollback(&round, &tx_id(&open)))
        .await
        .assert_ok();
    provider.assert_balance(&player, 1_150).await;
    provider
        .rollback(&player.rollback(&round, &tx_id(&settled)))
        .await
        .assert_error("BET_ALREADY_SETTLED");
    provider.assert_balance(&player, 1_150).await;
}

#[tokio::test]
async fn a_win_may_reference_a_bet_of_another_round() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet_round = player.new_round();
    let bet = player.bet(&bet_round, 100);
    provider.bet(&bet).await.assert_ok();

    provider
        .win(&player.win_for(&player.new_round(), 300, &tx_id(&bet)))
        .await
        .assert_ok();

    provider.assert_balance(&player, 1_200).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("SETTLED")
    );
}

#[tokio::test]
async fn several_wins_per_round_are_fine() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();

    provider.win(&player.win(&round, 50)).await.assert_ok();
    provider.win(&player.win(&round, 60)).await.assert_ok();
    provider
        .win(&player.win_for(&round, 70, &tx_id(&bet)))
        .await
        .assert_ok();

    provider.assert_balance(&player, 1_080).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_win_into_a_closed_round_is_round_closed() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();

    let win = player.win(&round, 500);
    let first = provider.win(&win).await;
    first.assert_error("ROUND_CLOSED");
    assert_eq!(first.tx()["state"], "DECLINED");
    provider.win(&win).await.assert_replay_of(&first);
    provider
        .win(&player.win_for(&round, 500, &tx_id(&bet)))
        .await
        .assert_error("ROUND_CLOSED");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn the_rolled_back_check_comes_before_the_closed_round_check() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await
        .assert_ok();
    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();

    provider
        .win(&player.win(&round, 500))
        .await
        .assert_error("TRANSACTION_ROLLED_BACK");
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn the_reference_check_comes_before_the_closed_round_check() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let mut bet = player.bet(&round, 100);
    bet["round_closed"] = json!(true);
    provider.bet(&bet).await.assert_ok();

    provider
        .win(&player.win_for(&round, 500, &unique_id("never-sent")))
        .await
        .assert_error("REFERENCE_NOT_FOUND");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_win_in_another_currency_is_currency_mismatch_before_any_reference_check() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let mut win = player.win(&player.new_round(), 500);
    win["amount"] = money(500, "USD");

    let first = provider.win(&win).await;
    first.assert_error("CURRENCY_MISMATCH");
    assert_eq!(first.tx()["state"], "DECLINED");
    provider.win(&win).await.assert_replay_of(&first);
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_win_for_an_unknown_player_is_player_not_found() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let ghost = TestPlayer::unknown(&provider, "EUR");
    let mut win = ghost.win(&ghost.new_round(), 500);
    win["kind"] = json!("PROMO_WIN");

    let first = provider.win(&win).await;
    first.assert_error("PLAYER_NOT_FOUND");
    provider.win(&win).await.assert_replay_of(&first);
}

#[tokio::test]
async fn promo_and_jackpot_wins_need_no_bet_and_no_round() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;

    let mut promo = player.win(&player.new_round(), 500);
    promo["kind"] = json!("PROMO_WIN");
    let response = provider.win(&promo).await;
    response
        .assert_ok()
        .assert_transaction_shape("WIN", "COMMITTED");
    assert_eq!(response.tx()["kind"], "PROMO_WIN");
    provider.assert_balance(&player, 500).await;

    let mut jackpot = player.win(&player.new_round(), 10_000);
    jackpot["kind"] = json!("JACKPOT_WIN");
    jackpot.as_object_mut().expect("object").remove("round_id");
    let response = provider.win(&jackpot).await;
    response.assert_ok();
    assert_eq!(response.tx()["kind"], "JACKPOT_WIN");
    provider.assert_balance(&player, 10_500).await;
    provider.win(&jackpot).await.assert_replay_of(&response);
    provider.assert_balance(&player, 10_500).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn promo_and_jackpot_wins_are_accepted_after_the_round_closed() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();

    for kind in ["PROMO_WIN", "JACKPOT_WIN"] {
        let mut win = player.win(&round, 1_000);
        win["kind"] = json!(kind);
        provider.win(&win).await.assert_ok();
    }
    provider.assert_balance(&player, 2_900).await;
}

#[tokio::test]
async fn a_free_win_needs_a_bet_like_a_win() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;
    let round = player.new_round();
    let mut orphan = player.win(&round, 300);
    orphan["kind"] = json!("FREE_WIN");
    provider
        .win(&orphan)
        .await
        .assert_error("REFERENCE_NOT_FOUND");
    provider.assert_balance(&player, 0).await;

    let mut free_bet = player.bet(&round, 100);
    free_bet["kind"] = json!("FREE_BET");
    provider.bet(&free_bet).await.assert_ok();
    let mut free_win = player.win(&round, 300);
    free_win["kind"] = json!("FREE_WIN");
    let response = provider.win(&free_win).await;
    response.assert_ok();
    assert_eq!(response.tx()["kind"], "FREE_WIN");
    provider.assert_balance(&player, 300).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&free_bet))
            .await
            .as_deref(),
        Some("SETTLED")
    );
}

#[tokio::test]
async fn wins_are_accepted_for_blocked_players_and_expired_sessions() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let mut player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    player.session_token = player.open_session(&provider, Some(1)).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    player.set_status("BLOCKED").await;

    provider.win(&player.win(&round, 300)).await.assert_ok();

    provider.assert_balance(&player, 1_200).await;
}

#[tokio::test]
async fn a_win_with_round_closed_closes_its_round_afterwards() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    let mut win = player.win(&round, 300);
    win["round_closed"] = json!(true);

    provider.win(&win).await.assert_ok();
    provider.assert_balance(&player, 1_200).await;

    provider
        .bet(&player.bet(&round, 100))
        .await
        .assert_error("ROUND_CLOSED");
    provider
        .win(&player.win(&round, 100))
        .await
        .assert_error("ROUND_CLOSED");
    provider.assert_balance(&player, 1_200).await;
}

#[tokio::test]
async fn a_win_reusing_a_bets_transaction_id_is_a_conflict_on_the_operation() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    let mut win = player.win(&round, 100);
    win["transaction_id"] = bet["transaction_id"].clone();

    let conflict = provider.win(&win).await;

    conflict.assert_error("IDEMPOTENCY_CONFLICT");
    assert!(
        conflict.conflict_fields().contains(&"op".to_owned()),
        "fields: {:?}",
        conflict.conflict_fields()
    );
    provider.assert_balance(&player, 900).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("COMMITTED")
    );
}

#[tokio::test]
async fn a_win_past_eighteen_digits_is_invalid_amount_and_not_recorded() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "JPY", MAX_BALANCE_MINOR).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 1)).await.assert_ok();
    provider
        .assert_balance(&player, MAX_BALANCE_MINOR - 1)
        .await;
    let mut win = player.win(&round, 2);

    provider.win(&win).await.assert_error("INVALID_AMOUNT");
    provider
        .assert_balance(&player, MAX_BALANCE_MINOR - 1)
        .await;
    assert_eq!(app.stored_state(&provider, &tx_id(&win)).await, None);

    // Not recorded: the corrected request with the same id executes.
    win["amount"] = player.money(1);
    provider.win(&win).await.assert_ok().assert_fresh();
    provider.assert_balance(&player, MAX_BALANCE_MINOR).await;
    assert_invariants(&app).await;
}
