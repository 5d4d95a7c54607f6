//! Internal reconciliation: every check finds the fault seeded for it by direct SQL (as a
//! bug or a hand edit would leave it), clean data yields nothing, findings are never
//! duplicated, clear by themselves, and move through OPEN → ACKNOWLEDGED → RESOLVED.
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use server::db::entities::{
    discrepancy, ledger_entry, player, round, tombstone, wallet_transaction,
};
use server::db::{Store, WriterConfig};
use server::reconcile::discrepancies::{self, DiscrepancyError};
use server::reconcile::{run_once, RunOutcome, RunSummary, Thresholds, Trigger};

use crate::helpers::*;

const CUR: &str = "EUR";

/// A second handle on the app's database, as the job and the dashboard hold one.
async fn store_of(app: &TestApp) -> Store {
    Store::connect(&app.database_url, WriterConfig::default())
        .await
        .expect("connect a store to the app's database")
}

async fn reconcile(store: &Store) -> RunSummary {
    match run_once(store, Trigger::Manual, Thresholds::default())
        .await
        .expect("reconciliation runs")
    {
        RunOutcome::Finished(summary) => summary,
        RunOutcome::Skipped => panic!("nothing else runs reconciliation in this test"),
    }
}

async fn findings(app: &TestApp, kind: &str) -> Vec<discrepancy::Model> {
    discrepancy::Entity::find()
        .filter(discrepancy::Column::Kind.eq(kind))
        .all(&app.db)
        .await
        .expect("read discrepancies")
}

async fn all_findings(app: &TestApp) -> Vec<discrepancy::Model> {
    discrepancy::Entity::find()
        .all(&app.db)
        .await
        .expect("read discrepancies")
}

/// The one finding of `kind`, asserting there is exactly one.
async fn the_finding(app: &TestApp, kind: &str) -> discrepancy::Model {
    let mut found = findings(app, kind).await;
    assert_eq!(found.len(), 1, "one {kind} finding expected: {found:?}");
    found.remove(0)
}

/// A player who bet, won, bet again and got it rolled back, in closed rounds: every
/// kind of movement, all of it consistent.
async fn busy_player(provider: &TestProvider) -> (TestPlayer, String) {
    let player = TestPlayer::with_balance(provider, CUR, 10_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 1_000);
    provider.bet(&bet).await.assert_ok();
    let mut win = player.win_for(&round, 2_500, &tx_id(&bet));
    win["round_closed"] = serde_json::json!(true);
    provider.win(&win).await.assert_ok();
    let round2 = player.new_round();
    let bet2 = player.bet(&round2, 700);
    provider.bet(&bet2).await.assert_ok();
    let mut rollback = player.rollback(&round2, &tx_id(&bet2));
    rollback["round_closed"] = serde_json::json!(true);
    provider.rollback(&rollback).await.assert_ok();
    (player, tx_id(&bet))
}

async fn backdate_transaction(app: &TestApp, transaction_id: &str, minutes: i64) {
    wallet_transaction::Entity::update_many()
        .col_expr(
            wallet_transaction::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::Duration::minutes(minutes)),
        )
        .filter(wallet_transaction::Column::TransactionId.eq(transaction_id))
        .exec(&app.db)
        .await
        .expect("backdate the transaction");
}

async fn set_balance(app: &TestApp, player_id: &str, balance_minor: i64) {
    player::Entity::update_many()
        .col_expr(player::Column::BalanceMinor, Expr::value(balance_minor))
        .filter(player::Column::Id.eq(player_id))
        .exec(&app.db)
        .await
        .expect("edit the balance");
}

#[tokio::test]
async fn clean_data_yields_no_finding() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    for _ in 0..3 {
        busy_player(&provider).await;
    }
    let store = store_of(&app).await;
    let summary = reconcile(&store).await;
    assert_eq!(summary.findings, 0, "checks: {:?}", summary.checks);
    assert_eq!(summary.critical_open, 0);
    assert!(all_findings(&app).await.is_empty());
}

