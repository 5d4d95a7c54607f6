//! `POST /wallet/v1/bet` (section 4.2) and the replay rules every money operation shares
//! (sections 1 and 4: replays, conflicts, declines recorded as the key's outcome).

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_bet_debits_the_player_and_returns_the_committed_transaction() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 1_250);

    let response = provider.bet(&bet).await;

    response
        .assert_ok()
        .assert_fresh()
        .assert_transaction_shape("BET", "COMMITTED");
    let tx = response.tx();
    assert_eq!(tx["transaction_id"], tx_id(&bet).as_str());
    assert_eq!(tx["kind"], "BET");
    assert_eq!(tx["player_id"], player.id.as_str());
    assert_eq!(tx["round_id"], round.as_str());
    assert_eq!(tx["game_id"], player.game_id.as_str());
    assert_eq!(tx["amount"], player.money(1_250));
    assert_eq!(tx["balance_after"], player.money(8_750));
    assert_eq!(response.body["balance"], player.money(8_750));
    provider.assert_balance(&player, 8_750).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_replayed_bet_debits_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let bet = player.bet(&player.new_round(), 1_000);

    let first = provider.bet(&bet).await;
    first.assert_ok().assert_fresh();
    provider.assert_balance(&player, 9_000).await;

    for _ in 0..3 {
        let again = provider.bet(&bet).await;
        again.assert_ok().assert_replay_of(&first);
        assert_eq!(again.balance_minor(), 9_000);
        provider.assert_balance(&player, 9_000).await;
    }
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_replay_reports_the_current_balance_and_the_original_balance_after() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let round = player.new_round();
    let first_bet = player.bet(&round, 1_000);
    let first = provider.bet(&first_bet).await;
    first.assert_ok();
    provider.bet(&player.bet(&round, 2_000)).await.assert_ok();
    provider.assert_balance(&player, 7_000).await;

    let replay = provider.bet(&first_bet).await;

    replay.assert_replay_of(&first);
    assert_eq!(replay.tx()["balance_after"], player.money(9_000));
    assert_eq!(replay.body["balance"], player.money(7_000));
    provider.assert_balance(&player, 7_000).await;
}

#[tokio::test]
async fn a_bet_of_the_whole_balance_leaves_zero() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 500).await;

    provider
        .bet(&player.bet(&player.new_round(), 500))
        .await
        .assert_ok();

    provider.assert_balance(&player, 0).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn bets_work_in_currencies_of_every_scale() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    for currency in ["EUR", "USD", "JPY", "KWD", "BTC", "USDT"] {
        let player = TestPlayer::with_balance(&provider, currency, 1_000_000).await;
        let response = provider
            .bet(&player.bet(&player.new_round(), 123_456))
            .await;
        response.assert_ok();
        assert_eq!(response.tx()["amount"], player.money(123_456), "{currency}");
        assert_eq!(
            response.body["balance"],
            player.money(876_544),
            "{currency}"
        );
        provider.assert_balance(&player, 876_544).await;
    }
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_insufficient_funds_decline_is_recorded_and_replayed_after_a_deposit() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 300).await;
    let bet = player.bet(&player.new_round(), 1_000);

    let first = provider.bet(&bet).await;
    first.assert_error("INSUFFICIENT_FUNDS").assert_fresh();
    assert_eq!(first.tx()["transaction_id"], tx_id(&bet).as_str());
    assert_eq!(first.tx()["state"], "DECLINED");
    assert_eq!(first.body["balance"], player.money(300));
    provider.assert_balance(&player, 300).await;

    player.deposit(5_000).await;
    provider.assert_balance(&player, 5_300).await;

    let replay = provider.bet(&bet).await;
    replay
        .assert_error("INSUFFICIENT_FUNDS")
        .assert_replay_of(&first);
    assert_eq!(
        replay.body["balance"],
        player.money(5_300),
        "a replay shows the current balance"
    );
    provider.assert_balance(&player, 5_300).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("DECLINED")
    );
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_declined_key_reused_with_another_amount_is_a_conflict() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 300).await;
    let mut bet = player.bet(&player.new_round(), 1_000);
    provider.bet(&bet).await.assert_error("INSUFFICIENT_FUNDS");

    bet["amount"] = player.money(100);
    provider.bet(&bet).await.assert_conflict(&["amount.value"]);

    provider.assert_balance(&player, 300).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("DECLINED")
    );
}

