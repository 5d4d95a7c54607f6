//! Issue 3 item 8: the console's query functions, read straight from the database after
//! real traffic through the server: the live feed, traces, search and export, pending
//! rollbacks.

use std::time::Duration;

use sea_orm::ConnectionTrait;

use server::console::{
    csv_cell, export_rows, live_feed, pending_rollbacks, search, trace, FeedFilter,
};
use server::db::entities::attempt;
use server::db::{Store, WriterConfig};
use server::domain::CurrencyTable;
use server::reconcile::{run_once, RunOutcome, Thresholds, Trigger, PENDING_ROLLBACK};

use crate::helpers::*;

const CUR: &str = "EUR";
/// How long the background writer may take to flush a test's attempts.
const FLUSH_DEADLINE: Duration = Duration::from_secs(20);

/// Waits until the attempt with this request id is in the log; batches are written in
/// order, so every earlier attempt is there too.
async fn wait_for_attempt(app: &TestApp, request_id: &str) {
    let deadline = tokio::time::Instant::now() + FLUSH_DEADLINE;
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM attempts WHERE request_id = {}",
        quote(request_id)
    );
    while app.query_i64(&sql).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "attempt {request_id} not written within {FLUSH_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// What `drive` did, for the assertions.
struct Traffic {
    player: TestPlayer,
    round: String,
    bet: String,
    bet_request_id: String,
    rolled_back: String,
    rollback: String,
    bad_signature_request_id: String,
}

/// From one provider: a first bet and its replay, a conflict on it, a bad signature, a
/// second bet and its rollback; then a marker request so the whole batch can be awaited.
async fn drive(app: &TestApp, provider: &TestProvider) -> Traffic {
    let player = TestPlayer::with_balance(provider, CUR, 10_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 500);
    let bet_request_id = unique_id("req");
    provider
        .call("/wallet/v1/bet", &bet)
        .request_id(&bet_request_id)
        .send()
        .await
        .assert_ok()
        .assert_fresh();
    provider.bet(&bet).await.assert_ok();
    let mut conflicting = bet.clone();
    conflicting["amount"] = player.money(501);
    provider
        .bet(&conflicting)
        .await
        .assert_conflict(&["amount.value"]);
    let bad_signature_request_id = unique_id("req");
    provider
        .call("/wallet/v1/bet", &player.bet(&round, 100))
        .signature(SignatureMode::WithSecret(fresh_secret()))
        .request_id(&bad_signature_request_id)
        .send()
        .await
        .assert_error("INVALID_SIGNATURE");
    let second = player.bet(&round, 300);
    provider.bet(&second).await.assert_ok();
    let rollback = player.rollback(&round, &tx_id(&second));
    let marker = unique_id("req");
    provider
        .call("/wallet/v1/rollback", &rollback)
        .request_id(&marker)
        .send()
        .await
        .assert_ok();
    wait_for_attempt(app, &marker).await;
    Traffic {
        player,
        round,
        bet: tx_id(&bet),
        bet_request_id,
        rolled_back: tx_id(&second),
        rollback: tx_id(&rollback),
        bad_signature_request_id,
    }
}

fn of_provider(provider: &TestProvider) -> FeedFilter {
    FeedFilter {
        provider_id: Some(provider.id.clone()),
        ..FeedFilter::default()
    }
}

fn outcomes(attempts: &[attempt::Model]) -> Vec<&str> {
    attempts.iter().map(|a| a.outcome.as_str()).collect()
}

#[tokio::test]
async fn the_live_feed_shows_each_outcome_class_newest_first() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let traffic = drive(&app, &provider).await;

    let page = live_feed(&app.db, None, &of_provider(&provider), 500)
        .await
        .expect("feed");
    assert_eq!(
        outcomes(&page.attempts),
        ["FIRST", "FIRST", "REJECTED", "CONFLICT", "REPLAY", "FIRST"],
        "newest first: rollback, second bet, bad signature, conflict, replay, first bet"
    );
    let ids: Vec<i64> = page.attempts.iter().map(|a| a.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(page.next_cursor, ids.first().copied());
    let refused = &page.attempts[2];
    assert_eq!(refused.signature, "INVALID");
    assert_eq!(refused.http_status, 401);
    assert_eq!(refused.request_id, traffic.bad_signature_request_id);
    assert_eq!(
        page.attempts[3].error_code.as_deref(),
        Some("IDEMPOTENCY_CONFLICT")
    );
}

