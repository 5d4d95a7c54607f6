//! `server seed`: the history it writes is what the wallet would have written. The
//! reconciliation finds exactly the findings it planted, a seeded request sent again is a
//! replay of its stored answer, the attempt counters equal the attempt log, and the
//! outbox holds the last day's events with each player's sequence going on after them.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use server::db::entities::wallet_transaction;
use server::domain::CurrencyTable;
use server::idempotency::{first_body_of, request_of};
use server::seed::{SeedConfig, SeedReport};

use crate::helpers::{fresh_secret, quote, spawn_app, TestApp, TestProvider};

async fn seed(app: &TestApp, transactions: u64) -> SeedReport {
    let mut config = SeedConfig::new(&app.database_url, transactions);
    config.print = false;
    server::seed::run(config).await.expect("the seed runs")
}

#[tokio::test]
async fn reconciliation_finds_exactly_what_the_seed_planted() {
    let app = spawn_app().await;
    let report = seed(&app, 3_000).await;
    assert!(report.written.transactions >= 3_000, "{report:?}");
    assert!(report.written.ledger_entries > report.written.transactions);
    assert!(report.written.attempts > report.written.transactions);
    let run = app
        .operator()
        .request(
            reqwest::Method::POST,
            "/operator/v1/reconciliation/runs",
            Some(&json!({ "full": true })),
        )
        .await;
    run.assert_status(200);
    let run = &run.body["run"];
    assert_eq!(run["critical_open"], 0, "{run}");
    let found = |kind: &str| {
        run["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["kind"] == kind)
            .map_or(-1, |c| c["findings"].as_i64().expect("a count"))
    };
    let planted = &report.planted;
    assert_eq!(
        found("PENDING_ROLLBACK"),
        planted.pending_rollbacks as i64,
        "{run}"
    );
    assert_eq!(found("STALE_ROUND"), planted.stale_rounds as i64, "{run}");
    assert_eq!(
        found("UNCLAIMED_TOMBSTONE"),
        planted.unclaimed_tombstones as i64,
        "{run}"
    );
    assert_eq!(
        found("AMOUNT_HINT_MISMATCH"),
        planted.hint_mismatches as i64,
        "{run}"
    );
    for kind in [
        "BALANCE_MISMATCH",
        "UNBALANCED_TRANSACTION",
        "CLEARING_MISMATCH",
        "BET_STATE_UNKNOWN",
        "TRAIL_BROKEN",
    ] {
        assert_eq!(found(kind), 0, "{kind}: {run}");
    }
    assert!(
        run["trail"]["postings_checked"].as_i64() > Some(1_000),
        "{run}"
    );
}

#[tokio::test]
async fn a_seeded_bet_sent_again_is_a_replay_of_its_stored_answer() {
    let app = spawn_app().await;
    let report = seed(&app, 1_000).await;
    let rows = app
        .query(&format!(
            "SELECT scope, transaction_id, request_body, response_body FROM wallet_transactions \
             WHERE op = 'BET' AND state = 'SETTLED' AND transaction_id LIKE {} LIMIT 1",
            quote(&format!("{}-%", report.run_tag))
        ))
        .await;
    let row = rows.first().expect("a settled seeded bet");
    let scope: String = row.try_get("", "scope").expect("scope");
    let transaction_id: String = row.try_get("", "transaction_id").expect("id");
    // A bet's row keeps neither its answer (its columns give it back) nor its request as
    // text (it is packed).
    for text in ["request_body", "response_body"] {
        assert_eq!(row.try_get::<String>("", text).expect(text), "", "{text}");
    }
    let stored = wallet_transaction::Entity::find()
        .filter(wallet_transaction::Column::Scope.eq(&scope))
        .filter(wallet_transaction::Column::TransactionId.eq(&transaction_id))
        .one(&app.db)
        .await
        .expect("read")
        .expect("the key's row");
    let mut body: Value = serde_json::from_str(&request_of(&stored)).expect("a JSON request body");
    assert_eq!(body["transaction_id"], transaction_id.as_str());
    let first: Value = serde_json::from_str(&first_body_of(&stored, &CurrencyTable::default()))
        .expect("a JSON answer");
    // The seeded key's secret is unknown: give the seeded provider a key the test knows.
    let key_id = format!("{scope}-test-key");
    let secret = fresh_secret();
    app.operator()
        .put_provider(
            &scope,
            &json!({ "name": "seeded", "keys": [ { "key_id": key_id, "secret": secret } ] }),
        )
        .await
        .assert_ok();
    let provider = TestProvider::new(&app).await.with_key(&key_id, &secret);
    // Session tokens are stored redacted and are not part of the request's meaning.
    body["session_token"] = json!("any-session");
    let again = provider.bet(&body).await;
    again.assert_status(200);
    assert!(again.replayed(), "{}", again.body);
    assert_eq!(again.body["transaction"], first["transaction"]);
}

#[tokio::test]
async fn the_seeded_attempt_counters_equal_the_attempt_log() {
    let app = spawn_app().await;
    seed(&app, 1_000).await;
    let counted = app
        .query_i64("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS n FROM attempt_counters")
        .await;
    let logged = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM attempts")
        .await;
    assert_eq!(counted, logged);
    let replays = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM attempts WHERE outcome = 'REPLAY'")
        .await;
    assert!(replays > 0, "the log has replays");
}

#[tokio::test]
async fn the_outbox_holds_the_last_days_events_and_sequences_go_on_after_the_seed() {
    let app = spawn_app().await;
    seed(&app, 3_000).await;
    let movements = "SELECT COUNT(*) AS n FROM ledger_entries e WHERE e.account = 'player:' || ";
    // Each player's count of events is its count of movements, and each event's sequence
    // is its movement's place in the player's ledger.
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) AS n FROM players p WHERE p.event_sequence <> ({movements} p.id)"
        ))
        .await,
        0
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) AS n FROM outbox_events o WHERE o.sequence <> \
             ({movements} o.player_id AND e.wallet_transaction_id <= o.wallet_transaction_id)"
        ))
        .await,
        0
    );
    // The outbox holds the movements of the last day (of 30): every one since its oldest.
    let events = app
        .query_i64("SELECT COUNT(*) AS n FROM outbox_events")
        .await;
    let since_first = app
        .query_i64(
            "SELECT COUNT(*) AS n FROM wallet_transactions t WHERE t.created_at >= \
             (SELECT MIN(occurred_at) FROM outbox_events) AND EXISTS \
             (SELECT 1 FROM ledger_entries e WHERE e.wallet_transaction_id = t.id)",
        )
        .await;
    let all = app
        .query_i64("SELECT COUNT(DISTINCT wallet_transaction_id) AS n FROM ledger_entries")
        .await;
    assert!(events > 0 && events * 10 < all, "{events} of {all}");
    assert_eq!(events, since_first);
    let oldest_hours = app
        .query("SELECT MIN(occurred_at) AS at FROM outbox_events")
        .await
        .first()
        .map(|row| {
            row.try_get::<chrono::DateTime<chrono::Utc>>("", "at")
                .unwrap()
        })
        .map(|at| (chrono::Utc::now() - at).num_hours())
        .unwrap();
    assert!(oldest_hours < 24, "{oldest_hours} h");

    // A seeded player's next movement is the next event in its sequence, with a new id.
    let receiver = crate::events::subscribed_receiver(&app, "crm", json!(["money.moved"])).await;
    let row = app
        .query("SELECT id, currency, event_sequence FROM players ORDER BY event_sequence DESC")
        .await;
    let row = row.first().unwrap();
    let player: String = row.try_get("", "id").unwrap();
    let currency: String = row.try_get("", "currency").unwrap();
    let sequence: i64 = row.try_get("", "event_sequence").unwrap();
    let last_id = app
        .query_i64("SELECT MAX(id) AS n FROM outbox_events")
        .await;
    app.operator()
        .adjust(&player, &crate::helpers::Operator::credit(5, &currency))
        .await
        .assert_ok();
    let arrived = receiver
        .wait_for("the deposit's event", |a| !a.is_empty())
        .await;
    let event = &arrived[0];
    assert_eq!(event.event["data"]["player_id"], player.as_str());
    assert_eq!(event.event["data"]["sequence"], sequence + 1);
    let id: i64 = event.event_id["evt_".len()..].parse().unwrap();
    assert!(id > last_id, "{} after {last_id}", event.event_id);
}
