//! The tamper-evident trail: each player's ledger postings form a hash chain that
//! `server verify-trail` (and `server::ledger::chain::verify`) checks, and the reconciliation job
//! checks incrementally; a direct edit, deletion or insertion in the database is
//! detected, clean data passes.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};

use server::db::entities::discrepancy;
use server::db::{Store, WriterConfig};
use server::reconcile::{
    run_with, RunOptions, RunOutcome, RunSummary, TrailMode, TrailPass, Trigger,
    DEFAULT_FULL_EVERY_RUNS, TRAIL_BROKEN,
};

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
    let report = server::ledger::chain::verify(&app.db)
        .await
        .expect("verify runs");
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
    let report = server::ledger::chain::verify(&app.db)
        .await
        .expect("verify runs");
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
    let report = server::ledger::chain::verify(&app.db)
        .await
        .expect("verify runs");
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

// ----------------------------------------------------------------------------------
// The trail in the reconciliation job: incremental from each player's checkpoint, full
// every Nth run or on demand; a broken chain is a CRITICAL TRAIL_BROKEN finding.
// ----------------------------------------------------------------------------------

async fn store_of(app: &TestApp) -> Store {
    Store::connect(&app.database_url, WriterConfig::default())
        .await
        .expect("connect a store to the app's database")
}

async fn reconcile(store: &Store, trail: TrailMode) -> RunSummary {
    let options = RunOptions {
        trail,
        ..RunOptions::default()
    };
    match run_with(store, Trigger::Manual, options)
        .await
        .expect("reconciliation runs")
    {
        RunOutcome::Finished(summary) => summary,
        RunOutcome::Skipped => panic!("nothing else runs reconciliation in this test"),
    }
}

const AUTO: TrailMode = TrailMode::Auto {
    full_every_runs: DEFAULT_FULL_EVERY_RUNS,
};
const FULL: TrailMode = TrailMode::Force(TrailPass::Full);
const INCREMENTAL: TrailMode = TrailMode::Force(TrailPass::Incremental);

async fn trail_findings(app: &TestApp) -> Vec<discrepancy::Model> {
    discrepancy::Entity::find()
        .filter(discrepancy::Column::Kind.eq(TRAIL_BROKEN))
        .all(&app.db)
        .await
        .expect("read discrepancies")
}

/// The ids of the player's own ledger entries, oldest first.
async fn player_entries(app: &TestApp, player: &TestPlayer) -> Vec<i64> {
    let account = quote(&format!("player:{}", player.id));
    app.query(&format!(
        "SELECT id FROM ledger_entries WHERE account = {account} ORDER BY id"
    ))
    .await
    .iter()
    .map(|row| row.try_get::<i64>("", "id").expect("id"))
    .collect()
}

/// One more settled round for the player.
async fn play(provider: &TestProvider, player: &TestPlayer, amount: i64) {
    let round = player.new_round();
    provider.bet(&player.bet(&round, amount)).await.assert_ok();
    provider.win(&player.win(&round, amount)).await.assert_ok();
}

/// The one open TRAIL_BROKEN finding, about this player.
async fn assert_broken(app: &TestApp, player: &TestPlayer) -> discrepancy::Model {
    let found = trail_findings(app).await;
    assert_eq!(found.len(), 1, "one TRAIL_BROKEN finding: {found:?}");
    let finding = found.into_iter().next().unwrap();
    assert_eq!(
        (
            finding.severity.as_str(),
            finding.subject_type.as_str(),
            finding.subject_id.as_str(),
            finding.status.as_str()
        ),
        ("CRITICAL", "PLAYER", player.id.as_str(), "OPEN")
    );
    finding
}

