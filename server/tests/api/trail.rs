//! The tamper-evident trail: each player's ledger postings form a hash chain that
//! `server verify-trail` (and `server::trail::verify`) checks; a direct edit or deletion
//! in the database is detected, clean data passes.
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::*;

async fn traffic(app: &TestApp) -> (TestProvider, TestPlayer) {
    let provider = TestProvider::new(app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    for amount in [100, 250, 75] {
        let round = player.new_round();
        provider.bet(&player.bet(&round, amount)).await.assert_ok();
        provider
            .win(&player.win(&round, amount * 2))
            .await
            .assert_ok();
    }
    (provider, player)
}

async fn execute(app: &TestApp, sql: &str) {
    app.db
        .execute(Statement::from_string(
            app.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn the_trail_of_untouched_data_verifies() {
    let app = spawn_app().await;
    let (_provider, _player) = traffic(&app).await;
    let report = server::trail::verify(&app.db).await.expect("verify runs");
    assert!(report.first_break.is_none(), "{report:?}");
    assert!(
        report.postings_checked >= 7,
        "deposit + 3 bets + 3 wins: {report:?}"
    );
}

#[tokio::test]
async fn an_edited_ledger_amount_breaks_the_trail_at_that_entry() {
    let app = spawn_app().await;
    let (_provider, player) = traffic(&app).await;
    let account = quote(&format!("player:{}", player.id));
    let victim = app
        .query_i64(&format!(
            "SELECT MAX(id) - 2 AS n FROM ledger_entries WHERE account = {account}"
        ))
        .await;
    execute(
        &app,
        &format!("UPDATE ledger_entries SET amount_minor = amount_minor + 1 WHERE id = {victim}"),
    )
    .await;
    let report = server::trail::verify(&app.db).await.expect("verify runs");
    let found = report.first_break.expect("the edit is detected");
    assert_eq!(found.player_id, player.id);
    assert_eq!(found.entry_id, Some(victim));
}

#[tokio::test]
async fn a_deleted_last_entry_and_a_forged_balance_are_detected() {
    let app = spawn_app().await;
    let (_provider, player) = traffic(&app).await;
    let account = quote(&format!("player:{}", player.id));
    let last = app
        .query_i64(&format!(
            "SELECT MAX(id) AS n FROM ledger_entries WHERE account = {account}"
        ))
        .await;
    let wallet_tx = app
        .query_i64(&format!(
            "SELECT wallet_transaction_id AS n FROM ledger_entries WHERE id = {last}"
        ))
        .await;
    execute(
        &app,
        &format!("DELETE FROM ledger_entries WHERE wallet_transaction_id = {wallet_tx}"),
    )
    .await;
    let report = server::trail::verify(&app.db).await.expect("verify runs");
    let found = report.first_break.expect("the deletion is detected");
    assert_eq!(found.player_id, player.id);
    assert_eq!(
        found.entry_id, None,
        "the chain head no longer matches: {found:?}"
    );
}

#[tokio::test]
async fn the_verify_trail_command_exits_non_zero_on_a_tampered_database() {
    let app = spawn_app().await;
    let (_provider, _player) = traffic(&app).await;
    let clean = run_subcommand("verify-trail", &app.database_url).await;
    assert!(
        clean.status.success(),
        "clean data verifies: {}",
        String::from_utf8_lossy(&clean.stderr)
    );
    execute(&app, "UPDATE ledger_entries SET balance_after_minor = 1 WHERE balance_after_minor IS NOT NULL AND id = (SELECT MIN(id) FROM ledger_entries)").await;
    let tampered = run_subcommand("verify-trail", &app.database_url).await;
    assert_eq!(
        tampered.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&tampered.stdout)
    );
    assert!(String::from_utf8_lossy(&tampered.stdout).contains("first_break"));
}
