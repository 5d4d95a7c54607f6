//! `/metrics` for an on-call team (docs/OPERATIONS.md, "Metrics and alerts"): the gauges
//! read from the database follow what reconciliation finds, and every metric the alert
//! rules and the Grafana dashboard in `ops/` use is exported by a running server.
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use server::db::entities::wallet_transaction;

use crate::helpers::*;

/// The metrics text of `app`.
async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .expect("scrape /metrics");
    assert_eq!(response.status(), 200);
    response.text().await.expect("the metrics text")
}

/// The value of the sample `name` or `name{labels}` (labels as written), if exported.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == series).then(|| value.parse().expect("a number"))
        })
}

/// The metric names exported: every sample's name, histograms' `_bucket`, `_sum` and
/// `_count` included.
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            line.split(['{', ' '])
                .next()
                .expect("a sample has a name")
                .to_owned()
        })
        .collect()
}

/// The wallet's metric names a rules or dashboard file uses: `oncewallet_*` and the
/// process's `process_*` (the scraper's own `up` is not ours).
fn used_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for prefix in ["oncewallet_", "process_"] {
        let mut rest = text;
        while let Some(at) = rest.find(prefix) {
            let preceded_by_word = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !preceded_by_word {
                names.insert(name.clone());
            }
            rest = &rest[at + name.len()..];
        }
    }
    names
}

fn ops_file(path: &str) -> String {
    let path = format!("{}/../ops/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Scrapes until `done` holds for the text (the database gauges are read at most every
/// few seconds, the attempt log's counters once its batch is written).
async fn scrape_until(app: &TestApp, what: &str, done: impl Fn(&str) -> bool) -> String {
    let since = Instant::now();
    loop {
        let text = scrape(app).await;
        if done(&text) {
            return text;
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "/metrics never showed {what}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A bet of 2.50 in `currency` sent twice (one replay), left in its open round past the
/// pending threshold, and a balance edited by hand (a CRITICAL finding), then one
/// reconciliation run.
async fn traffic_and_findings(app: &TestApp, currency: &str) -> TestPlayer {
    let provider = TestProvider::new(app).await;
    let player = TestPlayer::with_balance(&provider, currency, 5_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 250);
    provider.bet(&bet).await.assert_ok();
    provider.bet(&bet).await.assert_ok();
    wallet_transaction::Entity::update_many()
        .col_expr(
            wallet_transaction::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(45)),
        )
        .filter(wallet_transaction::Column::TransactionId.eq(tx_id(&bet)))
        .exec(&app.db)
        .await
        .expect("backdate the bet");
    let edited = format!(
        "UPDATE players SET balance_minor = balance_minor + 7 WHERE id = {}",
        quote(&player.id)
    );
    app.db
        .execute_unprepared(&edited)
        .await
        .unwrap_or_else(|e| panic!("{edited}: {e}"));
    app.operator()
        .request(Method::POST, "/operator/v1/reconciliation/runs", None)
        .await
        .assert_ok();
    player
}

#[tokio::test]
async fn findings_pending_rollbacks_and_the_last_run_show_on_metrics() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    assert_eq!(
        sample(&before, "oncewallet_findings_critical_open"),
        Some(0.0)
    );
    assert_eq!(sample(&before, "oncewallet_pending_rollbacks"), Some(0.0));
    assert_eq!(
        sample(
            &before,
            "oncewallet_reconciliation_last_finished_timestamp_seconds"
        ),
        None,
        "no run has finished yet"
    );
    assert_eq!(sample(&before, "oncewallet_state_read_success"), Some(1.0));

    let started = chrono::Utc::now().timestamp() as f64;
    traffic_and_findings(&app, "EUR").await;
    let after = scrape_until(&app, "the CRITICAL finding", |text| {
        sample(text, "oncewallet_findings_critical_open") == Some(1.0)
    })
    .await;

    assert_eq!(
        sample(
            &after,
            "oncewallet_findings_open{kind=\"BALANCE_MISMATCH\",severity=\"CRITICAL\"}"
        ),
        Some(1.0),
        "{after}"
    );
    assert_eq!(sample(&after, "oncewallet_pending_rollbacks"), Some(1.0));
    let age = sample(&after, "oncewallet_pending_rollback_oldest_age_seconds").unwrap();
    assert!(
        (45.0 * 60.0..50.0 * 60.0).contains(&age),
        "the bet is 45 minutes old: {age}"
    );
    let finished = sample(
        &after,
        "oncewallet_reconciliation_last_finished_timestamp_seconds",
    )
    .expect("the run finished");
    assert!(finished >= started - 1.0, "{finished} < {started}");
    assert_eq!(
        sample(&after, "oncewallet_reconciliation_last_critical_findings"),
        Some(1.0)
    );
    assert_eq!(
        sample(&after, "oncewallet_reconciliation_last_run_failed"),
        Some(0.0)
    );
    assert_eq!(
        sample(&after, "oncewallet_db_pool_max_connections{pool=\"read\"}").map(|n| n > 0.0),
        Some(true),
        "{after}"
    );
}

#[tokio::test]
async fn every_metric_the_alert_rules_and_the_dashboard_use_is_exported() {
    let app = spawn_app().await;
    // A subscriber, so that the outbox's gauges and the deliveries' counter have samples.
    let receiver = crate::events::Receiver::start().await;
    crate::events::subscribe(
        &app.base_url,
        &app.operator_token,
        "ops",
        &receiver.url,
        serde_json::json!(["*"]),
    )
    .await;
    // The process's recorder is shared by every test server in this process: a currency
    // no other test uses makes the replayed amount this test's own.
    traffic_and_findings(&app, "CHF").await;
    let mut used = used_in(&ops_file("prometheus/alerts.yml"));
    used.extend(used_in(&ops_file("grafana/oncewallet.json")));
    assert!(
        used.len() >= 15,
        "the rules and the dashboard name the wallet's metrics: {used:?}"
    );
    // The replay's counters arrive with the attempt log's next batch.
    let replayed = "oncewallet_replayed_amount_minor_units_total{currency=\"CHF\"}";
    let text = scrape_until(&app, "every metric the ops files use", |text| {
        let exported = exported(text);
        used.iter().all(|name| exported.contains(name)) && sample(text, replayed).is_some()
    })
    .await;
    assert_eq!(
        sample(&text, replayed),
        Some(250.0),
        "the replayed bet's amount"
    );
}