#[tokio::test]
async fn the_job_verifies_clean_chains_fully_once_then_only_what_is_new() {
    let app = spawn_app().await;
    let (provider, player) = traffic(&app).await;
    let quiet = TestPlayer::with_balance(&provider, "EUR", 500).await;
    let store = store_of(&app).await;

    let first = reconcile(&store, AUTO).await;
    assert_eq!(first.trail.pass, TrailPass::Full, "no checkpoints yet");
    assert_eq!(
        (first.trail.players_checked, first.trail.postings_checked),
        (2, 8),
        "deposit + 3 bets + 3 wins, and the quiet player's deposit"
    );
    assert_eq!(first.findings, 0, "{:?}", first.checks);

    play(&provider, &player, 40).await;
    let second = reconcile(&store, AUTO).await;
    assert_eq!(second.trail.pass, TrailPass::Incremental);
    assert_eq!(
        (second.trail.players_checked, second.trail.postings_checked),
        (1, 2),
        "only the new bet and win of the player who played"
    );
    let idle = reconcile(&store, AUTO).await;
    assert_eq!(
        (idle.trail.players_checked, idle.trail.postings_checked),
        (0, 0)
    );
    let full = reconcile(&store, FULL).await;
    assert_eq!(full.trail.postings_checked, 10);
    assert!(trail_findings(&app).await.is_empty());
    assert_eq!(full.critical_open, 0);
    assert_ne!(quiet.id, player.id);
}

/// More players than one snapshot walks (50, `trail_check::PLAYERS_PER_SNAPSHOT`): every
/// one is checked on a full and on an incremental pass, and a break in a later group of
/// players (walked in a later snapshot) is found.
#[tokio::test]
async fn a_walk_over_more_players_than_one_snapshot_checks_them_all() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let mut players = Vec::new();
    for _ in 0..120 {
        players.push(TestPlayer::with_balance(&provider, "EUR", 1_000).await);
    }
    let store = store_of(&app).await;
    let first = reconcile(&store, FULL).await;
    assert_eq!(
        (first.trail.players_checked, first.trail.postings_checked),
        (120, 120)
    );
    for player in &players {
        play(&provider, player, 10).await;
    }
    // Walked in id order: the largest id is in the last group.
    let last = players.iter().max_by_key(|p| p.id.clone()).unwrap();
    let newest = *player_entries(&app, last).await.last().unwrap();
    execute(
        &app,
        &format!("UPDATE ledger_entries SET balance_after_minor = balance_after_minor + 1 WHERE id = {newest}"),
    )
    .await;

    let second = reconcile(&store, INCREMENTAL).await;

    assert_eq!(
        (second.trail.players_checked, second.trail.postings_checked),
        (120, 240),
        "each player's bet and win"
    );
    assert_eq!(second.trail.broken, 1);
    assert_broken(&app, last).await;
}

#[tokio::test]
async fn an_entry_edited_after_the_checkpoint_is_found_by_the_next_incremental_run() {
    let app = spawn_app().await;
    let (provider, player) = traffic(&app).await;
    let store = store_of(&app).await;
    reconcile(&store, AUTO).await;
    play(&provider, &player, 60).await;
    let newest = *player_entries(&app, &player).await.last().unwrap();
    execute(
        &app,
        &format!("UPDATE ledger_entries SET balance_after_minor = balance_after_minor + 1 WHERE id = {newest}"),
    )
    .await;

    let summary = reconcile(&store, AUTO).await;

    assert_eq!(summary.trail.pass, TrailPass::Incremental);
    assert_eq!(summary.trail.broken, 1);
    let finding = assert_broken(&app, &player).await;
    let details: serde_json::Value = serde_json::from_str(&finding.details).unwrap();
    assert_eq!(details["entry_id"], newest);
    assert!(summary.critical_open >= 1);
}