#[tokio::test]
async fn a_balance_edited_in_the_database_is_a_critical_player_finding() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let (player, _) = busy_player(&provider).await;
    let (other, _) = busy_player(&provider).await;
    set_balance(&app, &player.id, 999_999).await;

    let summary = reconcile(&store_of(&app).await).await;

    let finding = the_finding(&app, "BALANCE_MISMATCH").await;
    assert_eq!(
        (
            finding.severity.as_str(),
            finding.subject_type.as_str(),
            finding.status.as_str()
        ),
        ("CRITICAL", "PLAYER", "OPEN")
    );
    assert_eq!(finding.subject_id, player.id);
    assert_ne!(finding.subject_id, other.id);
    let details: serde_json::Value = serde_json::from_str(&finding.details).unwrap();
    assert_eq!(details["balance_minor"], 999_999);
    assert_eq!(details["ledger_sum_minor"], 10_000 - 1_000 + 2_500);
    assert_eq!(
        summary.findings, 1,
        "only the balance is wrong: {:?}",
        summary.checks
    );
    assert_eq!(summary.critical_open, 1);
}

#[tokio::test]
async fn a_deleted_ledger_entry_breaks_its_transaction_balance_clearing_account_and_trail() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let (player, bet_id) = busy_player(&provider).await;
    let bet = wallet_transaction::Entity::find()
        .filter(wallet_transaction::Column::TransactionId.eq(bet_id.as_str()))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the bet is stored");
    let deleted = ledger_entry::Entity::delete_many()
        .filter(ledger_entry::Column::WalletTransactionId.eq(bet.id))
        .filter(ledger_entry::Column::Account.eq(format!("player:{}", player.id)))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected, 1);

    let summary = reconcile(&store_of(&app).await).await;

    let unbalanced = the_finding(&app, "UNBALANCED_TRANSACTION").await;
    assert_eq!(unbalanced.subject_type, "TRANSACTION");
    assert_eq!(unbalanced.subject_id, format!("{}/{bet_id}", provider.id));
    assert_eq!(
        unbalanced.provider_id.as_deref(),
        Some(provider.id.as_str())
    );
    let balance = the_finding(&app, "BALANCE_MISMATCH").await;
    assert_eq!(balance.subject_id, player.id);
    let clearing = the_finding(&app, "CLEARING_MISMATCH").await;
    assert_eq!(
        clearing.subject_id,
        format!("provider:{}:{CUR}", provider.id)
    );
    // The player's hash chain no longer verifies either.
    let trail = the_finding(&app, "TRAIL_BROKEN").await;
    assert_eq!(trail.subject_id, player.id);
    assert!([unbalanced, balance, clearing, trail]
        .iter()
        .all(|f| f.severity == "CRITICAL" && f.status == "OPEN"));
    assert_eq!(summary.findings, 4, "checks: {:?}", summary.checks);
}

#[tokio::test]
async fn a_committed_bet_in_an_open_round_past_the_threshold_is_a_pending_rollback() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 5_000).await;
    let round = player.new_round();
    let young = player.bet(&round, 100);
    provider.bet(&young).await.assert_ok();
    let old = player.bet(&round, 300);
    provider.bet(&old).await.assert_ok();
    backdate_transaction(&app, &tx_id(&old), 31).await;
    let store = store_of(&app).await;

    reconcile(&store).await;

    let pending = the_finding(&app, "PENDING_ROLLBACK").await;
    assert_eq!(pending.severity, "WARNING");
    assert_eq!(
        pending.subject_id,
        format!("{}/{}", provider.id, tx_id(&old))
    );
    let details: serde_json::Value = serde_json::from_str(&pending.details).unwrap();
    assert_eq!(details["amount_minor"], 300);
    assert_eq!(details["round_id"], round.as_str());

    // Rolled back by the provider at last: the money is no longer stuck.
    provider
        .rollback(&player.rollback(&round, &tx_id(&old)))
        .await
        .assert_ok();
    reconcile(&store).await;
    let cleared = the_finding(&app, "PENDING_ROLLBACK").await;
    assert_eq!(cleared.status, "RESOLVED");
}