#[tokio::test]
async fn the_live_feed_pages_forward_from_a_cursor_and_filters() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let other = TestProvider::new(&app).await;
    let traffic = drive(&app, &provider).await;
    let newest = live_feed(&app.db, None, &of_provider(&provider), 500)
        .await
        .expect("feed");

    // From the start, two at a time, oldest first: the same attempts in reverse.
    let mut cursor = Some(0);
    let mut paged = Vec::new();
    loop {
        let page = live_feed(&app.db, cursor, &of_provider(&provider), 2)
            .await
            .expect("feed page");
        assert!(page.attempts.len() <= 2);
        if page.attempts.is_empty() {
            assert_eq!(page.next_cursor, cursor, "an empty page keeps the cursor");
            break;
        }
        cursor = page.next_cursor;
        paged.extend(page.attempts);
    }
    let mut expected = newest.attempts.clone();
    expected.reverse();
    assert_eq!(paged, expected);

    // New traffic, from another provider too, shows up after the cursor.
    let other_traffic = drive(&app, &other).await;
    let after = live_feed(&app.db, cursor, &FeedFilter::default(), 500)
        .await
        .expect("feed after the cursor");
    assert!(after.attempts.iter().all(|a| Some(a.id) > cursor));
    assert!(after
        .attempts
        .iter()
        .any(|a| a.provider_id.as_deref() == Some(other.id.as_str())));
    let mine = live_feed(&app.db, cursor, &of_provider(&provider), 500)
        .await
        .expect("feed after the cursor, one provider");
    assert!(mine.attempts.is_empty(), "the first provider was quiet");

    let replays = FeedFilter {
        outcome: Some("REPLAY".to_owned()),
        ..of_provider(&provider)
    };
    let page = live_feed(&app.db, None, &replays, 500).await.expect("feed");
    assert_eq!(outcomes(&page.attempts), ["REPLAY"]);

    let rollbacks = FeedFilter {
        endpoint: Some("/wallet/v1/rollback".to_owned()),
        ..FeedFilter::default()
    };
    let page = live_feed(&app.db, None, &rollbacks, 500)
        .await
        .expect("feed");
    assert_eq!(page.attempts.len(), 2, "one rollback per provider");

    // The player's attempts are the ones that reached one of the player's keys.
    let players = FeedFilter {
        player_id: Some(traffic.player.id.clone()),
        ..FeedFilter::default()
    };
    let page = live_feed(&app.db, None, &players, 500).await.expect("feed");
    assert_eq!(
        outcomes(&page.attempts),
        ["FIRST", "FIRST", "CONFLICT", "REPLAY", "FIRST"]
    );
    assert!(page
        .attempts
        .iter()
        .all(|a| a.provider_id.as_deref() == Some(provider.id.as_str())));
    assert_ne!(other_traffic.player.id, traffic.player.id);
}