#[tokio::test]
async fn an_edited_checkpoint_entry_or_head_is_found_incrementally() {
    let app = spawn_app().await;
    let (provider, player) = traffic(&app).await;
    let (_, other) = traffic(&app).await;
    let store = store_of(&app).await;
    reconcile(&store, AUTO).await;

    // The last verified entry is the checkpoint: its link is read again.
    let checkpointed = *player_entries(&app, &player).await.last().unwrap();
    execute(
        &app,
        &format!("UPDATE ledger_entries SET chain_hash = 'forged' WHERE id = {checkpointed}"),
    )
    .await;
    // The other player's head moves without a posting.
    execute(
        &app,
        &format!(
            "UPDATE players SET ledger_head = 'forged' WHERE id = {}",
            quote(&other.id)
        ),
    )
    .await;

    let summary = reconcile(&store, INCREMENTAL).await;

    assert_eq!(summary.trail.broken, 2, "{:?}", summary.trail);
    let mut broken: Vec<String> = trail_findings(&app)
        .await
        .into_iter()
        .map(|f| f.subject_id)
        .collect();
    broken.sort();
    let mut expected = vec![player.id.clone(), other.id.clone()];
    expected.sort();
    assert_eq!(broken, expected);
    play(&provider, &player, 10).await;
    let again = reconcile(&store, INCREMENTAL).await;
    assert_eq!(again.trail.broken, 2, "a broken chain stays broken");
}

#[tokio::test]
async fn an_entry_inserted_without_moving_the_head_is_found_incrementally() {
    let app = spawn_app().await;
    let (_provider, player) = traffic(&app).await;
    let store = store_of(&app).await;
    reconcile(&store, AUTO).await;
    let last = *player_entries(&app, &player).await.last().unwrap();
    // A copy of the player's last posting, both entries, as a hand edit would add it.
    execute(
        &app,
        &format!(
            "INSERT INTO ledger_entries (wallet_transaction_id, account, currency, amount_minor, \
                 balance_after_minor, chain_hash, created_at) \
             SELECT wallet_transaction_id, account, currency, amount_minor, balance_after_minor, \
                 chain_hash, created_at FROM ledger_entries WHERE id = {last}"
        ),
    )
    .await;

    let summary = reconcile(&store, INCREMENTAL).await;

    assert_eq!(summary.trail.broken, 1);
    assert_broken(&app, &player).await;
}

#[tokio::test]
async fn an_old_entry_edited_behind_the_checkpoint_waits_for_the_full_pass_and_stays_found() {
    let app = spawn_app().await;
    let (provider, player) = traffic(&app).await;
    let store = store_of(&app).await;
    reconcile(&store, AUTO).await;
    let old = player_entries(&app, &player).await[1];
    execute(
        &app,
        &format!("UPDATE ledger_entries SET chain_hash = 'forged' WHERE id = {old}"),
    )
    .await;

    let incremental = reconcile(&store, INCREMENTAL).await;
    assert_eq!(
        incremental.trail.broken, 0,
        "behind the checkpoint: not read again by an incremental pass"
    );
    let full = reconcile(&store, FULL).await;
    assert_eq!(full.trail.broken, 1);
    let finding = assert_broken(&app, &player).await;
    let details: serde_json::Value = serde_json::from_str(&finding.details).unwrap();
    assert_eq!(details["entry_id"], old);

    // Incremental runs keep walking a broken chain from the start: the finding stays open
    // and is not resolved for want of being seen.
    play(&provider, &player, 20).await;
    let later = reconcile(&store, INCREMENTAL).await;
    assert_eq!((later.trail.broken, later.auto_resolved), (1, 0));
    assert_eq!(assert_broken(&app, &player).await.id, finding.id);

    // The row restored from a backup: the next run sees the chain whole and resolves it.
    restore_link(&app, &player, old).await;
    let repaired = reconcile(&store, INCREMENTAL).await;
    assert_eq!((repaired.trail.broken, repaired.auto_resolved), (0, 1));
    let resolved = trail_findings(&app).await.remove(0);
    assert_eq!(resolved.status, "RESOLVED");
    assert_eq!(resolved.resolved_by.as_deref(), Some("reconciliation"));
}