#[tokio::test]
async fn a_round_open_for_more_than_48_hours_is_stale() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 5_000).await;
    let fresh_round = player.new_round();
    provider
        .bet(&player.bet(&fresh_round, 100))
        .await
        .assert_ok();
    let stale_round = player.new_round();
    provider
        .bet(&player.bet(&stale_round, 100))
        .await
        .assert_ok();
    round::Entity::update_many()
        .col_expr(
            round::Column::OpenedAt,
            Expr::value(Utc::now() - chrono::Duration::hours(49)),
        )
        .filter(round::Column::RoundId.eq(stale_round.as_str()))
        .exec(&app.db)
        .await
        .unwrap();

    reconcile(&store_of(&app).await).await;

    let stale = the_finding(&app, "STALE_ROUND").await;
    assert_eq!(
        (stale.severity.as_str(), stale.subject_type.as_str()),
        ("WARNING", "ROUND")
    );
    assert_eq!(
        stale.subject_id,
        format!("{}/{}/{stale_round}", provider.id, player.id)
    );
}

#[tokio::test]
async fn a_tombstone_whose_bet_never_came_is_reported_once_old_enough() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 5_000).await;
    let round = player.new_round();
    let never_sent = unique_id("bet");
    let response = provider
        .rollback(&player.rollback(&round, &never_sent))
        .await;
    response.assert_ok();
    let store = store_of(&app).await;

    reconcile(&store).await;
    assert!(
        findings(&app, "UNCLAIMED_TOMBSTONE").await.is_empty(),
        "a young tombstone may still see its bet"
    );

    tombstone::Entity::update_many()
        .col_expr(
            tombstone::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::Duration::minutes(31)),
        )
        .filter(tombstone::Column::TransactionId.eq(never_sent.as_str()))
        .exec(&app.db)
        .await
        .unwrap();
    reconcile(&store).await;

    let tomb = the_finding(&app, "UNCLAIMED_TOMBSTONE").await;
    assert_eq!(tomb.severity, "WARNING");
    assert_eq!(tomb.subject_id, format!("{}/{never_sent}", provider.id));
}

#[tokio::test]
async fn a_rollback_whose_amount_hint_differed_is_an_info_finding() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 5_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 400);
    provider.bet(&bet).await.assert_ok();
    let mut rollback = player.rollback(&round, &tx_id(&bet));
    rollback["amount_hint"] = player.money(450);
    let response = provider.rollback(&rollback).await;
    response.assert_ok();
    assert_eq!(response.tx()["amount_hint_mismatch"], true);
    let honest_bet = player.bet(&round, 200);
    provider.bet(&honest_bet).await.assert_ok();
    let mut honest = player.rollback(&round, &tx_id(&honest_bet));
    honest["amount_hint"] = player.money(200);
    provider.rollback(&honest).await.assert_ok();

    let summary = reconcile(&store_of(&app).await).await;

    let hint = the_finding(&app, "AMOUNT_HINT_MISMATCH").await;
    assert_eq!(hint.severity, "INFO");
    assert_eq!(
        hint.subject_id,
        format!("{}/{}", provider.id, tx_id(&rollback))
    );
    assert_eq!(summary.critical_open, 0);
}

#[tokio::test]
async fn a_bet_in_an_unknown_state_is_a_critical_finding() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 5_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    wallet_transaction::Entity::update_many()
        .col_expr(
            wallet_transaction::Column::State,
            Expr::value("IN_PROGRESS"),
        )
        .filter(wallet_transaction::Column::TransactionId.eq(tx_id(&bet)))
        .exec(&app.db)
        .await
        .unwrap();

    reconcile(&store_of(&app).await).await;

    let unknown = the_finding(&app, "BET_STATE_UNKNOWN").await;
    assert_eq!(unknown.severity, "CRITICAL");
    assert!(
        unknown.details.contains("IN_PROGRESS"),
        "{}",
        unknown.details
    );
}

