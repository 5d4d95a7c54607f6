//! Operator refunds of orphan debits: a rollback by the operator through the same
//! exactly-once path, audited; the provider's later rollback and win see it.
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn refund_path(provider: &TestProvider, bet: &Value) -> String {
    format!(
        "/operator/v1/providers/{}/transactions/{}/refund",
        provider.id,
        tx_id(bet)
    )
}

async fn refund(
    app: &TestApp,
    provider: &TestProvider,
    bet: &Value,
    refund_id: &str,
) -> ApiResponse {
    let body = json!({ "refund_id": refund_id, "reason": "provider never settled the round", "requested_by": "alice" });
    app.operator()
        .request(Method::POST, &refund_path(provider, bet), Some(&body))
        .await
}

#[tokio::test]
async fn an_operator_refund_of_an_orphan_debit_moves_money_once_and_is_audited() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 300);
    provider.bet(&bet).await.assert_ok();
    provider.assert_balance(&player, 700).await;

    let first = refund(&app, &provider, &bet, "ref-1").await;
    first.assert_ok().assert_fresh();
    assert_eq!(first.tx()["outcome"], "REFUNDED");
    provider.assert_balance(&player, 1_000).await;

    let again = refund(&app, &provider, &bet, "ref-1").await;
    again.assert_ok().assert_replay_of(&first);
    let other_id = refund(&app, &provider, &bet, "ref-2").await;
    assert_eq!(other_id.tx()["outcome"], "ALREADY_ROLLED_BACK");
    provider.assert_balance(&player, 1_000).await;

    // The provider's own rollback and win now meet a rolled-back bet.
    let rollback = provider
        .rollback(&player.rollback(&round, &tx_id(&bet)))
        .await;
    rollback.assert_ok();
    assert_eq!(rollback.tx()["outcome"], "ALREADY_ROLLED_BACK");
    provider
        .win(&player.win_for(&round, 500, &tx_id(&bet)))
        .await
        .assert_error("TRANSACTION_ROLLED_BACK");
    provider.assert_balance(&player, 1_000).await;

    let audited = app
        .query_i64(&format!(
            "SELECT COUNT(*) AS n FROM staff_audit WHERE action = 'REFUND_BET' AND actor = 'alice' AND subject_id = {}",
            quote(&format!("{}/{}", provider.id, tx_id(&bet)))
        ))
        .await;
    assert_eq!(
        audited, 2,
        "one audit record per refund id, none for the replay"
    );
    assert_invariants(&app).await;
}

#[tokio::test]
async fn refunds_of_settled_or_unknown_bets_are_refused() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 300);
    provider.bet(&bet).await.assert_ok();
    provider.win(&player.win(&round, 100)).await.assert_ok();

    refund(&app, &provider, &bet, "ref-settled")
        .await
        .assert_error("BET_ALREADY_SETTLED");
    let unknown = json!({ "transaction_id": "never-sent" });
    refund(&app, &provider, &unknown, "ref-unknown")
        .await
        .assert_error("REFERENCE_NOT_FOUND");
    let no_reason = app
        .operator()
        .request(
            Method::POST,
            &refund_path(&provider, &bet),
            Some(&json!({ "refund_id": "r" , "reason": " " })),
        )
        .await;
    no_reason.assert_error("MALFORMED_REQUEST");
    provider.assert_balance(&player, 800).await;
    assert_invariants(&app).await;
}