#[tokio::test]
async fn a_reused_transaction_id_with_another_amount_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let bet = player.bet(&player.new_round(), 1_000);
    let first = provider.bet(&bet).await;
    first.assert_ok();

    let mut changed = bet.clone();
    changed["amount"] = player.money(2_000);
    let conflict = provider.bet(&changed).await;

    conflict.assert_conflict(&["amount.value"]);
    provider.assert_balance(&player, 9_000).await;
    // The original still stands and replays.
    provider.bet(&bet).await.assert_replay_of(&first);
    provider.assert_balance(&player, 9_000).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn each_fingerprint_field_is_named_in_the_conflict() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let other_player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let bet = player.bet(&player.new_round(), 1_000);
    provider.bet(&bet).await.assert_ok();

    let variants: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (
            {
                let mut b = bet.clone();
                b["player_id"] = json!(other_player.id);
                b["session_token"] = json!(other_player.session_token);
                b
            },
            vec!["player_id"],
        ),
        (
            {
                let mut b = bet.clone();
                b["round_id"] = json!(player.new_round());
                b
            },
            vec!["round_id"],
        ),
        (
            {
                let mut b = bet.clone();
                b["game_id"] = json!(unique_id("game"));
                b
            },
            vec!["game_id"],
        ),
        (
            {
                let mut b = bet.clone();
                b["kind"] = json!("FREE_BET");
                b
            },
            vec!["kind"],
        ),
        (
            {
                let mut b = bet.clone();
                b["round_closed"] = json!(true);
                b
            },
            vec!["round_closed"],
        ),
        (
            {
                let mut b = bet.clone();
                b["amount"] = money(1_000, "USD");
                b
            },
            vec!["amount.currency"],
        ),
        (
            {
                let mut b = bet.clone();
                b["amount"] = money(1_500, "USD");
                b["round_closed"] = json!(true);
                b
            },
            vec!["amount.currency", "amount.value", "round_closed"],
        ),
    ];
    for (body, fields) in variants {
        provider.bet(&body).await.assert_conflict(&fields);
    }

    provider.assert_balance(&player, 9_000).await;
    provider.assert_balance(&other_player, 10_000).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn fields_outside_the_fingerprint_do_not_make_a_conflict() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let bet = player.bet(&player.new_round(), 1_000);
    let first = provider.bet(&bet).await;
    first.assert_ok();

    let mut resent = bet.clone();
    resent["metadata"] = json!({ "spin": 7, "note": "resent by the provider's retry loop" });
    resent["session_token"] = json!(unique_id("another-session"));
    provider.bet(&resent).await.assert_replay_of(&first);

    // Explicit defaults count as the omitted ones.
    let mut explicit = bet.clone();
    explicit["kind"] = json!("BET");
    explicit["round_closed"] = json!(false);
    provider.bet(&explicit).await.assert_replay_of(&first);

    provider.assert_balance(&player, 9_000).await;
}

