//! The attempt counters equal the attempt log, the overview reads
//! them right, `/metrics` exports them, and retention prunes only what is old.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryResult,
};

use server::attempts::counters::Tally;
use server::attempts::overview::overview;
use server::attempts::retention::{
    fold_old_minutes, prune, Pruned, Retention, MINUTE_COUNTERS_KEPT,
};
use server::db::entities::{attempt, attempt_counter};
use server::db::{Store, WriterConfig};
use server::telemetry::metrics::LATENCY_BOUNDS_MS;

use crate::helpers::*;

/// How long the background writer may take to flush a test's attempts.
const FLUSH_DEADLINE: Duration = Duration::from_secs(20);

/// Waits until the attempt with this request id is in the log. The writer takes records in
/// the order they were answered and commits batches in order, so every earlier attempt is
/// written too.
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

/// The traffic of one provider: what each outcome class should count.
struct Traffic {
    request_id_of_last: String,
    bet_amount_minor: i64,
}

/// Three first bets, three replays (one of a decline), a conflict, a decline and a bad
/// signature, all from `provider`; the last one carries a known request id.
async fn drive_traffic(provider: &TestProvider, player: &TestPlayer) -> Traffic {
    let round = player.new_round();
    let bet_amount_minor = 100;
    let bets: Vec<_> = (0..3)
        .map(|_| player.bet(&round, bet_amount_minor))
        .collect();
    for bet in &bets {
        provider.bet(bet).await.assert_ok().assert_fresh();
    }
    let first = provider.bet(&bets[0]).await;
    first.assert_ok();
    provider.bet(&bets[0]).await.assert_ok();
    let mut conflicting = bets[1].clone();
    conflicting["amount"] = player.money(bet_amount_minor + 1);
    provider
        .bet(&conflicting)
        .await
        .assert_conflict(&["amount.value"]);
    let too_big = player.bet(&round, 1_000_000);
    provider
        .bet(&too_big)
        .await
        .assert_error("INSUFFICIENT_FUNDS");
    provider
        .bet(&too_big)
        .await
        .assert_error("INSUFFICIENT_FUNDS");
    let request_id_of_last = unique_id("req");
    let refused = provider
        .call("/wallet/v1/bet", &player.bet(&round, bet_amount_minor))
        .signature(SignatureMode::WithSecret(fresh_secret()))
        .request_id(&request_id_of_last)
        .send()
        .await;
    refused.assert_error("INVALID_SIGNATURE");
    Traffic {
        request_id_of_last,
        bet_amount_minor,
    }
}

fn minute_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM date_trunc('minute', received_at)) AS BIGINT)"
        }
        _ => "(CAST(strftime('%s', received_at) AS BIGINT) / 60) * 60",
    }
}

/// A fingerprint field of the attempt's own fingerprint (an object with names) or, when
/// it matched its key and kept none, of the key's stored one (a tag of the names, then
/// the values alone in the order of their sorted names: `amount.currency` at 1,
/// `amount.value` at 3, for the wallet's operations and the operator's adjustments alike).
fn fingerprint_field_sql(backend: DbBackend, field: &str, position: usize) -> String {
    match backend {
        DbBackend::Postgres => format!(
            "CASE WHEN own_fp IS NOT NULL THEN CAST(own_fp AS json) ->> '{field}' \
             ELSE CAST(key_fp AS json) ->> {position} END"
        ),
        _ => format!(
            "CASE WHEN own_fp IS NOT NULL THEN json_extract(own_fp, '$.\"{field}\"') \
             ELSE json_extract(key_fp, '$[{position}]') END"
        ),
    }
}