/// Recomputes an entry's link from its predecessor and content, as restoring the row from
/// a backup would put it back.
async fn restore_link(app: &TestApp, player: &TestPlayer, entry_id: i64) {
    let entries = player_entries(app, player).await;
    let position = entries.iter().position(|id| *id == entry_id).unwrap();
    let previous = match position {
        0 => server::ledger::chain::GENESIS.to_owned(),
        n => app
            .query(&format!(
                "SELECT chain_hash FROM ledger_entries WHERE id = {}",
                entries[n - 1]
            ))
            .await[0]
            .try_get::<String>("", "chain_hash")
            .unwrap(),
    };
    let row = &app
        .query(&format!(
            "SELECT p.wallet_transaction_id AS tx, p.account AS account, p.amount_minor AS amount, \
                    p.balance_after_minor AS after, p.currency AS currency, \
                    c.account AS counter, c.amount_minor AS counter_amount \
             FROM ledger_entries p JOIN ledger_entries c \
               ON c.wallet_transaction_id = p.wallet_transaction_id AND c.id <> p.id \
             WHERE p.id = {entry_id}"
        ))
        .await[0];
    let text = |name: &str| row.try_get::<String>("", name).unwrap();
    let number = |name: &str| row.try_get::<i64>("", name).unwrap();
    let link = server::ledger::chain::link(
        &previous,
        &server::ledger::chain::Posting {
            wallet_tx_id: number("tx"),
            player_account: &text("account"),
            player_delta: number("amount"),
            balance_after: number("after"),
            counter_account: &text("counter"),
            counter_delta: number("counter_amount"),
            currency: &text("currency"),
        },
    );
    execute(
        app,
        &format!(
            "UPDATE ledger_entries SET chain_hash = {} WHERE id = {entry_id}",
            quote(&link)
        ),
    )
    .await;
}

#[tokio::test]
async fn every_nth_run_is_a_full_pass() {
    let app = spawn_app().await;
    let (_provider, _player) = traffic(&app).await;
    let store = store_of(&app).await;
    let every_third = TrailMode::Auto { full_every_runs: 3 };
    let mut passes = Vec::new();
    for _ in 0..7 {
        passes.push(reconcile(&store, every_third).await.trail.pass);
    }
    use TrailPass::{Full as F, Incremental as I};
    assert_eq!(passes, [F, I, I, F, I, I, F]);
}