#[tokio::test]
async fn the_same_transaction_id_at_two_providers_is_two_bets() {
    let app = spawn_app().await;
    let provider_a = TestProvider::new(&app).await;
    let provider_b = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider_a, "EUR", 10_000).await;
    let mut player_at_b = player.clone();
    player_at_b.game_id.clone_from(&provider_b.game_id);
    player_at_b.session_token = player_at_b.open_session(&provider_b, None).await;

    let bet_a = player.bet(&player.new_round(), 1_000);
    let mut bet_b = player_at_b.bet(&player.new_round(), 1_000);
    bet_b["transaction_id"] = bet_a["transaction_id"].clone();

    provider_a.bet(&bet_a).await.assert_ok().assert_fresh();
    provider_b.bet(&bet_b).await.assert_ok().assert_fresh();

    provider_a.assert_balance(&player, 8_000).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_free_bet_moves_no_money_but_is_recorded() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    // A free bet is how a player without money plays free spins.
    let player = TestPlayer::new(&provider, "EUR").await;
    let mut bet = player.bet(&player.new_round(), 200);
    bet["kind"] = json!("FREE_BET");

    let first = provider.bet(&bet).await;

    first
        .assert_ok()
        .assert_fresh()
        .assert_transaction_shape("BET", "COMMITTED");
    assert_eq!(first.tx()["kind"], "FREE_BET");
    assert_eq!(first.tx()["amount"], player.money(200));
    assert_eq!(first.tx()["balance_after"], player.money(0));
    provider.assert_balance(&player, 0).await;
    provider.bet(&bet).await.assert_replay_of(&first);
    provider.assert_balance(&player, 0).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("COMMITTED")
    );
    assert_invariants(&app).await;
}

// --- The checks of section 4.2, in order ------------------------------------------

#[tokio::test]
async fn a_bet_for_an_unknown_player_is_player_not_found_and_recorded() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let ghost = TestPlayer::unknown(&provider, "EUR");
    let bet = ghost.bet(&ghost.new_round(), 100);

    let first = provider.bet(&bet).await;

    first.assert_error("PLAYER_NOT_FOUND").assert_fresh();
    assert_eq!(first.tx()["transaction_id"], tx_id(&bet).as_str());
    assert_eq!(first.tx()["state"], "DECLINED");
    assert!(
        first
            .body
            .get("balance")
            .is_none_or(serde_json::Value::is_null),
        "no balance for nobody"
    );
    provider
        .bet(&bet)
        .await
        .assert_error("PLAYER_NOT_FOUND")
        .assert_replay_of(&first);
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("DECLINED")
    );
}

#[tokio::test]
async fn a_bet_with_an_unknown_session_is_session_invalid() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let mut bet = player.bet(&player.new_round(), 100);
    bet["session_token"] = json!(unique_id("forged-session"));

    let first = provider.bet(&bet).await;

    first.assert_error("SESSION_INVALID");
    assert_eq!(first.tx()["state"], "DECLINED");
    assert_eq!(first.body["balance"], player.money(1_000));
    provider.assert_balance(&player, 1_000).await;
    provider.bet(&bet).await.assert_replay_of(&first);
}

#[tokio::test]
async fn a_session_of_another_player_game_or_provider_is_session_invalid() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let other_provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let other_player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();

    let mut foreign_player = player.bet(&round, 100);
    foreign_player["session_token"] = json!(other_player.session_token);
    provider
        .bet(&foreign_player)
        .await
        .assert_error("SESSION_INVALID");

    let mut foreign_game = player.bet(&round, 100);
    foreign_game["game_id"] = json!(unique_id("game"));
    provider
        .bet(&foreign_game)
        .await
        .assert_error("SESSION_INVALID");

    // A session issued for another provider's game, used by this provider.
    let mut at_other = player.clone();
    at_other.game_id.clone_from(&other_provider.game_id);
    let other_session = at_other.open_session(&other_provider, None).await;
    let mut foreign_provider = at_other.bet(&round, 100);
    foreign_provider["session_token"] = json!(other_session);
    provider
        .bet(&foreign_provider)
        .await
        .assert_error("SESSION_INVALID");

    provider.assert_balance(&player, 1_000).await;
    provider.assert_balance(&other_player, 1_000).await;
    // The player's own session still works.
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_bet_in_an_expired_session_is_session_expired() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let mut player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    player.session_token = player.open_session(&provider, Some(1)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let bet = player.bet(&player.new_round(), 100);

    let first = provider.bet(&bet).await;

    first.assert_error("SESSION_EXPIRED");
    assert_eq!(first.tx()["state"], "DECLINED");
    provider.assert_balance(&player, 1_000).await;
    provider.bet(&bet).await.assert_replay_of(&first);
}