/// The attempt log grouped the way the counters are keyed, straight from `attempts`; an
/// attempt that matched its key keeps no fingerprint of its own, the key's row has it
/// (an operator adjustment's key is in the `@operator` scope).
fn log_grouped_sql(backend: DbBackend) -> String {
    let mut buckets = Vec::new();
    let mut lower = i64::MIN;
    for (index, bound) in LATENCY_BOUNDS_MS.iter().enumerate() {
        buckets.push(format!(
            "CAST(SUM(CASE WHEN latency_ms > {lower} AND latency_ms <= {bound} THEN 1 ELSE 0 END) AS BIGINT) AS b{index}"
        ));
        lower = *bound;
    }
    buckets.push(format!(
        "CAST(SUM(CASE WHEN latency_ms > {lower} THEN 1 ELSE 0 END) AS BIGINT) AS b12"
    ));
    format!(
        "SELECT minute_unix_s, provider_id, endpoint, outcome, http_status, error_code, currency, \
                CAST(COUNT(*) AS BIGINT) AS count, \
                CAST(SUM(amount_minor) AS BIGINT) AS amount_minor_sum, \
                CAST(SUM(latency_ms) AS BIGINT) AS latency_ms_sum, \
                CAST(MAX(latency_ms) AS BIGINT) AS latency_ms_max, {buckets} \
         FROM (SELECT {minute} AS minute_unix_s, COALESCE(provider_id, '') AS provider_id, \
                      endpoint, outcome, http_status, COALESCE(error_code, '') AS error_code, \
                      COALESCE({currency}, '') AS currency, \
                      COALESCE(CAST({value} AS BIGINT), 0) AS amount_minor, latency_ms \
               FROM (SELECT attempts.*, attempts.fingerprint AS own_fp, t.fingerprint AS key_fp \
                     FROM attempts LEFT JOIN wallet_transactions t \
                     ON t.scope = COALESCE(attempts.provider_id, '@operator') \
                     AND t.transaction_id = attempts.transaction_id) logged) a \
         GROUP BY minute_unix_s, provider_id, endpoint, outcome, http_status, error_code, currency \
         ORDER BY minute_unix_s, provider_id, endpoint, outcome, http_status, error_code, currency",
        buckets = buckets.join(", "),
        minute = minute_sql(backend),
        currency = fingerprint_field_sql(backend, "amount.currency", 1),
        value = fingerprint_field_sql(backend, "amount.value", 3),
    )
}

const COUNTERS_SQL: &str = "SELECT minute_unix_s, provider_id, endpoint, outcome, http_status, \
        error_code, currency, count, amount_minor_sum, latency_ms_sum, latency_ms_max, \
        latency_le1_ms AS b0, latency_le2_ms AS b1, latency_le5_ms AS b2, latency_le10_ms AS b3, \
        latency_le20_ms AS b4, latency_le50_ms AS b5, latency_le100_ms AS b6, \
        latency_le200_ms AS b7, latency_le500_ms AS b8, latency_le1000_ms AS b9, \
        latency_le2000_ms AS b10, latency_le5000_ms AS b11, latency_over5000_ms AS b12 \
    FROM attempt_counters \
    ORDER BY minute_unix_s, provider_id, endpoint, outcome, http_status, error_code, currency";

/// One grouped row: its key as text, its measures in column order.
type GroupedRow = (String, Vec<i64>);

fn grouped_row(row: &QueryResult) -> GroupedRow {
    let text = |name: &str| {
        row.try_get::<String>("", name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let number = |name: &str| {
        row.try_get::<i64>("", name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let status: i32 = row.try_get("", "http_status").expect("http_status");
    let key = format!(
        "{} {} {} {} {status} {} {}",
        number("minute_unix_s"),
        text("provider_id"),
        text("endpoint"),
        text("outcome"),
        text("error_code"),
        text("currency")
    );
    let mut measures: Vec<i64> = [
        "count",
        "amount_minor_sum",
        "latency_ms_sum",
        "latency_ms_max",
    ]
    .into_iter()
    .map(number)
    .collect();
    measures.extend((0..13).map(|index| number(&format!("b{index}"))));
    (key, measures)
}

/// The sum of the samples of a Prometheus counter whose labels include all of `labels`.
fn prometheus_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix('{'))
        .filter_map(|rest| rest.split_once("} "))
        .filter(|(label_text, _)| {
            labels
                .iter()
                .all(|(key, value)| label_text.contains(&format!("{key}=\"{value}\"")))
        })
        .map(|(_, value)| value.trim().parse::<f64>().expect("a sample value"))
        .sum()
}

#[tokio::test]
async fn counters_equal_the_attempt_log_after_mixed_traffic() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let traffic = drive_traffic(&provider, &player).await;
    wait_for_attempt(&app, &traffic.request_id_of_last).await;

    let from_log: Vec<GroupedRow> = app
        .query(&log_grouped_sql(app.db.get_database_backend()))
        .await
        .iter()
        .map(grouped_row)
        .collect();
    let from_counters: Vec<GroupedRow> = app
        .query(COUNTERS_SQL)
        .await
        .iter()
        .map(grouped_row)
        .collect();
    assert!(
        from_log.iter().any(|(key, _)| key.contains(&provider.id)),
        "the provider's attempts are in the log"
    );
    assert_eq!(
        from_counters, from_log,
        "counters differ from the attempt log"
    );

    // What the provider's traffic should add up to, independently of both.
    let by_outcome: BTreeMap<String, i64> = app
        .query(&format!(
            "SELECT outcome, CAST(SUM(count) AS BIGINT) AS n FROM attempt_counters \
             WHERE provider_id = {} GROUP BY outcome",
            quote(&provider.id)
        ))
        .await
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "outcome").unwrap(),
                row.try_get::<i64>("", "n").unwrap(),
            )
        })
        .collect();
    let expected: BTreeMap<String, i64> = [
        ("CONFLICT", 1),
        ("DECLINED", 1),
        ("FIRST", 3),
        ("REJECTED", 1),
        ("REPLAY", 3),
    ]
    .into_iter()
    .map(|(outcome, n)| (outcome.to_owned(), n))
    .collect();
    assert_eq!(by_outcome, expected);
}

