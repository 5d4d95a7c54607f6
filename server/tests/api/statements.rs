//! Provider statements (docs/API.md, "Statements from providers"): each discrepancy kind
//! found from an uploaded statement, as JSON and as CSV; a re-upload gets the stored
//! answer; bad statements are refused with the field that is wrong.
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use server::db::entities::discrepancy;

use crate::helpers::*;

const PATH: &str = "/wallet/v1/reconciliation/reports";
const CUR: &str = "EUR";

/// One line of a statement, before it is written as JSON or CSV.
struct Line {
    transaction_id: String,
    op: &'static str,
    player_id: String,
    round_id: String,
    amount_minor: Option<i64>,
    state: &'static str,
}

/// What the test expects the wallet to answer.
struct Scenario {
    lines: Vec<Line>,
    /// (kind, transaction id)
    expected: Vec<(&'static str, String)>,
    matched: i64,
}

/// A provider whose period holds one transaction of each outcome: some reported right,
/// one with the wrong amount, one in the wrong state, one not reported, one reported that
/// the wallet never saw, and a declined bet that must not count as missing.
async fn scenario(provider: &TestProvider) -> Scenario {
    let player = TestPlayer::with_balance(provider, CUR, 5_000).await;
    let round = player.new_round();
    let line = |body: &Value, op, amount_minor, state| Line {
        transaction_id: tx_id(body),
        op,
        player_id: player.id.clone(),
        round_id: round.clone(),
        amount_minor,
        state,
    };
    let mut lines = Vec::new();
    let mut expected = Vec::new();

    let fine = player.bet(&round, 1_000);
    provider.bet(&fine).await.assert_ok();
    lines.push(line(&fine, "BET", Some(1_000), "COMMITTED"));

    let wrong_amount = player.bet(&round, 500);
    provider.bet(&wrong_amount).await.assert_ok();
    lines.push(line(&wrong_amount, "BET", Some(600), "COMMITTED"));
    expected.push(("AMOUNT_MISMATCH", tx_id(&wrong_amount)));

    let settled = player.bet(&round, 300);
    provider.bet(&settled).await.assert_ok();
    let win = player.win_for(&round, 900, &tx_id(&settled));
    provider.win(&win).await.assert_ok();
    lines.push(line(&settled, "BET", Some(300), "COMMITTED"));
    expected.push(("STATE_MISMATCH", tx_id(&settled)));
    lines.push(line(&win, "WIN", Some(900), "COMMITTED"));

    let refunded = player.bet(&round, 100);
    provider.bet(&refunded).await.assert_ok();
    let rollback = player.rollback(&round, &tx_id(&refunded));
    provider.rollback(&rollback).await.assert_ok();
    lines.push(line(&refunded, "BET", Some(100), "ROLLED_BACK"));
    lines.push(line(&rollback, "ROLLBACK", Some(100), "COMMITTED"));

    let unreported = player.bet(&round, 200);
    provider.bet(&unreported).await.assert_ok();
    expected.push(("MISSING_AT_PROVIDER", tx_id(&unreported)));

    let declined = player.bet(&round, 1_000_000);
    provider
        .bet(&declined)
        .await
        .assert_error("INSUFFICIENT_FUNDS");

    let ghost = player.bet(&round, 50);
    lines.push(line(&ghost, "BET", Some(50), "COMMITTED"));
    expected.push(("MISSING_IN_WALLET", tx_id(&ghost)));

    expected.sort();
    Scenario {
        lines,
        expected,
        matched: 4,
    }
}

/// A period around now, in RFC 3339.
fn period() -> (String, String) {
    let now = chrono::Utc::now();
    let format = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    (
        format(now - chrono::Duration::hours(1)),
        format(now + chrono::Duration::hours(1)),
    )
}

fn as_json(report_id: &str, lines: &[Line]) -> Value {
    let (start, end) = period();
    json!({
        "report_id": report_id, "period_start": start, "period_end": end,
        "transactions": lines.iter().map(|l| json!({
            "transaction_id": l.transaction_id, "op": l.op, "player_id": l.player_id,
            "round_id": l.round_id, "amount": l.amount_minor.map(|a| money(a, CUR)), "state": l.state,
        })).collect::<Vec<_>>(),
    })
}

fn as_csv(lines: &[Line]) -> String {
    let mut csv =
        String::from("transaction_id,op,player_id,round_id,amount_value,currency,scale,state\n");
    for l in lines {
        let (value, currency, scale) = match l.amount_minor {
            Some(a) => (a.to_string(), CUR.to_owned(), scale_of(CUR).to_string()),
            None => Default::default(),
        };
        csv.push_str(&format!(
            "{},{},{},{},{value},{currency},{scale},{}\r\n",
            l.transaction_id, l.op, l.player_id, l.round_id, l.state
        ));
    }
    csv
}

/// A signed CSV upload, the response signature verified.
async fn upload_csv(
    app: &TestApp,
    provider: &TestProvider,
    report_id: &str,
    csv: &str,
) -> ApiResponse {
    let (start, end) = period();
    let path = format!("{PATH}?report_id={report_id}&period_start={start}&period_end={end}");
    upload_csv_to(app, provider, &path, csv).await
}

async fn upload_csv_to(
    app: &TestApp,
    provider: &TestProvider,
    path: &str,
    csv: &str,
) -> ApiResponse {
    let timestamp = now_ms().to_string();
    let signature = sign_request(&provider.secret, "POST", path, &timestamp, csv.as_bytes());
    let response = app
        .client
        .request(Method::POST, format!("{}{path}", app.base_url))
        .header("Content-Type", "text/csv")
        .header("X-Wallet-Key-Id", &provider.key_id)
        .header("X-Wallet-Timestamp", &timestamp)
        .header("X-Wallet-Signature", signature)
        .body(csv.to_owned())
        .send()
        .await
        .expect("send the CSV statement");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("read the body").to_vec();
    let body = serde_json::from_slice(&raw).expect("a JSON answer");
    let response = ApiResponse {
        status,
        headers,
        raw,
        body,
    };
    verify_response_signature(&response, &provider.secret);
    response
}

fn kinds(response: &ApiResponse) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = response.body["discrepancies"]
        .as_array()
        .unwrap_or_else(|| panic!("no discrepancies in {}", response.body))
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().expect("kind").to_owned(),
                d["transaction_id"]
                    .as_str()
                    .expect("transaction_id")
                    .to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

fn expected(scenario: &Scenario) -> Vec<(String, String)> {
    scenario
        .expected
        .iter()
        .map(|(k, t)| ((*k).to_owned(), t.clone()))
        .collect()
}

async fn assert_records(app: &TestApp, provider: &TestProvider, scenario: &Scenario) {
    let records = discrepancy::Entity::find()
        .filter(discrepancy::Column::ProviderId.eq(provider.id.as_str()))
        .all(&app.db)
        .await
        .unwrap();
    let mut stored: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            assert_eq!(
                (r.subject_type.as_str(), r.status.as_str()),
                ("TRANSACTION", "OPEN")
            );
            let (_, tx) = r.subject_id.split_once('/').expect("provider/transaction");
            (r.kind.clone(), tx.to_owned())
        })
        .collect();
    stored.sort();
    assert_eq!(stored, expected(scenario), "each discrepancy is a record");
}