#[tokio::test]
async fn a_newer_session_supersedes_the_older_one_for_bets() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let mut player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let old_bet = player.bet(&player.new_round(), 100);
    player.session_token = player.open_session(&provider, None).await;

    provider.bet(&old_bet).await.assert_error("SESSION_EXPIRED");
    provider.assert_balance(&player, 1_000).await;
    provider
        .bet(&player.bet(&player.new_round(), 100))
        .await
        .assert_ok();
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn session_checks_come_before_the_blocked_check() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let mut expiring = player.clone();
    expiring.session_token = expiring.open_session(&provider, Some(1)).await;
    player.set_status("BLOCKED").await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;

    let mut forged = player.bet(&player.new_round(), 100);
    forged["session_token"] = json!(unique_id("forged"));
    provider.bet(&forged).await.assert_error("SESSION_INVALID");
    provider
        .bet(&expiring.bet(&player.new_round(), 100))
        .await
        .assert_error("SESSION_EXPIRED");
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_bet_by_a_blocked_player_is_player_blocked() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    player.set_status("BLOCKED").await;
    let bet = player.bet(&player.new_round(), 100);

    let first = provider.bet(&bet).await;
    first.assert_error("PLAYER_BLOCKED");
    assert_eq!(first.tx()["state"], "DECLINED");
    assert_eq!(first.body["balance"], player.money(1_000));
    provider.assert_balance(&player, 1_000).await;

    // Unblocking does not change the recorded answer of this key.
    player.set_status("ACTIVE").await;
    provider.bet(&bet).await.assert_replay_of(&first);
    provider.assert_balance(&player, 1_000).await;
    provider
        .bet(&player.bet(&player.new_round(), 100))
        .await
        .assert_ok();
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn the_blocked_check_comes_before_the_currency_check() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    player.set_status("BLOCKED").await;
    let mut bet = player.bet(&player.new_round(), 100);
    bet["amount"] = money(100, "USD");

    provider.bet(&bet).await.assert_error("PLAYER_BLOCKED");
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_bet_in_another_currency_is_currency_mismatch() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let mut bet = player.bet(&player.new_round(), 100);
    bet["amount"] = money(100, "USD");

    let first = provider.bet(&bet).await;

    first.assert_error("CURRENCY_MISMATCH");
    assert_eq!(first.tx()["state"], "DECLINED");
    assert_eq!(first.body["balance"], player.money(1_000));
    provider.bet(&bet).await.assert_replay_of(&first);
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn the_currency_check_comes_before_the_closed_round_check() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();

    let mut bet = player.bet(&round, 100);
    bet["amount"] = money(100, "USD");
    provider.bet(&bet).await.assert_error("CURRENCY_MISMATCH");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_bet_in_a_closed_round_is_round_closed() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();
    provider.assert_balance(&player, 900).await;

    let bet = player.bet(&round, 100);
    let first = provider.bet(&bet).await;

    first.assert_error("ROUND_CLOSED");
    assert_eq!(first.tx()["state"], "DECLINED");
    assert_eq!(first.body["balance"], player.money(900));
    provider.bet(&bet).await.assert_replay_of(&first);
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn the_closed_round_check_comes_before_the_tombstone_check() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    let late_bet = player.bet(&round, 100);
    provider
        .rollback(&player.rollback(&round, &tx_id(&late_bet)))
        .await
        .assert_ok();
    provider
        .close_round(&player.close_round(&round))
        .await
        .assert_ok();

    provider.bet(&late_bet).await.assert_error("ROUND_CLOSED");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_bet_named_by_an_earlier_rollback_is_voided() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let late_bet = player.bet(&round, 400);
    provider
        .rollback(&player.rollback(&round, &tx_id(&late_bet)))
        .await
        .assert_ok();
    provider.assert_balance(&player, 1_000).await;

    let first = provider.bet(&late_bet).await;

    first.assert_error("TRANSACTION_VOIDED").assert_fresh();
    assert_eq!(first.tx()["transaction_id"], tx_id(&late_bet).as_str());
    assert_eq!(first.tx()["state"], "VOIDED_BY_PRIOR_ROLLBACK");
    assert_eq!(first.body["balance"], player.money(1_000));
    provider.assert_balance(&player, 1_000).await;
    provider
        .bet(&late_bet)
        .await
        .assert_error("TRANSACTION_VOIDED")
        .assert_replay_of(&first);
    provider.assert_balance(&player, 1_000).await;
    assert_eq!(
        app.stored_state(&provider, &tx_id(&late_bet))
            .await
            .as_deref(),
        Some("VOIDED_BY_PRIOR_ROLLBACK")
    );
    assert_invariants(&app).await;
}