#[tokio::test]
async fn a_trace_by_transaction_id_shows_attempts_ledger_round_and_rollback() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let traffic = drive(&app, &provider).await;
    let currencies = CurrencyTable::default();

    let found = trace(&app.db, &currencies, &traffic.bet)
        .await
        .expect("trace")
        .expect("the bet is found");
    assert_eq!(found.transactions.len(), 1);
    let bet = &found.transactions[0];
    assert_eq!(bet.transaction.state, "COMMITTED");
    assert_eq!(bet.transaction.request_id, traffic.bet_request_id);
    assert_eq!(outcomes(&bet.attempts), ["FIRST", "REPLAY", "CONFLICT"]);
    assert_eq!(
        bet.amount.as_ref().map(|a| a["value"].clone()),
        Some("500".into())
    );
    let player_line = bet
        .ledger
        .iter()
        .find(|line| line.entry.account == format!("player:{}", traffic.player.id))
        .expect("a player entry");
    assert_eq!(player_line.entry.amount_minor, -500);
    assert_eq!(player_line.balance_before_minor, Some(10_000));
    assert_eq!(player_line.balance_after_minor, Some(9_500));
    assert_eq!(
        bet.ledger.iter().map(|l| l.entry.amount_minor).sum::<i64>(),
        0
    );
    let round = bet.round.as_ref().expect("the round");
    assert_eq!(round.round.round_id, traffic.round);
    let in_round: Vec<&str> = round
        .transactions
        .iter()
        .map(|t| t.transaction_id.as_str())
        .collect();
    assert_eq!(
        in_round,
        [
            traffic.bet.as_str(),
            &traffic.rolled_back,
            &traffic.rollback
        ]
    );

    let rolled_back = trace(&app.db, &currencies, &traffic.rolled_back)
        .await
        .expect("trace")
        .expect("the rolled-back bet is found");
    let rolled_back = &rolled_back.transactions[0];
    assert_eq!(rolled_back.transaction.state, "ROLLED_BACK");
    let related: Vec<&str> = rolled_back
        .related
        .iter()
        .map(|t| t.transaction_id.as_str())
        .collect();
    assert_eq!(related, [traffic.rollback.as_str()]);

    let rollback = trace(&app.db, &currencies, &traffic.rollback)
        .await
        .expect("trace")
        .expect("the rollback is found");
    let rollback = &rollback.transactions[0];
    assert_eq!(
        rollback.target.as_ref().map(|t| t.transaction_id.as_str()),
        Some(traffic.rolled_back.as_str())
    );
    let line = rollback
        .ledger
        .iter()
        .find(|line| line.balance_after_minor.is_some())
        .expect("a player entry");
    assert_eq!(
        (line.balance_before_minor, line.balance_after_minor),
        (Some(9_200), Some(9_500))
    );

    assert!(trace(&app.db, &currencies, &unique_id("nothing"))
        .await
        .expect("trace")
        .is_none());
}

#[tokio::test]
async fn a_trace_by_request_id_finds_the_transaction_or_the_lone_attempt() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let traffic = drive(&app, &provider).await;
    let currencies = CurrencyTable::default();

    let found = trace(&app.db, &currencies, &traffic.bet_request_id)
        .await
        .expect("trace")
        .expect("found by request id");
    assert_eq!(found.transactions.len(), 1);
    assert_eq!(
        found.transactions[0].transaction.transaction_id,
        traffic.bet
    );
    assert_eq!(found.transactions[0].attempts.len(), 3);

    // A replay's request id leads to the same transaction through the attempt log.
    let replay_request_id = found.transactions[0].attempts[1].request_id.clone();
    let via_replay = trace(&app.db, &currencies, &replay_request_id)
        .await
        .expect("trace")
        .expect("found by a replay's request id");
    assert_eq!(
        via_replay.transactions[0].transaction.transaction_id,
        traffic.bet
    );

    let refused = trace(&app.db, &currencies, &traffic.bad_signature_request_id)
        .await
        .expect("trace")
        .expect("found by the refused request's id");
    assert!(refused.transactions.is_empty());
    assert_eq!(outcomes(&refused.unmatched_attempts), ["REJECTED"]);
}