#[tokio::test]
async fn a_json_statement_finds_each_discrepancy_kind_and_counts_the_matches() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let scenario = scenario(&provider).await;

    let response = provider
        .post(PATH, &as_json("2026-05-01", &scenario.lines))
        .await;

    response.assert_ok();
    assert_eq!(response.body["report_id"], "2026-05-01");
    assert_eq!(
        response.body["matched"], scenario.matched,
        "body: {}",
        response.body
    );
    assert_eq!(
        kinds(&response),
        expected(&scenario),
        "body: {}",
        response.body
    );
    assert_records(&app, &provider, &scenario).await;
}

#[tokio::test]
async fn a_csv_statement_finds_the_same_discrepancies() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let scenario = scenario(&provider).await;

    let response = upload_csv(&app, &provider, "csv-1", &as_csv(&scenario.lines)).await;

    response.assert_ok();
    assert_eq!(response.body["report_id"], "csv-1");
    assert_eq!(
        response.body["matched"], scenario.matched,
        "body: {}",
        response.body
    );
    assert_eq!(
        kinds(&response),
        expected(&scenario),
        "body: {}",
        response.body
    );
    assert_records(&app, &provider, &scenario).await;
}

#[tokio::test]
async fn a_reuploaded_report_id_returns_the_stored_result() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let scenario = scenario(&provider).await;
    let first = provider.post(PATH, &as_json("r-1", &scenario.lines)).await;
    first.assert_ok();
    assert_eq!(first.body["replayed"], false);

    // Even a statement that now says something else gets the first answer back.
    let again = provider
        .post(PATH, &as_json("r-1", &scenario.lines[..1]))
        .await;

    again.assert_ok();
    assert_eq!(again.body["replayed"], true);
    for field in ["report_id", "matched", "discrepancies"] {
        assert_eq!(again.body[field], first.body[field], "{field}");
    }
    let reports = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM provider_reports")
        .await;
    assert_eq!(reports, 1);
}

#[tokio::test]
async fn a_clean_statement_matches_everything() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 250);
    provider.bet(&bet).await.assert_ok();
    let line = Line {
        transaction_id: tx_id(&bet),
        op: "BET",
        player_id: player.id.clone(),
        round_id: round,
        amount_minor: Some(250),
        state: "COMMITTED",
    };

    let response = provider.post(PATH, &as_json("clean", &[line])).await;

    response.assert_ok();
    assert_eq!(response.body["matched"], 1);
    assert!(kinds(&response).is_empty(), "body: {}", response.body);
}