#[tokio::test]
async fn the_overview_reports_what_the_log_holds() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let traffic = drive_traffic(&provider, &player).await;
    wait_for_attempt(&app, &traffic.request_id_of_last).await;

    let view = overview(&app.db, 60, Some(&provider.id), Utc::now())
        .await
        .expect("the overview");
    let totals = &view.totals.outcomes;
    assert_eq!(
        (
            totals.attempts,
            totals.first,
            totals.replays,
            totals.conflicts,
            totals.declined,
            totals.rejected,
            totals.errors,
            totals.status_5xx
        ),
        (9, 3, 3, 1, 1, 1, 0, 0),
        "totals: {totals:?}"
    );
    assert!((totals.replay_rate() - 3.0 / 9.0).abs() < 1e-9);
    let max_latency_ms = app
        .query_i64(&format!(
            "SELECT CAST(MAX(latency_ms) AS BIGINT) AS n FROM attempts WHERE provider_id = {}",
            quote(&provider.id)
        ))
        .await;
    assert_eq!(view.totals.latency_ms_max, max_latency_ms);
    let p50 = view.totals.latency_ms_p50().expect("a p50 with attempts");
    let p99 = view.totals.latency_ms_p99().expect("a p99 with attempts");
    assert!(p50 <= p99 && p99 <= max_latency_ms, "p50 {p50}, p99 {p99}");

    // Declines and refusals by code, as the log has them.
    let codes: Vec<(String, String, i64)> = view
        .codes
        .iter()
        .map(|c| (c.outcome.clone(), c.error_code.clone(), c.count))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("CONFLICT".to_owned(), "IDEMPOTENCY_CONFLICT".to_owned(), 1),
            ("DECLINED".to_owned(), "INSUFFICIENT_FUNDS".to_owned(), 1),
            ("REJECTED".to_owned(), "INVALID_SIGNATURE".to_owned(), 1),
            ("REPLAY".to_owned(), "INSUFFICIENT_FUNDS".to_owned(), 1),
        ]
    );
    // Two replays of a 100 bet and one of the 1,000,000 decline.
    let replayed: Vec<(String, i64)> = view
        .replayed_amounts
        .iter()
        .map(|a| (a.currency.clone(), a.amount_minor))
        .collect();
    assert_eq!(
        replayed,
        vec![("EUR".to_owned(), 2 * traffic.bet_amount_minor + 1_000_000)]
    );
    let series_attempts: i64 = view.series.iter().map(|p| p.totals.outcomes.attempts).sum();
    assert_eq!(series_attempts, 9);
    assert!(view.series.windows(2).all(|w| w[0].minute < w[1].minute));

    // All providers: every attempt of the window, the operator API's included.
    let all = overview(&app.db, 15, None, Utc::now())
        .await
        .expect("the overview of all providers");
    let logged = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM attempts")
        .await;
    assert_eq!(all.totals.outcomes.attempts, logged);
    assert!(all.totals.outcomes.attempts > totals.attempts);

    // A provider without traffic has an empty overview.
    let none = overview(&app.db, 24 * 60, Some("no-such-provider"), Utc::now())
        .await
        .expect("an empty overview");
    assert_eq!(none.totals.outcomes.attempts, 0);
    assert!(none.series.is_empty() && none.codes.is_empty());
    assert_eq!(none.totals.latency_ms_p99(), None);
}