#[tokio::test]
async fn search_finds_transactions_by_each_kind_of_id() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let traffic = drive(&app, &provider).await;
    let ids = |page: &server::console::SearchPage| -> Vec<String> {
        page.items
            .iter()
            .map(|t| t.transaction_id.clone())
            .collect()
    };

    let by_tx = search(&app.db, &traffic.bet, 0, 10).await.expect("search");
    assert_eq!((ids(&by_tx), by_tx.total), (vec![traffic.bet.clone()], 1));
    let by_request = search(&app.db, &traffic.bet_request_id, 0, 10)
        .await
        .expect("search");
    assert_eq!(ids(&by_request), vec![traffic.bet.clone()]);
    let by_round = search(&app.db, &traffic.round, 0, 10)
        .await
        .expect("search");
    assert_eq!(
        ids(&by_round),
        [
            traffic.rollback.clone(),
            traffic.rolled_back.clone(),
            traffic.bet.clone()
        ],
        "newest first"
    );

    // The player also has the cashier's deposit: four transactions, two pages of two.
    let first = search(&app.db, &traffic.player.id, 0, 2)
        .await
        .expect("search");
    let second = search(&app.db, &traffic.player.id, 1, 2)
        .await
        .expect("search");
    assert_eq!((first.total, second.total), (4, 4));
    assert_eq!(
        ids(&first),
        [traffic.rollback.clone(), traffic.rolled_back.clone()]
    );
    assert_eq!(ids(&second)[0], traffic.bet);
    assert_eq!(second.items[1].op, "ADJUSTMENT");

    let nothing = search(&app.db, &unique_id("nothing"), 0, 10)
        .await
        .expect("search");
    assert_eq!((nothing.items.len(), nothing.total), (0, 0));

    let lines = export_rows(&app.db, &traffic.player.id, 100_000)
        .await
        .expect("export");
    assert_eq!(lines.len(), 4);
    assert!(lines[0].contains(&traffic.rollback) && lines[0].ends_with("\r\n"));
    let capped = export_rows(&app.db, &traffic.player.id, 3)
        .await
        .expect("export");
    assert_eq!(capped.len(), 3);
}

#[test]
fn csv_cells_that_a_spreadsheet_would_evaluate_are_defused() {
    for formula in ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1"] {
        let cell = csv_cell(formula);
        assert!(
            cell.starts_with('\'') || cell.starts_with("\"'"),
            "{formula:?} became {cell:?}"
        );
    }
    assert_eq!(csv_cell("bet-1"), "bet-1");
}

#[tokio::test]
async fn pending_rollbacks_list_orphan_debits_oldest_first_with_their_bet() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 10_000).await;
    let older = player.bet(&player.new_round(), 200);
    provider.bet(&older).await.assert_ok();
    let newer = player.bet(&player.new_round(), 700);
    provider.bet(&newer).await.assert_ok();

    let store = Store::connect(&app.database_url, WriterConfig::default())
        .await
        .expect("connect a store");
    // Every committed bet in an open round counts as orphaned at once.
    let thresholds = Thresholds {
        orphan_after: chrono::Duration::zero(),
        ..Thresholds::default()
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    match run_once(&store, Trigger::Manual, thresholds)
        .await
        .expect("run")
    {
        RunOutcome::Finished(_) => {}
        RunOutcome::Skipped => panic!("nothing else runs reconciliation here"),
    }

    let page = pending_rollbacks(&app.db, 0, chrono::Utc::now())
        .await
        .expect("pending rollbacks");
    let listed: Vec<(&str, Option<i64>)> = page
        .items
        .iter()
        .map(|p| {
            (
                p.bet.as_ref().map_or("", |b| b.transaction_id.as_str()),
                p.amount_minor,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (tx_id(&older).as_str(), Some(200)),
            (tx_id(&newer).as_str(), Some(700))
        ]
    );
    assert_eq!(page.total, 2);
    assert!(page
        .items
        .iter()
        .all(|p| p.discrepancy.kind == PENDING_ROLLBACK
            && p.player_id.as_deref() == Some(player.id.as_str())));
}

/// How many rows the timing run seeds.
const SEEDED: i64 = 100_000;

/// 100,000 transactions of one provider (1,000 players, four per round) and one attempt
/// each, copied in SQL from a real bet so every column has a stored shape.
async fn seed(app: &TestApp, provider: &TestProvider, template: &str) {
    app.query(&format!(
        "INSERT INTO wallet_transactions (scope, transaction_id, op, kind, player_id, round_id, \
             game_id, amount_minor, currency, target_transaction_id, fingerprint, state, outcome, \
             error_code, http_status, response_body, request_body, request_id, created_at, \
             updated_at, amount_hint_mismatch) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SEEDED}) \
         SELECT t.scope, 'seed-tx-' || n.i, t.op, t.kind, 'seed-player-' || (n.i % 1000), \
             'seed-round-' || (n.i / 4), t.game_id, t.amount_minor, t.currency, NULL, \
             t.fingerprint, t.state, t.outcome, NULL, t.http_status, t.response_body, \
             t.request_body, 'seed-req-' || n.i, t.created_at, t.updated_at, t.amount_hint_mismatch \
         FROM n, wallet_transactions t WHERE t.transaction_id = {}",
        quote(template)
    ))
    .await;
    app.query(&format!(
        "INSERT INTO attempts (request_id, received_at, latency_ms, method, endpoint, \
             provider_id, key_id, transaction_id, fingerprint, signature, outcome, http_status, \
             error_code, request_body, response_body) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SEEDED}) \
         SELECT 'seed-req-' || n.i, a.received_at, a.latency_ms, a.method, a.endpoint, \
             a.provider_id, a.key_id, 'seed-tx-' || n.i, a.fingerprint, a.signature, \
             CASE WHEN n.i % 10 = 0 THEN 'REPLAY' ELSE 'FIRST' END, a.http_status, NULL, \
             a.request_body, a.response_body \
         FROM n, attempts a WHERE a.provider_id = {} AND a.transaction_id = {}",
        quote(&provider.id),
        quote(template)
    ))
    .await;
    // PostgreSQL's autovacuum would analyze a table this size; the app never runs ANALYZE
    // on SQLite, whose statistics would count the NULL targets as one huge value.
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        app.query("ANALYZE").await;
    }
}

