//! The console's query functions, read straight from the database after
//! real traffic through the server: the live feed, traces, search and export, pending
//! rollbacks.

use std::time::Duration;

use sea_orm::ConnectionTrait;

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use server::console::{
    csv_cell, export_rows, live_feed, pending_rollbacks, search, trace, FeedFilter,
};
use server::db::entities::{attempt, ledger_entry, player, round, wallet_transaction as wtx};
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
    // A rare outcome is read through the partial index on rare outcomes, the others not.
    for (outcome, expected) in [("CONFLICT", 1), ("REJECTED", 1), ("DECLINED", 0)] {
        let filter = FeedFilter {
            outcome: Some(outcome.to_owned()),
            ..of_provider(&provider)
        };
        let page = live_feed(&app.db, None, &filter, 500).await.expect("feed");
        assert_eq!(outcomes(&page.attempts), vec![outcome; expected]);
    }

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

// ----------------------------------------------------------------------------------
// Timings at scale (run by hand)
// ----------------------------------------------------------------------------------

/// How many transactions the timing run seeds: `ONCEWALLET_TIMING_TRANSACTIONS`
/// (default 100,000; `_` separators allowed).
fn seed_size() -> i64 {
    std::env::var("ONCEWALLET_TIMING_TRANSACTIONS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(100_000)
}

/// Rows per INSERT: 21 columns stay under SQLite's 32,766 parameters.
const SEED_BATCH: usize = 1_000;
/// Every seeded player starts with this deposit; no bet sequence can exhaust it.
const SEED_DEPOSIT_MINOR: i64 = 100_000_000;

/// Real stored rows of each shape, made by HTTP traffic, that the seed copies.
struct Templates {
    deposit: wtx::Model,
    settled_bet: wtx::Model,
    win: wtx::Model,
    rolled_back_bet: wtx::Model,
    rollback: wtx::Model,
    open_bet: wtx::Model,
    declined_bet: wtx::Model,
}

async fn stored(app: &TestApp, transaction_id: &str) -> wtx::Model {
    wtx::Entity::find()
        .filter(wtx::Column::TransactionId.eq(transaction_id))
        .one(&app.db)
        .await
        .expect("read a transaction")
        .unwrap_or_else(|| panic!("{transaction_id} is stored"))
}

/// One of each shape through the real server: a deposit, a bet and its win, a bet and its
/// rollback, an open bet, a declined bet.
async fn templates(app: &TestApp, provider: &TestProvider) -> Templates {
    let player = TestPlayer::with_balance(provider, CUR, 10_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    let win = player.win_for(&round, 150, &tx_id(&bet));
    provider.win(&win).await.assert_ok();
    let round = player.new_round();
    let rolled_back = player.bet(&round, 200);
    provider.bet(&rolled_back).await.assert_ok();
    let rollback = player.rollback(&round, &tx_id(&rolled_back));
    provider.rollback(&rollback).await.assert_ok();
    let round = player.new_round();
    let open = player.bet(&round, 300);
    provider.bet(&open).await.assert_ok();
    let declined = player.bet(&round, 1_000_000);
    let marker = unique_id("req");
    provider
        .call("/wallet/v1/bet", &declined)
        .request_id(&marker)
        .send()
        .await
        .assert_error("INSUFFICIENT_FUNDS");
    wait_for_attempt(app, &marker).await;
    let deposit = wtx::Entity::find()
        .filter(wtx::Column::Op.eq("ADJUSTMENT"))
        .filter(wtx::Column::PlayerId.eq(player.id.as_str()))
        .one(&app.db)
        .await
        .expect("read the deposit")
        .expect("the deposit is stored");
    Templates {
        deposit,
        settled_bet: stored(app, &tx_id(&bet)).await,
        win: stored(app, &tx_id(&win)).await,
        rolled_back_bet: stored(app, &tx_id(&rolled_back)).await,
        rollback: stored(app, &tx_id(&rollback)).await,
        open_bet: stored(app, &tx_id(&open)).await,
        declined_bet: stored(app, &tx_id(&declined)).await,
    }
}

/// What the timing queries look for in the seeded data.
#[derive(Default)]
struct Samples {
    settled_bet: String,
    settled_bet_request: String,
    player: String,
    round: String,
    first_tx_id: i64,
}

/// Builds the seed in memory a batch at a time and writes it with multi-row INSERTs:
/// transactions with their real stored shape, both ledger entries of every posting with
/// balances and valid hash-chain links, rounds, and each player's balance and chain head.
struct Seeder<'a> {
    db: &'a sea_orm::DatabaseTransaction,
    t: &'a Templates,
    scope: String,
    next_tx: i64,
    next_entry: i64,
    txs: Vec<wtx::ActiveModel>,
    entries: Vec<ledger_entry::ActiveModel>,
    rounds: Vec<round::ActiveModel>,
    /// Per player: balance and chain head.
    players: Vec<(i64, String)>,
    hint_mismatches: Vec<i64>,
    written: i64,
}

impl<'a> Seeder<'a> {
    fn player_id(index: usize) -> String {
        format!("seed-player-{index}")
    }

    /// A transaction copied from `template`; returns its row id and transaction id.
    fn tx(
        &mut self,
        template: &wtx::Model,
        player: usize,
        round_id: Option<&str>,
        amount_minor: i64,
        target: Option<&str>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> (i64, String) {
        let id = self.next_tx;
        self.next_tx += 1;
        let transaction_id = format!("seed-tx-{id}");
        let mut row = template.clone();
        row.id = id;
        row.transaction_id = transaction_id.clone();
        row.player_id = Self::player_id(player);
        row.round_id = round_id.map(str::to_owned);
        row.amount_minor = Some(amount_minor);
        row.target_transaction_id = target.map(str::to_owned);
        row.request_id = format!("seed-req-{id}");
        row.created_at = at;
        row.updated_at = at;
        self.txs.push(row.into_active_model());
        self.written += 1;
        (id, transaction_id)
    }

    /// Both entries of a posting, the player's with its balance and chain link.
    fn post(
        &mut self,
        wallet_tx_id: i64,
        player: usize,
        delta: i64,
        counter: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        if delta == 0 {
            return;
        }
        let account = format!("player:{}", Self::player_id(player));
        let (balance, head) = &mut self.players[player];
        *balance += delta;
        *head = server::ledger::chain::link(
            head,
            &server::ledger::chain::Posting {
                wallet_tx_id,
                player_account: &account,
                player_delta: delta,
                balance_after: *balance,
                counter_account: counter,
                counter_delta: -delta,
                currency: CUR,
            },
        );
        let (balance, head) = (*balance, head.clone());
        for (account, amount, after, link) in [
            (account, delta, Some(balance), Some(head)),
            (counter.to_owned(), -delta, None, None),
        ] {
            self.entries.push(ledger_entry::ActiveModel {
                id: Set(self.next_entry),
                wallet_transaction_id: Set(wallet_tx_id),
                account: Set(account),
                currency: Set(CUR.to_owned()),
                amount_minor: Set(amount),
                balance_after_minor: Set(after),
                chain_hash: Set(link),
                created_at: Set(at),
            });
            self.next_entry += 1;
        }
    }

    fn round(
        &mut self,
        player: usize,
        round_id: &str,
        open: bool,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        self.rounds.push(round::ActiveModel {
            provider_id: Set(self.scope.clone()),
            player_id: Set(Self::player_id(player)),
            round_id: Set(round_id.to_owned()),
            game_id: Set(self.t.settled_bet.game_id.clone().unwrap_or_default()),
            state: Set(if open { "OPEN" } else { "CLOSED" }.to_owned()),
            opened_at: Set(at),
            closed_at: Set((!open).then_some(at)),
        });
    }

    /// Writes what is buffered; transactions first (the entries refer to them).
    async fn flush(&mut self, everything: bool) {
        let full = |n: usize| everything || n >= SEED_BATCH;
        if full(self.txs.len()) && !self.txs.is_empty() {
            wtx::Entity::insert_many(std::mem::take(&mut self.txs))
                .exec_without_returning(self.db)
                .await
                .expect("insert transactions");
            for chunk in std::mem::take(&mut self.entries).chunks(2 * SEED_BATCH) {
                ledger_entry::Entity::insert_many(chunk.to_vec())
                    .exec_without_returning(self.db)
                    .await
                    .expect("insert ledger entries");
            }
        }
        if full(self.rounds.len()) && !self.rounds.is_empty() {
            round::Entity::insert_many(std::mem::take(&mut self.rounds))
                .exec_without_returning(self.db)
                .await
                .expect("insert rounds");
        }
    }
}

/// `size` transactions of one provider: a deposit per player (one player per hundred
/// transactions), then rounds of 60 % bet + win (some wins zero), 20 % bet + rollback
/// (one in 200 with a differing amount hint), 15 % a declined bet, a bet and its win,
/// 5 % bet + win again; one round in a thousand is an orphan (a committed bet in an open
/// round, 1 h to 30 days old), and the last 50 rounds are still being played. Spread over
/// 30 days. Then an attempt for every transaction, a replay for one in ten, a conflict
/// for one in fifty and a refused signature for one in 97.
async fn seed(app: &TestApp, provider: &TestProvider, t: &Templates, size: i64) -> Samples {
    use sea_orm::TransactionTrait;
    let first_tx_id = app
        .query_i64("SELECT CAST(MAX(id) AS BIGINT) + 1000 AS n FROM wallet_transactions")
        .await;
    let first_entry_id = app
        .query_i64("SELECT CAST(MAX(id) AS BIGINT) + 1000 AS n FROM ledger_entries")
        .await;
    let players = usize::try_from((size / 100).max(10)).unwrap();
    let now = chrono::Utc::now();
    let start = now - chrono::Duration::days(30);
    let body_span_ms = (chrono::Duration::days(30) - chrono::Duration::hours(1)).num_milliseconds();
    let at = |n: i64| start + chrono::Duration::milliseconds(body_span_ms * n / size.max(1));
    let txn = app.db.begin().await.expect("begin the seed");
    let mut s = Seeder {
        db: &txn,
        t,
        scope: provider.id.clone(),
        next_tx: first_tx_id,
        next_entry: first_entry_id,
        txs: Vec::new(),
        entries: Vec::new(),
        rounds: Vec::new(),
        players: vec![(0, server::ledger::chain::GENESIS.to_owned()); players],
        hint_mismatches: Vec::new(),
        written: 0,
    };
    let clearing = format!("provider:{}:{CUR}", provider.id);
    let cashier = format!("operator:cashier:{CUR}");
    for player in 0..players {
        let when = at(0);
        let (id, _) = s.tx(&t.deposit, player, None, SEED_DEPOSIT_MINOR, None, when);
        s.post(id, player, SEED_DEPOSIT_MINOR, &cashier, when);
        s.flush(false).await;
    }
    let mut samples = Samples {
        first_tx_id,
        ..Samples::default()
    };
    let mut r: i64 = 0;
    let live_from = size - 50;
    while s.written < size {
        let player = usize::try_from(r).unwrap() % players;
        let round_id = format!("seed-round-{r}");
        let when = at(s.written);
        let bet_minor = 100 + (r * 37) % 900;
        let live = s.written >= live_from;
        let orphan = r % 1000 == 999;
        if live || orphan {
            let when = if live {
                now - chrono::Duration::seconds(5)
            } else {
                when
            };
            let (id, _) = s.tx(&t.open_bet, player, Some(&round_id), bet_minor, None, when);
            s.post(id, player, -bet_minor, &clearing, when);
            s.round(player, &round_id, true, when);
        } else if (12..16).contains(&(r % 20)) {
            let (bet, bet_tx) = s.tx(
                &t.rolled_back_bet,
                player,
                Some(&round_id),
                bet_minor,
                None,
                when,
            );
            s.post(bet, player, -bet_minor, &clearing, when);
            let (rollback, _) = s.tx(
                &t.rollback,
                player,
                Some(&round_id),
                bet_minor,
                Some(&bet_tx),
                when,
            );
            s.post(rollback, player, bet_minor, &clearing, when);
            if r % 1000 == 12 {
                s.hint_mismatches.push(rollback);
            }
            s.round(player, &round_id, false, when);
        } else {
            if (16..19).contains(&(r % 20)) {
                s.tx(
                    &t.declined_bet,
                    player,
                    Some(&round_id),
                    1_000_000_000,
                    None,
                    when,
                );
            }
            let (bet, bet_tx) = s.tx(
                &t.settled_bet,
                player,
                Some(&round_id),
                bet_minor,
                None,
                when,
            );
            s.post(bet, player, -bet_minor, &clearing, when);
            let win_minor = (r * 7919) % 2000;
            let (win, _) = s.tx(
                &t.win,
                player,
                Some(&round_id),
                win_minor,
                Some(&bet_tx),
                when,
            );
            s.post(win, player, win_minor, &clearing, when);
            s.round(player, &round_id, false, when);
            if r == 2 * size / 5 {
                samples.settled_bet = bet_tx;
                samples.settled_bet_request = format!("seed-req-{bet}");
                samples.player = Seeder::player_id(player);
                samples.round = round_id.clone();
            }
        }
        r += 1;
        s.flush(false).await;
    }
    s.flush(true).await;
    let rows: Vec<player::ActiveModel> = s
        .players
        .iter()
        .enumerate()
        .map(|(index, (balance, head))| player::ActiveModel {
            id: Set(Seeder::player_id(index)),
            currency: Set(CUR.to_owned()),
            status: Set("ACTIVE".to_owned()),
            balance_minor: Set(*balance),
            ledger_head: Set(Some(head.clone())),
            created_at: Set(start),
            updated_at: Set(now),
            country: Set(None),
            language: Set(None),
            event_sequence: Set(0),
        })
        .collect();
    for chunk in rows.chunks(SEED_BATCH) {
        player::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await
            .expect("insert players");
    }
    for chunk in s.hint_mismatches.chunks(SEED_BATCH) {
        let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
        execute_on(
            &txn,
            &format!(
                "UPDATE wallet_transactions SET amount_hint_mismatch = TRUE WHERE id IN ({})",
                ids.join(",")
            ),
        )
        .await;
    }
    execute_on(&txn, &seed_attempts_sql(provider, first_tx_id)).await;
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        for table in ["wallet_transactions", "ledger_entries"] {
            execute_on(
                &txn,
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                ),
            )
            .await;
        }
    }
    txn.commit().await.expect("commit the seed");
    // PostgreSQL's autovacuum would analyze tables this size; the app never runs ANALYZE
    // on SQLite, so neither does the seed.
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        app.query("ANALYZE").await;
    }
    samples
}