#[tokio::test]
async fn the_tombstone_check_comes_before_the_funds_check() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 100).await;
    let round = player.new_round();
    let late_bet = player.bet(&round, 5_000);
    provider
        .rollback(&player.rollback(&round, &tx_id(&late_bet)))
        .await
        .assert_ok();

    provider
        .bet(&late_bet)
        .await
        .assert_error("TRANSACTION_VOIDED");
    provider.assert_balance(&player, 100).await;
}

#[tokio::test]
async fn a_bet_with_round_closed_closes_its_round_afterwards() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let mut bet = player.bet(&round, 100);
    bet["round_closed"] = json!(true);

    provider.bet(&bet).await.assert_ok();
    provider.assert_balance(&player, 900).await;

    provider
        .bet(&player.bet(&round, 100))
        .await
        .assert_error("ROUND_CLOSED");
    provider
        .win(&player.win(&round, 300))
        .await
        .assert_error("ROUND_CLOSED");
    provider.assert_balance(&player, 900).await;
}

// --- Replays after the world changed ------------------------------------------------

#[tokio::test]
async fn a_replay_after_the_player_was_blocked_returns_the_stored_success() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    let first = provider.bet(&bet).await;
    first.assert_ok();

    player.set_status("BLOCKED").await;

    provider
        .bet(&bet)
        .await
        .assert_ok()
        .assert_replay_of(&first);
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_replay_after_the_round_closed_and_the_bet_settled_returns_the_stored_success() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    let first = provider.bet(&bet).await;
    first.assert_ok();
    let mut win = player.win(&round, 250);
    win["round_closed"] = json!(true);
    provider.win(&win).await.assert_ok();
    provider.assert_balance(&player, 1_150).await;

    let replay = provider.bet(&bet).await;

    replay.assert_ok().assert_replay_of(&first);
    assert_eq!(
        replay.tx()["state"],
        "COMMITTED",
        "the replay shows the state the bet had then"
    );
    assert_eq!(replay.body["balance"], player.money(1_150));
    assert_eq!(
        app.stored_state(&provider, &tx_id(&bet)).await.as_deref(),
        Some("SETTLED")
    );
    provider.assert_balance(&player, 1_150).await;
}

#[tokio::test]
async fn a_replay_after_the_session_expired_returns_the_stored_success() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let mut player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    player.session_token = player.open_session(&provider, Some(1)).await;
    let bet = player.bet(&player.new_round(), 100);
    let first = provider.bet(&bet).await;
    first.assert_ok();
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;

    provider
        .bet(&bet)
        .await
        .assert_ok()
        .assert_replay_of(&first);
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_replay_on_a_restarted_server_returns_the_first_answer() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    let declined = player.bet(&round, 5_000);
    let first = provider.bet(&bet).await;
    first.assert_ok();
    let first_decline = provider.bet(&declined).await;
    first_decline.assert_error("INSUFFICIENT_FUNDS");

    let app = app.restart().await;
    let provider = provider.on(&app);

    provider
        .bet(&bet)
        .await
        .assert_ok()
        .assert_replay_of(&first);
    provider
        .bet(&declined)
        .await
        .assert_error("INSUFFICIENT_FUNDS")
        .assert_replay_of(&first_decline);
    provider.assert_balance(&player.on(&app), 900).await;
    assert_invariants(&app).await;
}