/// Times one run of each console query on 100,000 seeded transactions. Not a pass/fail
/// benchmark: run with `--ignored --nocapture` and read the timings.
#[tokio::test]
#[ignore = "seeds 100,000 rows; run by hand for timings"]
async fn console_queries_answer_quickly_at_100k_transactions() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 10_000).await;
    let bet = player.bet(&player.new_round(), 100);
    let marker = unique_id("req");
    provider
        .call("/wallet/v1/bet", &bet)
        .request_id(&marker)
        .send()
        .await
        .assert_ok();
    wait_for_attempt(&app, &marker).await;
    let started = std::time::Instant::now();
    seed(&app, &provider, &tx_id(&bet)).await;
    eprintln!(
        "seeded {SEEDED} transactions and attempts in {:?}",
        started.elapsed()
    );
    let currencies = CurrencyTable::default();
    let db = &app.db;
    let player_filter = FeedFilter {
        player_id: Some("seed-player-7".to_owned()),
        ..FeedFilter::default()
    };
    let replays = FeedFilter {
        outcome: Some("REPLAY".to_owned()),
        ..of_provider(&provider)
    };
    macro_rules! timed {
        ($name:expr, $call:expr) => {{
            let started = std::time::Instant::now();
            let result = $call.await.expect($name);
            eprintln!(
                "{:<40} {:>8.2} ms",
                $name,
                started.elapsed().as_secs_f64() * 1e3
            );
            result
        }};
    }
    let page = timed!(
        "live_feed newest 100",
        live_feed(db, None, &FeedFilter::default(), 100)
    );
    assert_eq!(page.attempts.len(), 100);
    timed!(
        "live_feed after cursor",
        live_feed(db, Some(50_000), &FeedFilter::default(), 500)
    );
    timed!(
        "live_feed provider+REPLAY",
        live_feed(db, None, &replays, 100)
    );
    timed!("live_feed player", live_feed(db, None, &player_filter, 100));
    let found = timed!(
        "trace by transaction id",
        trace(db, &currencies, "seed-tx-77777")
    );
    assert!(found.is_some());
    timed!(
        "trace by request id",
        trace(db, &currencies, "seed-req-77777")
    );
    let hits = timed!("search by transaction id", search(db, "seed-tx-5", 0, 50));
    assert_eq!(hits.total, 1);
    timed!("search by request id", search(db, "seed-req-5", 0, 50));
    let hits = timed!("search by player id", search(db, "seed-player-5", 0, 50));
    assert_eq!(hits.total, 100);
    timed!("search by round id", search(db, "seed-round-5", 0, 50));
    let lines = timed!(
        "export_rows player (100 rows)",
        export_rows(db, "seed-player-5", 100_000)
    );
    assert_eq!(lines.len(), 100);
    timed!(
        "pending_rollbacks page 0",
        pending_rollbacks(db, 0, chrono::Utc::now())
    );
}