async fn execute_on(db: &impl ConnectionTrait, sql: &str) {
    db.execute(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// One attempt per seeded transaction, and replays, conflicts and refused signatures, in
/// the order they arrived.
fn seed_attempts_sql(provider: &TestProvider, first_tx_id: i64) -> String {
    let key = quote(&provider.key_id);
    let columns = "request_id, received_at, latency_ms, method, endpoint, provider_id, key_id, \
                   transaction_id, fingerprint, signature, outcome, http_status, error_code, \
                   request_body, response_body";
    let endpoint = "CASE t.op WHEN 'BET' THEN '/wallet/v1/bet' WHEN 'WIN' THEN '/wallet/v1/win' \
                    WHEN 'ROLLBACK' THEN '/wallet/v1/rollback' \
                    ELSE '/operator/v1/players/{player_id}/adjustments' END";
    let provider_id = "CASE WHEN t.scope = '@operator' THEN NULL ELSE t.scope END";
    let key_id = format!("CASE WHEN t.scope = '@operator' THEN NULL ELSE {key} END");
    let signature = "CASE WHEN t.scope = '@operator' THEN 'NONE' ELSE 'VALID' END";
    let from = format!("FROM wallet_transactions t WHERE t.id >= {first_tx_id}");
    format!(
        "INSERT INTO attempts ({columns}) SELECT {columns} FROM ( \
           SELECT t.request_id AS request_id, t.created_at AS received_at, 0 AS n, \
                  CAST(3 AS BIGINT) AS latency_ms, 'POST' AS method, {endpoint} AS endpoint, \
                  {provider_id} AS provider_id, {key_id} AS key_id, \
                  t.transaction_id AS transaction_id, t.fingerprint AS fingerprint, \
                  {signature} AS signature, \
                  CASE WHEN t.state = 'DECLINED' THEN 'DECLINED' ELSE 'FIRST' END AS outcome, \
                  t.http_status AS http_status, t.error_code AS error_code, \
                  t.request_body AS request_body, t.response_body AS response_body {from} \
           UNION ALL \
           SELECT 'seed-replay-' || CAST(t.id AS TEXT), t.created_at, 1, CAST(1 AS BIGINT), 'POST', \
                  {endpoint}, {provider_id}, {key_id}, t.transaction_id, t.fingerprint, {signature}, \
                  'REPLAY', t.http_status, t.error_code, t.request_body, t.response_body \
           {from} AND t.id % 10 = 0 \
           UNION ALL \
           SELECT 'seed-conflict-' || CAST(t.id AS TEXT), t.created_at, 2, CAST(2 AS BIGINT), 'POST', \
                  {endpoint}, {provider_id}, {key_id}, t.transaction_id, t.fingerprint, {signature}, \
                  'CONFLICT', 409, 'IDEMPOTENCY_CONFLICT', t.request_body, '{{}}' \
           {from} AND t.id % 50 = 0 \
           UNION ALL \
           SELECT 'seed-refused-' || CAST(t.id AS TEXT), t.created_at, 3, CAST(1 AS BIGINT), 'POST', \
                  {endpoint}, {provider_id}, {key_id}, NULL, NULL, 'INVALID', \
                  'REJECTED', 401, 'INVALID_SIGNATURE', t.request_body, '{{}}' \
           {from} AND t.id % 97 = 0 \
         ) a ORDER BY received_at, n"
    )
}

/// Times each console query, the discrepancy list and reconciliation runs on a realistic
/// dataset (`ONCEWALLET_TIMING_TRANSACTIONS`, default 100,000). Not a pass/fail benchmark:
/// run with `--ignored --nocapture` and read the table.
#[tokio::test]
#[ignore = "seeds 100,000 transactions or more; run by hand for timings"]
async fn console_queries_answer_quickly_at_100k_transactions() {
    use server::reconcile::discrepancies::{self, Filter};
    use server::reconcile::{run_with, RunOptions, TrailMode, TrailPass};

    // RUST_LOG=server::reconcile=info shows each check's time.
    server::telemetry::init(false, None, server::telemetry::LogTarget::Server);
    let size = seed_size();
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let t = templates(&app, &provider).await;
    let started = std::time::Instant::now();
    let samples = seed(&app, &provider, &t, size).await;
    let count = |table: &str| format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}");
    eprintln!(
        "seeded {} transactions, {} ledger entries, {} rounds, {} attempts, {} players in {:?}",
        app.query_i64(&count("wallet_transactions")).await,
        app.query_i64(&count("ledger_entries")).await,
        app.query_i64(&count("rounds")).await,
        app.query_i64(&count("attempts")).await,
        app.query_i64(&count("players")).await,
        started.elapsed()
    );
    let currencies = CurrencyTable::default();
    let db = &app.db;
    let store = Store::connect(&app.database_url, WriterConfig::default())
        .await
        .expect("connect a store");
    // (what, first call ms, best of three ms; runs are timed once).
    let mut timings: Vec<(String, f64, Option<f64>)> = Vec::new();
    let ms = |started: std::time::Instant| started.elapsed().as_secs_f64() * 1e3;
    macro_rules! timed {
        ($name:expr, $call:expr) => {{
            let started = std::time::Instant::now();
            let result = $call.await.expect($name);
            timings.push(($name.to_owned(), ms(started), None));
            result
        }};
    }
    // A read: the first call (cold) and the best of three (warm).
    macro_rules! read {
        ($name:expr, $call:expr) => {{
            let started = std::time::Instant::now();
            let result = $call.await.expect($name);
            let first = ms(started);
            let mut best = first;
            for _ in 0..2 {
                let started = std::time::Instant::now();
                $call.await.expect($name);
                best = best.min(ms(started));
            }
            timings.push(($name.to_owned(), first, Some(best)));
            result
        }};
    }
    let run = |trail| {
        let options = RunOptions {
            trail,
            ..RunOptions::default()
        };
        run_with(&store, Trigger::Manual, options)
    };

    let first = timed!(
        "reconciliation, first run (full trail pass)",
        run(TrailMode::default())
    );
    let RunOutcome::Finished(first) = first else {
        panic!("skipped")
    };
    assert_eq!(first.trail.pass, TrailPass::Full);
    eprintln!(
        "first run: {} findings, trail {} players / {} postings, checks {:?}",
        first.findings, first.trail.players_checked, first.trail.postings_checked, first.checks
    );
    assert_eq!(first.trail.broken, 0, "the seeded chains verify");
    assert_eq!(first.critical_open, 0, "{:?}", first.checks);
    timed!(
        "reconciliation, incremental run (nothing new)",
        run(TrailMode::default())
    );
    timed!(
        "reconciliation, forced full run",
        run(TrailMode::Force(TrailPass::Full))
    );
    let walked = timed!("trail: every chain walked (verify-trail)", async {
        server::ledger::chain::verify(&server::ledger::chain::snapshot(&store).await?).await
    });
    assert!(walked.first_break.is_none());
    let player = TestPlayer::with_balance(&provider, CUR, 100_000).await;
    for _ in 0..20 {
        let round = player.new_round();
        provider.bet(&player.bet(&round, 10)).await.assert_ok();
        provider.win(&player.win(&round, 5)).await.assert_ok();
    }
    let after_traffic = timed!(
        "reconciliation, incremental run after 41 postings",
        run(TrailMode::default())
    );
    let RunOutcome::Finished(after_traffic) = after_traffic else {
        panic!("skipped")
    };
    assert_eq!(after_traffic.trail.postings_checked, 41);

    let page = read!(
        "live_feed newest 100",
        live_feed(db, None, &FeedFilter::default(), 100)
    );
    assert_eq!(page.attempts.len(), 100);
    let middle = page.attempts[0].id / 2;
    read!(
        "live_feed 500 after a cursor",
        live_feed(db, Some(middle), &FeedFilter::default(), 500)
    );
    let replays = FeedFilter {
        outcome: Some("REPLAY".to_owned()),
        ..of_provider(&provider)
    };
    read!(
        "live_feed provider + REPLAY",
        live_feed(db, None, &replays, 100)
    );
    let player_filter = FeedFilter {
        player_id: Some(samples.player.clone()),
        ..FeedFilter::default()
    };
    read!("live_feed player", live_feed(db, None, &player_filter, 100));
    let found = read!(
        "trace by transaction id",
        trace(db, &currencies, &samples.settled_bet)
    );
    let found = found.expect("the sample bet is traced");
    assert_eq!(found.transactions[0].transaction.state, "SETTLED");
    assert_eq!(found.transactions[0].related.len(), 1, "its win");
    let by_request = read!(
        "trace by request id",
        trace(db, &currencies, &samples.settled_bet_request)
    );
    assert!(by_request.is_some());
    let hits = read!(
        "search by transaction id",
        search(db, &samples.settled_bet, 0, 50)
    );
    assert_eq!(hits.total, 1);
    let hits = read!(
        "search by request id",
        search(db, &samples.settled_bet_request, 0, 50)
    );
    assert_eq!(hits.total, 1);
    let hits = read!("search by player id", search(db, &samples.player, 0, 50));
    assert!(hits.total > 10, "{}", hits.total);
    let hits = read!("search by round id", search(db, &samples.round, 0, 50));
    assert_eq!(hits.total, 2, "the bet and its win");
    read!(
        "export_rows player",
        export_rows(db, &samples.player, 100_000)
    );
    let pending = read!(
        "pending_rollbacks page 0",
        pending_rollbacks(db, 0, chrono::Utc::now())
    );
    assert!(pending.total > 0, "the seed has orphan debits");
    let all = Filter {
        limit: 50,
        ..Filter::default()
    };
    let listed = read!("discrepancies, newest 50", discrepancies::list(db, &all));
    assert!(!listed.items.is_empty());
    let open_orphans = Filter {
        kind: Some(PENDING_ROLLBACK.to_owned()),
        status: Some("OPEN".to_owned()),
        limit: 50,
        ..Filter::default()
    };
    read!(
        "discrepancies, OPEN PENDING_ROLLBACK 50",
        discrepancies::list(db, &open_orphans)
    );

    eprintln!(
        "\n{size} seeded transactions on {:?} (debug build)",
        db.get_database_backend()
    );
    eprintln!("| query | first ms | best of 3 ms |\n|---|---:|---:|");
    for (name, first, best) in &timings {
        let best = best.map_or_else(String::new, |b| format!("{b:.1}"));
        eprintln!("| {name} | {first:.1} | {best} |");
    }
    assert!(samples.first_tx_id > 0);
}