#[tokio::test]
async fn rerunning_never_duplicates_and_a_cleared_condition_resolves_itself() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let (player, _) = busy_player(&provider).await;
    let true_balance = provider.balance_of(&player).await;
    set_balance(&app, &player.id, true_balance + 1).await;
    let store = store_of(&app).await;

    let first = reconcile(&store).await;
    let seen = the_finding(&app, "BALANCE_MISMATCH").await;
    let second = reconcile(&store).await;
    let again = the_finding(&app, "BALANCE_MISMATCH").await;
    assert_eq!((first.opened, second.opened), (1, 0));
    assert_eq!(again.id, seen.id);
    assert_eq!(again.first_seen_at, seen.first_seen_at);
    assert!(again.last_seen_at > seen.last_seen_at, "last_seen moves on");

    // Acknowledged findings keep their status while the condition lasts…
    discrepancies::acknowledge(&store, seen.id, "alice", Some("looking"))
        .await
        .unwrap();
    reconcile(&store).await;
    assert_eq!(
        the_finding(&app, "BALANCE_MISMATCH").await.status,
        "ACKNOWLEDGED"
    );

    // …and are resolved by the job once it clears.
    set_balance(&app, &player.id, true_balance).await;
    let cleared = reconcile(&store).await;
    assert_eq!(cleared.auto_resolved, 1);
    assert_eq!(cleared.critical_open, 0);
    let resolved = the_finding(&app, "BALANCE_MISMATCH").await;
    assert_eq!(resolved.status, "RESOLVED");
    assert_eq!(resolved.resolved_by.as_deref(), Some("reconciliation"));
    assert!(resolved
        .resolution_note
        .as_deref()
        .is_some_and(|note| note.contains("cleared")));

    // If it comes back, the same record opens again.
    set_balance(&app, &player.id, true_balance + 5).await;
    let back = reconcile(&store).await;
    assert_eq!(back.opened, 1);
    let reopened = the_finding(&app, "BALANCE_MISMATCH").await;
    assert_eq!((reopened.id, reopened.status.as_str()), (seen.id, "OPEN"));
    assert_eq!(reopened.resolved_by, None);
}

#[tokio::test]
async fn people_acknowledge_then_resolve_and_bad_transitions_are_refused() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let (player, _) = busy_player(&provider).await;
    set_balance(&app, &player.id, 1).await;
    let store = store_of(&app).await;
    reconcile(&store).await;
    let finding = the_finding(&app, "BALANCE_MISMATCH").await;

    assert!(matches!(
        discrepancies::acknowledge(&store, finding.id + 1000, "alice", None).await,
        Err(DiscrepancyError::NotFound(_))
    ));
    assert!(matches!(
        discrepancies::resolve(&store, finding.id, "alice", "  ").await,
        Err(DiscrepancyError::Invalid(_))
    ));
    assert!(matches!(
        discrepancies::acknowledge(&store, finding.id, "", None).await,
        Err(DiscrepancyError::Invalid(_))
    ));

    let acknowledged = discrepancies::acknowledge(&store, finding.id, "alice", None)
        .await
        .unwrap();
    assert_eq!(acknowledged.status, "ACKNOWLEDGED");
    assert_eq!(acknowledged.acknowledged_by.as_deref(), Some("alice"));
    assert!(matches!(
        discrepancies::acknowledge(&store, finding.id, "bob", None).await,
        Err(DiscrepancyError::InvalidTransition { .. })
    ));

    let resolved = discrepancies::resolve(&store, finding.id, "bob", "balance restored by hand")
        .await
        .unwrap();
    assert_eq!(resolved.status, "RESOLVED");
    assert_eq!(resolved.resolved_by.as_deref(), Some("bob"));
    assert!(resolved.resolved_at.is_some());
    assert!(matches!(
        discrepancies::resolve(&store, finding.id, "bob", "again").await,
        Err(DiscrepancyError::InvalidTransition { .. })
    ));

    let page = discrepancies::list(
        store.reader(),
        &discrepancies::Filter {
            kind: Some("BALANCE_MISMATCH".into()),
            status: Some("RESOLVED".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next_before_id, None);
    let none_open = discrepancies::list(
        store.reader(),
        &discrepancies::Filter {
            status: Some("OPEN".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(none_open.items.is_empty());
}

#[tokio::test]
async fn the_reconcile_subcommand_prints_a_summary_and_fails_on_critical_findings() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let (player, _) = busy_player(&provider).await;
    let clean = run_subcommand("reconcile", &app.database_url).await;
    let stdout = String::from_utf8_lossy(&clean.stdout);
    let stderr = String::from_utf8_lossy(&clean.stderr);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("0 findings"), "stdout: {stdout}");

    set_balance(&app, &player.id, 3).await;
    let broken = run_subcommand("reconcile", &app.database_url).await;
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "stdout: {stdout}");
    assert!(stdout.contains("BALANCE_MISMATCH"), "stdout: {stdout}");
    assert!(
        stdout.contains("open CRITICAL discrepancies: 1"),
        "stdout: {stdout}"
    );
    assert_eq!(the_finding(&app, "BALANCE_MISMATCH").await.status, "OPEN");
}