#[tokio::test]
async fn metrics_exports_the_requests_in_prometheus_text_format() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let traffic = drive_traffic(&provider, &player).await;
    wait_for_attempt(&app, &traffic.request_id_of_last).await;

    let response = app.get("/metrics").await;
    response.assert_status(200);
    assert!(response
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    let text = response
        .body
        .as_str()
        .expect("the metrics are text, not JSON");
    assert!(text.contains("# TYPE oncewallet_requests_total counter"));
    assert!(text.contains("# TYPE oncewallet_request_duration_seconds histogram"));
    let requests = |outcome: &str, status: &str| {
        prometheus_sum(
            text,
            "oncewallet_requests_total",
            &[
                ("endpoint", "/wallet/v1/bet"),
                ("provider", &provider.id),
                ("outcome", outcome),
                ("status", status),
            ],
        )
    };
    assert_eq!(requests("FIRST", "200"), 3.0);
    assert_eq!(requests("REPLAY", "200"), 2.0);
    assert_eq!(requests("REPLAY", "422"), 1.0);
    assert_eq!(requests("CONFLICT", "409"), 1.0);
    assert_eq!(requests("DECLINED", "422"), 1.0);
    assert_eq!(requests("REJECTED", "401"), 1.0);
    assert!(
        prometheus_sum(
            text,
            "oncewallet_request_duration_seconds_count",
            &[("endpoint", "/wallet/v1/bet")]
        ) >= 9.0,
        "the latency histogram counts the bets"
    );
    assert!(
        prometheus_sum_plain(text, "oncewallet_attempt_log_written_total") >= 9.0,
        "the attempt log writer reports its batches"
    );
}

/// The value of an unlabelled metric, 0 when absent.
fn prometheus_sum_plain(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map(|value| value.trim().parse::<f64>().expect("a sample value"))
        .sum()
}

/// An attempt received at `received_at`, as the capture would have logged it.
fn old_attempt(received_at: DateTime<Utc>) -> attempt::ActiveModel {
    attempt::ActiveModel {
        request_id: Set(unique_id("req")),
        received_at: Set(received_at),
        latency_ms: Set(3),
        method: Set("POST".to_owned()),
        endpoint: Set("/wallet/v1/bet".to_owned()),
        provider_id: Set(Some("retention-provider".to_owned())),
        key_id: Set(None),
        transaction_id: Set(None),
        fingerprint: Set(None),
        signature: Set("VALID".to_owned()),
        outcome: Set("FIRST".to_owned()),
        http_status: Set(200),
        error_code: Set(None),
        request_body: Set("{}".to_owned()),
        response_body: Set("{}".to_owned()),
        balance_minor: Set(None),
        balance_currency: Set(None),
        ..Default::default()
    }
}

fn counter_row(minute: DateTime<Utc>) -> attempt_counter::ActiveModel {
    attempt_counter::Model {
        minute_unix_s: minute.timestamp().div_euclid(60) * 60,
        provider_id: "retention-provider".to_owned(),
        endpoint: "/wallet/v1/bet".to_owned(),
        outcome: "FIRST".to_owned(),
        http_status: 200,
        error_code: String::new(),
        currency: String::new(),
        count: 1,
        amount_minor_sum: 0,
        latency_ms_sum: 3,
        latency_ms_max: 3,
        latency_le1_ms: 0,
        latency_le2_ms: 0,
        latency_le5_ms: 1,
        latency_le10_ms: 0,
        latency_le20_ms: 0,
        latency_le50_ms: 0,
        latency_le100_ms: 0,
        latency_le200_ms: 0,
        latency_le500_ms: 0,
        latency_le1000_ms: 0,
        latency_le2000_ms: 0,
        latency_le5000_ms: 0,
        latency_over5000_ms: 0,
    }
    .into_active_model()
}