#[tokio::test]
async fn the_reconcile_command_with_full_finds_an_old_edit_and_fails() {
    let app = spawn_app().await;
    let (_provider, player) = traffic(&app).await;
    let clean = reconcile_command(&app, &[]).await;
    assert_eq!(clean.status.code(), Some(0), "{}", stdout_of(&clean));
    assert!(
        stdout_of(&clean).contains("trail: FULL pass"),
        "{}",
        stdout_of(&clean)
    );
    let oldest = player_entries(&app, &player).await[0];
    execute(
        &app,
        &format!("UPDATE ledger_entries SET chain_hash = 'forged' WHERE id = {oldest}"),
    )
    .await;

    let incremental = reconcile_command(&app, &[]).await;
    assert_eq!(
        incremental.status.code(),
        Some(0),
        "an incremental pass does not reread old entries: {}",
        stdout_of(&incremental)
    );
    let full = reconcile_command(&app, &["--full"]).await;
    let stdout = stdout_of(&full);
    assert_eq!(full.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("TRAIL_BROKEN"), "{stdout}");
    assert!(stdout.contains("trail: FULL pass"), "{stdout}");
    assert_broken(&app, &player).await;

    let bad = reconcile_command(&app, &["--everything"]).await;
    assert_eq!(bad.status.code(), Some(2));
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `server reconcile <args>` against the app's database, asynchronously (the app keeps
/// serving meanwhile), at most two minutes.
async fn reconcile_command(app: &TestApp, args: &[&str]) -> std::process::Output {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("reconcile")
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(std::time::Duration::from_secs(120), child)
        .await
        .expect("`server reconcile` finishes within 120 s")
        .expect("the server binary runs")
}

/// What a wallet bug would write into the player's newest posting: the amount and the
/// balance after it moved by `amount_by` and `after_by`, the player's balance following
/// the latter, and the link and head recomputed, so the chain itself still verifies and
/// only the money can tell.
async fn write_like_a_bug(
    app: &TestApp,
    player: &TestPlayer,
    amount_by: i64,
    after_by: i64,
) -> i64 {
    let newest = *player_entries(app, player).await.last().unwrap();
    execute(
        app,
        &format!(
            "UPDATE ledger_entries SET amount_minor = amount_minor + {amount_by}, \
             balance_after_minor = balance_after_minor + {after_by} WHERE id = {newest}"
        ),
    )
    .await;
    execute(
        app,
        &format!(
            "UPDATE players SET balance_minor = balance_minor + {after_by} WHERE id = {}",
            quote(&player.id)
        ),
    )
    .await;
    restore_link(app, player, newest).await;
    execute(
        app,
        &format!(
            "UPDATE players SET ledger_head = (SELECT chain_hash FROM ledger_entries WHERE id = {newest}) \
             WHERE id = {}",
            quote(&player.id)
        ),
    )
    .await;
    newest
}

async fn the_money_finding(app: &TestApp, kind: &str) -> discrepancy::Model {
    let found = discrepancy::Entity::find()
        .filter(discrepancy::Column::Kind.eq(kind))
        .all(&app.db)
        .await
        .expect("read discrepancies");
    assert_eq!(found.len(), 1, "one {kind} finding: {found:?}");
    found.into_iter().next().unwrap()
}

#[tokio::test]
async fn an_unbalanced_posting_is_found_by_the_next_incremental_run_and_stays_found() {
    let app = spawn_app().await;
    let (provider, player) = traffic(&app).await;
    let store = store_of(&app).await;
    assert_eq!(reconcile(&store, AUTO).await.findings, 0);
    play(&provider, &player, 60).await;
    // The win credits the player one more than it takes from the provider, and the balance
    // follows: every balance equals its entries, but the posting does not sum to zero.
    write_like_a_bug(&app, &player, 1, 1).await;

    let first = reconcile(&store, AUTO).await;
    assert_eq!(first.trail.pass, TrailPass::Incremental);
    assert_eq!(first.trail.broken, 0, "the chain itself verifies");
    let seen = the_money_finding(&app, "UNBALANCED_TRANSACTION").await;
    assert_eq!(
        (seen.severity.as_str(), seen.status.as_str()),
        ("CRITICAL", "OPEN")
    );
    let details: serde_json::Value = serde_json::from_str(&seen.details).unwrap();
    assert_eq!(details["entries_sum_minor"], 1);

    // The next incremental run walks the player from the start again: still found, not
    // resolved because nothing new was posted.
    reconcile(&store, AUTO).await;
    let again = the_money_finding(&app, "UNBALANCED_TRANSACTION").await;
    assert_eq!((again.id, again.status.as_str()), (seen.id, "OPEN"));
    assert!(again.last_seen_at > seen.last_seen_at);
    let full = reconcile(&store, FULL).await;
    assert_eq!(
        the_money_finding(&app, "UNBALANCED_TRANSACTION")
            .await
            .status,
        "OPEN"
    );
    assert!(full.critical_open >= 1);
}

#[tokio::test]
async fn a_balance_that_strays_from_its_entries_is_found_incrementally_until_repaired() {
    let app = spawn_app().await;
    let (provider, player) = traffic(&app).await;
    let store = store_of(&app).await;
    assert_eq!(reconcile(&store, AUTO).await.findings, 0);
    let round = player.new_round();
    provider.bet(&player.bet(&round, 60)).await.assert_ok();
    // The bet's debit applied twice to the balance (and to the entry's balance after), once
    // to the entry: the newest entry still agrees with the player row, only the sum does not.
    let bet = write_like_a_bug(&app, &player, 0, -60).await;

    let first = reconcile(&store, AUTO).await;
    assert_eq!(first.trail.pass, TrailPass::Incremental);
    let seen = the_money_finding(&app, "BALANCE_MISMATCH").await;
    assert_eq!(
        (seen.subject_id.as_str(), seen.status.as_str()),
        (player.id.as_str(), "OPEN")
    );
    let details: serde_json::Value = serde_json::from_str(&seen.details).unwrap();
    assert_eq!(details["first_wrong_balance_entry_id"], bet);
    assert_eq!(
        details["balance_minor"].as_i64().unwrap() + 60,
        details["ledger_sum_minor"].as_i64().unwrap()
    );
    let again = reconcile(&store, AUTO).await;
    assert_eq!(again.auto_resolved, 0);
    assert_eq!(
        the_money_finding(&app, "BALANCE_MISMATCH").await.status,
        "OPEN"
    );

    // Repaired: the next incremental run walks the player from the start and clears it.
    write_like_a_bug(&app, &player, 0, 60).await;
    let repaired = reconcile(&store, AUTO).await;
    assert_eq!(repaired.trail.pass, TrailPass::Incremental);
    assert_eq!(repaired.auto_resolved, 1);
    assert_eq!(
        the_money_finding(&app, "BALANCE_MISMATCH").await.status,
        "RESOLVED"
    );
}

#[tokio::test]
async fn a_balance_edited_with_its_newest_entry_is_found_by_the_next_incremental_run() {
    let app = spawn_app().await;
    let (_provider, player) = traffic(&app).await;
    let store = store_of(&app).await;
    assert_eq!(reconcile(&store, AUTO).await.findings, 0);
    // Both moved by the same amount, the link left alone: the player's newest entry still
    // agrees with the player row, and the head did not move, so nobody walks the player.
    let newest = *player_entries(&app, &player).await.last().unwrap();
    execute(
        &app,
        &format!("UPDATE ledger_entries SET balance_after_minor = balance_after_minor + 500 WHERE id = {newest}"),
    )
    .await;
    execute(
        &app,
        &format!(
            "UPDATE players SET balance_minor = balance_minor + 500 WHERE id = {}",
            quote(&player.id)
        ),
    )
    .await;

    let summary = reconcile(&store, AUTO).await;

    assert_eq!(summary.trail.pass, TrailPass::Incremental);
    assert_eq!(summary.trail.players_checked, 0, "the head did not move");
    let finding = the_money_finding(&app, "BALANCE_MISMATCH").await;
    let details: serde_json::Value = serde_json::from_str(&finding.details).unwrap();
    assert_eq!(
        details["balance_minor"].as_i64().unwrap() - 500,
        details["ledger_sum_minor"].as_i64().unwrap(),
        "compared with the sum the checkpoint keeps: {details}"
    );
}

#[tokio::test]
async fn checkpoints_without_a_sum_are_walked_from_the_first_posting() {
    let app = spawn_app().await;
    let (provider, player) = traffic(&app).await;
    let store = store_of(&app).await;
    let first = reconcile(&store, AUTO).await;
    play(&provider, &player, 30).await;
    // As a database upgraded from a version whose checkpoints kept no sum.
    execute(&app, "UPDATE trail_checkpoints SET balance_minor = NULL").await;

    let upgraded = reconcile(&store, AUTO).await;

    assert_eq!(upgraded.trail.pass, TrailPass::Incremental);
    assert_eq!(
        upgraded.trail.postings_checked,
        first.trail.postings_checked + 2,
        "every posting again, and the new bet and win"
    );
    assert_eq!(upgraded.findings, first.findings);
    let next = reconcile(&store, AUTO).await;
    assert_eq!(
        (next.trail.players_checked, next.trail.postings_checked),
        (0, 0)
    );
}