#[tokio::test]
async fn bad_statements_are_refused_with_the_field_that_is_wrong() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, CUR).await;
    let line = |op: &'static str, state: &'static str| Line {
        transaction_id: unique_id("bet"),
        op,
        player_id: player.id.clone(),
        round_id: "r".into(),
        amount_minor: Some(10),
        state,
    };
    let bad_op = provider
        .post(PATH, &as_json("bad-1", &[line("DEPOSIT", "COMMITTED")]))
        .await;
    bad_op.assert_error("MALFORMED_REQUEST");
    assert!(bad_op.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("transactions[0].op"));

    let bad_state = provider
        .post(PATH, &as_json("bad-2", &[line("BET", "IN_PROGRESS")]))
        .await;
    bad_state.assert_error("MALFORMED_REQUEST");

    let mut bad_scale = as_json("bad-3", &[line("BET", "COMMITTED")]);
    bad_scale["transactions"][0]["amount"]["scale"] = json!(3);
    provider
        .post(PATH, &bad_scale)
        .await
        .assert_error("INVALID_AMOUNT");

    let mut backwards = as_json("bad-4", &[line("BET", "COMMITTED")]);
    backwards["period_end"] = json!("2000-01-01T00:00:00Z");
    provider
        .post(PATH, &backwards)
        .await
        .assert_error("MALFORMED_REQUEST");

    let mut bad_id = as_json("bad 5", &[]);
    bad_id["report_id"] = json!("bad report");
    provider
        .post(PATH, &bad_id)
        .await
        .assert_error("MALFORMED_REQUEST");

    let no_header = upload_csv(&app, &provider, "bad-6", "t,BET,p,r,10,EUR,2,COMMITTED\n").await;
    no_header.assert_error("MALFORMED_REQUEST");
    let short_row = upload_csv(
        &app,
        &provider,
        "bad-7",
        "transaction_id,op,player_id,round_id,amount_value,currency,scale,state\nt,BET,p\n",
    )
    .await;
    short_row.assert_error("MALFORMED_REQUEST");
    assert!(short_row.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("line 2"));
    let no_period = upload_csv_to(
        &app,
        &provider,
        &format!("{PATH}?report_id=bad-8"),
        &as_csv(&[]),
    )
    .await;
    no_period.assert_error("MALFORMED_REQUEST");

    let reports = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM provider_reports")
        .await;
    assert_eq!(reports, 0, "refused statements are not stored");
}

#[tokio::test]
async fn the_statement_endpoint_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json").await;
    assert!(
        doc.body["paths"][PATH]["post"].is_object(),
        "paths: {}",
        doc.body["paths"]
    );
}

#[tokio::test]
async fn a_spreadsheet_export_imports_and_a_bad_file_names_its_rows() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let scenario = scenario(&provider).await;
    // What a spreadsheet writes: a byte-order mark, CRLF, the columns in its own order
    // with spaces and capitals in the header, every field quoted.
    let mut csv = String::from(
        "\u{feff}State , Scale,\"CURRENCY\",amount_value,round_id,player_id,op,transaction_id\r\n",
    );
    for l in &scenario.lines {
        let (value, currency, scale) = match l.amount_minor {
            Some(a) => (a.to_string(), CUR.to_owned(), scale_of(CUR).to_string()),
            None => Default::default(),
        };
        csv.push_str(&format!(
            "\"{}\",\"{scale}\",\"{currency}\",\"{value}\",\"{}\",\"{}\",\"{}\",\"{}\"\r\n",
            l.state, l.round_id, l.player_id, l.op, l.transaction_id
        ));
    }

    let response = upload_csv(&app, &provider, "spreadsheet", &csv).await;

    response.assert_ok();
    assert_eq!(
        response.body["matched"], scenario.matched,
        "{}",
        response.body
    );
    assert_eq!(kinds(&response), expected(&scenario), "{}", response.body);

    // Two bad rows among good ones: both named, nothing imported.
    let player = &scenario.lines[0].player_id;
    let bad = format!(
        "transaction_id,op,player_id,round_id,amount_value,currency,scale,state\n\
         ok-1,BET,{player},r-1,100,{CUR},2,COMMITTED\n\
         bad-1,BET,{player},r-1,-5,{CUR},2,COMMITTED\n\
         ok-2,BET,{player},r-1,100,{CUR},2,COMMITTED\n\
         bad-2,PAYOUT,{player},r-1,100,{CUR},2,COMMITTED\n"
    );
    let refused = upload_csv(&app, &provider, "bad-rows", &bad).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let rows = &refused.body["error"]["details"]["rows"];
    assert_eq!(refused.body["error"]["details"]["refused_rows"], 2);
    assert_eq!(rows[0]["line"], 3);
    assert_eq!(rows[0]["column"], "amount_value");
    assert_eq!(rows[1]["line"], 5);
    assert_eq!(rows[1]["column"], "op");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("line 3, amount_value"),
        "{}",
        refused.body
    );
    let reports = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM provider_reports WHERE report_id = 'bad-rows'")
        .await;
    assert_eq!(reports, 0, "nothing imported");
}