#[tokio::test]
async fn retention_prunes_only_attempts_and_counters_older_than_the_cutoff() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let todays_request_id = unique_id("req");
    provider
        .call("/wallet/v1/bet", &player.bet(&player.new_round(), 100))
        .request_id(&todays_request_id)
        .send()
        .await
        .assert_ok();
    wait_for_attempt(&app, &todays_request_id).await;
    // The running server prunes at 400 days; these ages stay clear of it.
    let now = Utc::now();
    let retention = Retention { days: 30 };
    let old = now - chrono::Duration::days(40);
    let recent = now - chrono::Duration::days(20);
    // More than one delete batch of old rows.
    let old_count: usize = 10_050;
    for chunk in (0..old_count).collect::<Vec<_>>().chunks(1_000) {
        let rows = chunk
            .iter()
            .map(|i| old_attempt(old + chrono::Duration::seconds(*i as i64)));
        attempt::Entity::insert_many(rows)
            .exec_without_returning(&app.db)
            .await
            .expect("insert old attempts");
    }
    attempt::Entity::insert_many((0..5).map(|_| old_attempt(recent)))
        .exec_without_returning(&app.db)
        .await
        .expect("insert recent attempts");
    let minutes = [
        old,
        old + chrono::Duration::minutes(1),
        old + chrono::Duration::minutes(2),
        recent,
        recent + chrono::Duration::minutes(1),
    ];
    attempt_counter::Entity::insert_many(minutes.map(counter_row))
        .exec_without_returning(&app.db)
        .await
        .expect("insert counters");
    let money_before = (
        app.transaction_count().await,
        app.ledger_entry_count().await,
    );

    let store = Store::connect(&app.database_url, WriterConfig::default())
        .await
        .expect("a second store on the test database");
    let pruned = prune(&store, retention.cutoff(now)).await.expect("prune");

    assert_eq!(
        pruned,
        Pruned {
            attempts: old_count as u64,
            counters: 3
        }
    );
    let retention_rows = |table: &str| {
        format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table} WHERE provider_id = 'retention-provider'"
        )
    };
    assert_eq!(app.query_i64(&retention_rows("attempts")).await, 5);
    assert_eq!(app.query_i64(&retention_rows("attempt_counters")).await, 2);
    // Today's traffic and all money data stay.
    let todays = app
        .query_i64(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM attempts WHERE request_id = {}",
            quote(&todays_request_id)
        ))
        .await;
    assert_eq!(todays, 1);
    assert_eq!(
        (
            app.transaction_count().await,
            app.ledger_entry_count().await
        ),
        money_before
    );
    // Pruning again finds nothing.
    assert_eq!(
        prune(&store, retention.cutoff(now)).await.expect("prune"),
        Pruned::default()
    );
}

/// Two stores on the test database: they stand for two server processes sharing it.
async fn two_stores(app: &TestApp) -> Vec<Store> {
    let mut stores = Vec::new();
    for _ in 0..2 {
        stores.push(
            Store::connect(&app.database_url, WriterConfig::default())
                .await
                .expect("a store on the test database"),
        );
    }
    stores
}

#[tokio::test]
async fn writers_in_several_processes_add_to_the_same_minute_without_losing_counts() {
    let app = spawn_app().await;
    let minute = Utc::now() - chrono::Duration::hours(1);
    // Two stores stand for two server processes sharing the database.
    let stores = two_stores(&app).await;
    let batches = 20;
    let mut writes = Vec::new();
    for index in 0..batches {
        let store = stores[index % 2].clone();
        let mut record = old_attempt(minute);
        record.provider_id = Set(Some("shared-minute".to_owned()));
        record.latency_ms = Set(index as i64);
        record.fingerprint = Set(Some(
            r#"{"amount.currency":"EUR","amount.value":"250"}"#.to_owned(),
        ));
        let tally = std::sync::Arc::new(Tally::of(&[record]));
        writes.push(tokio::spawn(async move {
            store
                .write(Box::new(move |txn| {
                    let tally = std::sync::Arc::clone(&tally);
                    Box::pin(async move { Ok(tally.upsert(txn).await?) })
                }))
                .await
        }));
    }
    for write in writes {
        write.await.expect("the task").expect("the upsert");
    }
    let row = attempt_counter::Entity::find()
        .all(&app.db)
        .await
        .expect("read the counters")
        .into_iter()
        .find(|row| row.provider_id == "shared-minute")
        .expect("one row for the shared minute");
    let latencies = 0..batches as i64;
    assert_eq!(
        (
            row.count,
            row.amount_minor_sum,
            row.latency_ms_sum,
            row.latency_ms_max
        ),
        (
            batches as i64,
            250 * batches as i64,
            latencies.clone().sum(),
            latencies.max().unwrap()
        )
    );
    assert_eq!(row.currency, "EUR");
}

#[test]
fn retention_defaults_to_400_days() {
    assert_eq!(Retention::default().days, 400);
}

