//! The concurrent case is a test, not a hope: duplicates in parallel, bets racing their
//! rollbacks, a hot player. Every request runs on its own task so they truly overlap.

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::*;

/// Sends every (path, body) at once and returns the answers in the order given.
async fn send_all(
    provider: &TestProvider,
    requests: Vec<(&'static str, Value)>,
) -> Vec<ApiResponse> {
    let mut tasks = JoinSet::new();
    for (index, (path, body)) in requests.into_iter().enumerate() {
        let provider = provider.clone();
        tasks.spawn(async move { (index, provider.post(path, &body).await) });
    }
    let mut responses: Vec<(usize, ApiResponse)> = tasks.join_all().await;
    responses.sort_by_key(|(index, _)| *index);
    responses
        .into_iter()
        .map(|(_, response)| response)
        .collect()
}

fn fresh_count(responses: &[ApiResponse]) -> usize {
    responses.iter().filter(|r| !r.replayed()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_identical_bets_at_once_debit_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let bet = player.bet(&player.new_round(), 700);

    let responses = send_all(&provider, vec![("/wallet/v1/bet", bet.clone()); 50]).await;

    assert_eq!(fresh_count(&responses), 1, "exactly one execution");
    let first = responses
        .iter()
        .find(|r| !r.replayed())
        .expect("the execution");
    first.assert_ok();
    for response in &responses {
        if response.replayed() {
            response.assert_replay_of(first);
        }
    }
    provider.assert_balance(&player, 9_300).await;
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_different_bets_of_ten_against_a_balance_of_a_hundred_commit_exactly_ten() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 100).await;
    let round = player.new_round();
    let bets: Vec<(&str, Value)> = (0..50)
        .map(|_| ("/wallet/v1/bet", player.bet(&round, 10)))
        .collect();

    let responses = send_all(&provider, bets).await;

    let committed = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(committed, 10, "exactly ten bets fit");
    for response in &responses {
        assert!(!response.replayed());
        if response.status != 200 {
            response.assert_error("INSUFFICIENT_FUNDS");
        }
    }
    provider.assert_balance(&player, 0).await;
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bet_racing_its_own_rollback_leaves_the_balance_where_it_started() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let mut players = Vec::new();
    for _ in 0..20 {
        players.push(TestPlayer::with_balance(&provider, "EUR", 1_000).await);
    }
    let mut requests = Vec::new();
    let mut bets = Vec::new();
    for player in &players {
        let round = player.new_round();
        let bet = player.bet(&round, 300);
        requests.push(("/wallet/v1/rollback", player.rollback(&round, &tx_id(&bet))));
        requests.push(("/wallet/v1/bet", bet.clone()));
        bets.push(bet);
    }

    let responses = send_all(&provider, requests).await;

    for (index, player) in players.iter().enumerate() {
        let rollback = &responses[2 * index];
        let bet = &responses[2 * index + 1];
        rollback.assert_ok();
        match rollback.tx()["outcome"].as_str() {
            Some("REFUNDED") => {
                bet.assert_ok();
                assert_eq!(rollback.tx()["refunded"], player.money(300));
            }
            Some("TARGET_NOT_FOUND_TOMBSTONED") => {
                bet.assert_error("TRANSACTION_VOIDED");
                assert_eq!(bet.tx()["state"], "VOIDED_BY_PRIOR_ROLLBACK");
            }
            other => panic!("unexpected rollback outcome {other:?}: {}", rollback.body),
        }
        provider.assert_balance(player, 1_000).await;
        let state = app.stored_state(&provider, &tx_id(&bets[index])).await;
        assert!(
            matches!(
                state.as_deref(),
                Some("ROLLED_BACK" | "VOIDED_BY_PRIOR_ROLLBACK")
            ),
            "bet ended {state:?}"
        );
    }
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_identical_wins_at_once_credit_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    let win = player.win(&round, 5_000);

    let responses = send_all(&provider, vec![("/wallet/v1/win", win.clone()); 20]).await;

    assert_eq!(fresh_count(&responses), 1, "exactly one execution");
    let first = responses
        .iter()
        .find(|r| !r.replayed())
        .expect("the execution");
    first.assert_ok();
    for response in responses.iter().filter(|r| r.replayed()) {
        response.assert_replay_of(first);
    }
    provider.assert_balance(&player, 5_900).await;
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_identical_rollbacks_at_once_refund_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    let rollback = player.rollback(&round, &tx_id(&bet));

    let responses = send_all(
        &provider,
        vec![("/wallet/v1/rollback", rollback.clone()); 20],
    )
    .await;

    assert_eq!(fresh_count(&responses), 1);
    let first = responses
        .iter()
        .find(|r| !r.replayed())
        .expect("the execution");
    first.assert_ok();
    assert_eq!(first.tx()["outcome"], "REFUNDED");
    for response in responses.iter().filter(|r| r.replayed()) {
        response.assert_replay_of(first);
    }
    provider.assert_balance(&player, 1_000).await;
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_different_rollbacks_of_one_bet_at_once_refund_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    let rollbacks: Vec<(&str, Value)> = (0..20)
        .map(|_| ("/wallet/v1/rollback", player.rollback(&round, &tx_id(&bet))))
        .collect();

    let responses = send_all(&provider, rollbacks).await;

    let mut refunded = 0;
    for response in &responses {
        response.assert_ok().assert_fresh();
        match response.tx()["outcome"].as_str() {
            Some("REFUNDED") => refunded += 1,
            Some("ALREADY_ROLLED_BACK") => assert_eq!(response.tx()["refunded"], player.money(0)),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(refunded, 1, "exactly one rollback refunds");
    provider.assert_balance(&player, 1_000).await;
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_win_racing_a_rollback_of_its_bet_lets_exactly_one_through() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let mut cases = Vec::new();
    let mut requests = Vec::new();
    for _ in 0..10 {
        let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
        let round = player.new_round();
        let bet = player.bet(&round, 300);
        provider.bet(&bet).await.assert_ok();
        requests.push(("/wallet/v1/win", player.win_for(&round, 800, &tx_id(&bet))));
        requests.push(("/wallet/v1/rollback", player.rollback(&round, &tx_id(&bet))));
        cases.push((player, bet));
    }

    let responses = send_all(&provider, requests).await;

    for (index, (player, bet)) in cases.iter().enumerate() {
        let win = &responses[2 * index];
        let rollback = &responses[2 * index + 1];
        if win.status == 200 {
            rollback.assert_error("BET_ALREADY_SETTLED");
            provider.assert_balance(player, 1_500).await;
            assert_eq!(
                app.stored_state(&provider, &tx_id(bet)).await.as_deref(),
                Some("SETTLED")
            );
        } else {
            win.assert_error("TRANSACTION_ROLLED_BACK");
            rollback.assert_ok();
            assert_eq!(rollback.tx()["outcome"], "REFUNDED");
            provider.assert_balance(player, 1_000).await;
            assert_eq!(
                app.stored_state(&provider, &tx_id(bet)).await.as_deref(),
                Some("ROLLED_BACK")
            );
        }
    }
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_transaction_id_sent_at_once_with_two_meanings_executes_one_of_them() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let small = player.bet(&player.new_round(), 100);
    let mut large = small.clone();
    large["amount"] = player.money(2_000);
    let mut requests = Vec::new();
    for _ in 0..10 {
        requests.push(("/wallet/v1/bet", small.clone()));
        requests.push(("/wallet/v1/bet", large.clone()));
    }

    let responses = send_all(&provider, requests).await;

    let winner = responses
        .iter()
        .find(|r| r.status == 200 && !r.replayed())
        .expect("one execution");
    let winning_amount = minor_of(&winner.tx()["amount"], "EUR");
    for response in &responses {
        if response.status == 200 {
            assert_eq!(minor_of(&response.tx()["amount"], "EUR"), winning_amount);
            if response.replayed() {
                response.assert_replay_of(winner);
            }
        } else {
            response.assert_conflict(&["amount.value"]);
        }
    }
    assert_eq!(responses.iter().filter(|r| r.status == 200).count(), 10);
    assert_eq!(
        fresh_count(
            &responses
                .iter()
                .filter(|r| r.status == 200)
                .cloned()
                .collect::<Vec<_>>()
        ),
        1
    );
    provider
        .assert_balance(&player, 10_000 - winning_amount)
        .await;
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_player_under_mixed_traffic_ends_where_the_arithmetic_says() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let mut requests = Vec::new();
    for _ in 0..30 {
        requests.push(("/wallet/v1/bet", player.bet(&round, 10)));
        let mut promo = player.win(&player.new_round(), 5);
        promo["kind"] = json!("PROMO_WIN");
        requests.push(("/wallet/v1/win", promo));
    }
    let deposits: Vec<Value> = (0..10).map(|_| Operator::credit(7, "EUR")).collect();
    let operator = app.operator();
    let player_id = player.id.clone();
    let deposit_task = tokio::spawn(async move {
        let mut tasks = JoinSet::new();
        for deposit in deposits {
            let operator = operator.clone();
            let player_id = player_id.clone();
            tasks.spawn(async move { operator.adjust(&player_id, &deposit).await });
        }
        tasks.join_all().await
    });

    let responses = send_all(&provider, requests).await;
    let deposit_responses = deposit_task.await.expect("deposits");

    for response in &responses {
        response.assert_ok().assert_fresh();
    }
    for response in &deposit_responses {
        response.assert_ok();
    }
    provider
        .assert_balance(&player, 1_000 - 30 * 10 + 30 * 5 + 10 * 7)
        .await;
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_identical_adjustments_at_once_credit_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;
    let credit = Operator::credit(2_500, "EUR");
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let operator = app.operator();
        let credit = credit.clone();
        let player_id = player.id.clone();
        tasks.spawn(async move { operator.adjust(&player_id, &credit).await });
    }

    let responses = tasks.join_all().await;

    for response in &responses {
        response.assert_ok();
    }
    assert_eq!(fresh_count(&responses), 1);
    provider.assert_balance(&player, 2_500).await;
    assert_invariants(&app).await;
}