/// A counter row of the fold test: one attempt of `latency_ms` in its bucket.
fn fold_row(
    provider_id: &str,
    minute_unix_s: i64,
    outcome: &str,
    latency_ms: i64,
) -> attempt_counter::ActiveModel {
    let mut row = counter_row(DateTime::from_timestamp(minute_unix_s, 0).expect("a time"));
    row.provider_id = Set(provider_id.to_owned());
    row.outcome = Set(outcome.to_owned());
    row.latency_ms_sum = Set(latency_ms);
    row.latency_ms_max = Set(latency_ms);
    row.latency_le5_ms = Set(i64::from(latency_ms <= 5));
    row.latency_le100_ms = Set(i64::from(latency_ms > 5));
    row
}

#[tokio::test]
async fn counter_minutes_older_than_two_days_fold_into_hours_once_with_every_sum_kept() {
    let app = spawn_app().await;
    let provider_id = unique_id("fold");
    let now = Utc::now();
    let hour = |age_hours: i64| (now.timestamp().div_euclid(3600) - age_hours) * 3600;
    let (old, older, recent) = (hour(72), hour(73), hour(1));
    let rows = [
        fold_row(&provider_id, old, "FIRST", 3),
        fold_row(&provider_id, old + 60, "FIRST", 80),
        fold_row(&provider_id, old + 59 * 60, "FIRST", 2),
        fold_row(&provider_id, old + 60, "REPLAY", 1),
        fold_row(&provider_id, older + 30 * 60, "FIRST", 4),
        fold_row(&provider_id, older + 31 * 60, "FIRST", 5),
        fold_row(&provider_id, recent + 60, "FIRST", 1),
        fold_row(&provider_id, recent + 120, "FIRST", 1),
    ];
    attempt_counter::Entity::insert_many(rows)
        .exec_without_returning(&app.db)
        .await
        .expect("insert counters");
    let of_provider = |select: &str| {
        format!(
            "SELECT {select} FROM attempt_counters WHERE provider_id = {}",
            quote(&provider_id)
        )
    };
    let sums = "CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(count) AS BIGINT) AS c, \
                CAST(SUM(latency_ms_sum) AS BIGINT) AS l, CAST(SUM(latency_le5_ms) AS BIGINT) AS b5, \
                CAST(SUM(latency_le100_ms) AS BIGINT) AS b100";
    let totals = |rows: Vec<QueryResult>| {
        let row = &rows[0];
        ["n", "c", "l", "b5", "b100"].map(|name| row.try_get::<i64>("", name).expect(name))
    };
    // Eight rows as inserted, or five if the test server's own retention task (it runs
    // once at start) folded them already; the sums are the same either way.
    let inserted = totals(app.query(&of_provider(sums)).await);
    assert!(
        inserted == [8, 8, 97, 7, 1] || inserted == [5, 8, 97, 7, 1],
        "{inserted:?}"
    );

    // Two processes fold at once: the minutes are added into their hours once.
    let stores = two_stores(&app).await;
    let before = now - MINUTE_COUNTERS_KEPT;
    let (a, b) = tokio::join!(
        fold_old_minutes(&stores[0], before),
        fold_old_minutes(&stores[1], before)
    );
    // The test server's own retention task may fold them too: three folders, one result.
    a.expect("fold");
    b.expect("fold");
    assert_eq!(
        totals(app.query(&of_provider(sums)).await),
        [5, 8, 97, 7, 1]
    );
    let rows = app
        .query(&of_provider(
            "minute_unix_s AS m, outcome AS o, CAST(count AS BIGINT) AS c, \
             CAST(latency_ms_max AS BIGINT) AS x",
        ))
        .await;
    let mut found: Vec<(i64, String, i64, i64)> = rows
        .iter()
        .map(|row| {
            (
                row.try_get("", "m").expect("m"),
                row.try_get("", "o").expect("o"),
                row.try_get("", "c").expect("c"),
                row.try_get("", "x").expect("x"),
            )
        })
        .collect();
    found.sort();
    let first = || "FIRST".to_owned();
    assert_eq!(
        found,
        vec![
            (older, first(), 2, 5),
            (old, first(), 3, 80),
            (old, "REPLAY".to_owned(), 1, 1),
            (recent + 60, first(), 1, 1),
            (recent + 120, first(), 1, 1),
        ]
    );
    // Folding again changes nothing.
    assert_eq!(fold_old_minutes(&stores[0], before).await.expect("fold"), 0);
    assert_eq!(
        totals(app.query(&of_provider(sums)).await),
        [5, 8, 97, 7, 1]
    );
}
