//! The console's server side over HTTP, as the browser uses it: sign in, then call the
//! server functions (`/api/*`), the CSV export and the statement upload with the session
//! cookie. Roles are enforced by the server, whatever the page shows.
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use server::db::entities::wallet_transaction;
use server::domain::CurrencyTable;

use server::config::TEST_ADMIN_PASSWORD;

use crate::helpers::*;

/// A signed-in staff member's HTTP client: the session cookie and a same-origin header.
pub(crate) struct Staff {
    base_url: String,
    pub(crate) client: reqwest::Client,
    pub(crate) cookie: String,
}

impl Staff {
    pub(crate) async fn sign_in(app: &TestApp, username: &str, password: &str) -> Staff {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = client
            .post(format!("{}/auth/login", app.base_url))
            .header(ORIGIN, &app.base_url)
            .form(&[
                ("username", username),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/", "{username} signs in");
        let cookie = session_cookie_pair(response.headers()).expect("session cookie");
        Staff {
            base_url: app.base_url.clone(),
            client,
            cookie,
        }
    }

    pub(crate) async fn admin(app: &TestApp) -> Staff {
        Staff::sign_in(app, "admin", TEST_ADMIN_PASSWORD).await
    }

    /// Creates a user with `role` through the admin's server function; signs them in.
    pub(crate) async fn with_role(app: &TestApp, admin: &Staff, role: &str) -> Staff {
        let username = unique_id(role).to_lowercase();
        let password = format!("{username}-password");
        let (status, body) = admin
            .call(
                "create_user",
                &[
                    ("username", &username),
                    ("password", &password),
                    ("role", role),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Staff::sign_in(app, &username, &password).await
    }

    /// A server function call, form-encoded as the browser sends it.
    pub(crate) async fn call(&self, function: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/api/{function}", self.base_url))
            .header(COOKIE, &self.cookie)
            .header(ORIGIN, &self.base_url)
            .form(form)
            .send()
            .await
            .expect("server function");
        let status = response.status();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base_url))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .expect("get")
    }
}

pub(crate) async fn bet_of(
    player: &TestPlayer,
    provider: &TestProvider,
    amount_minor: i64,
) -> String {
    let bet = player.bet(&player.new_round(), amount_minor);
    provider.bet(&bet).await.assert_ok();
    tx_id(&bet)
}

/// An orphan bet of `amount_minor` (an hour old, past the run's 30-minute threshold)
/// and the id of the PENDING_ROLLBACK finding a reconciliation run opens for it.
pub(crate) async fn orphan_finding(
    app: &TestApp,
    operator: &Staff,
    provider: &TestProvider,
    player: &TestPlayer,
    amount_minor: i64,
) -> (String, String) {
    let bet = bet_of(player, provider, amount_minor).await;
    wallet_transaction::Entity::update_many()
        .col_expr(
            wallet_transaction::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)),
        )
        .filter(wallet_transaction::Column::TransactionId.eq(bet.as_str()))
        .exec(&app.db)
        .await
        .expect("age the bet");
    let (status, run) = operator.call("run_reconciliation_now", &[]).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let (status, pending) = operator.call("get_pending", &[("page", "0")]).await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    let finding = pending["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["bet"]["transaction_id"] == bet.as_str())
        .and_then(|row| row["finding"]["id"].as_i64())
        .unwrap_or_else(|| panic!("the orphan bet is pending: {pending}"))
        .to_string();
    (bet, finding)
}

#[tokio::test]
async fn a_support_user_reads_everything_but_the_server_refuses_its_actions() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let support = Staff::with_role(&app, &admin, "support").await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let bet = bet_of(&player, &provider, 100).await;

    let (status, overview) = support
        .call("get_overview", &[("window", "FifteenMinutes")])
        .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    let (status, trace) = support.call("get_trace", &[("query", &bet)]).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    assert_eq!(
        trace["transactions"][0]["transaction"]["transaction_id"],
        bet.as_str()
    );

    for (function, form) in [
        (
            "refund_orphan",
            vec![("finding_id", "1"), ("reason", "x"), ("confirmed", "yes")],
        ),
        (
            "set_player_blocked",
            vec![
                ("player_id", player.id.as_str()),
                ("blocked", "true"),
                ("reason", "x"),
            ],
        ),
        (
            "acknowledge_finding",
            vec![("finding_id", "1"), ("note", "x")],
        ),
        ("run_reconciliation_now", vec![]),
        ("list_users", vec![]),
        (
            "create_user",
            vec![
                ("username", "sneaky"),
                ("password", "sneaky-password-1"),
                ("role", "admin"),
            ],
        ),
    ] {
        let (status, body) = support.call(function, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{function}: {body}");
    }
    assert_eq!(
        player.operator_balance(&app.operator()).await,
        9_900,
        "nothing was blocked or refunded"
    );
}

#[tokio::test]
async fn without_a_session_pages_redirect_and_server_functions_answer_401() {
    let app = spawn_app().await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = anonymous
        .get(format!("{}/pending?page=1", app.base_url))
        .send()
        .await
        .expect("get");
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()[LOCATION],
        "/login?next=%2Fpending%3Fpage%3D1"
    );
    let call = anonymous
        .post(format!("{}/api/get_pending", app.base_url))
        .header(ORIGIN, &app.base_url)
        .form(&[("page", "0")])
        .send()
        .await
        .expect("post");
    assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
    let undecodable = anonymous
        .post(format!("{}/api/get_pending", app.base_url))
        .header(ORIGIN, &app.base_url)
        .form(&[("page", "not-a-number")])
        .send()
        .await
        .expect("post");
    assert_eq!(
        undecodable.status(),
        StatusCode::BAD_REQUEST,
        "the caller's mistake, not a 5xx"
    );
    let export = anonymous
        .get(format!("{}/console/export.csv?q=x", app.base_url))
        .send()
        .await
        .expect("get");
    assert_eq!(export.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_orphan_debit_is_refunded_once_from_the_console_and_audited() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let operator = Staff::with_role(&app, &admin, "operator").await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 5_000).await;
    let (bet, finding) = orphan_finding(&app, &operator, &provider, &player, 700).await;

    let (status, unconfirmed) = operator
        .call(
            "refund_orphan",
            &[("finding_id", &finding), ("reason", "lost round")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a refund needs the confirmation: {unconfirmed}"
    );
    let refund = [
        ("finding_id", finding.as_str()),
        ("reason", "lost round"),
        ("confirmed", "yes"),
    ];
    let (status, first) = operator.call("refund_orphan", &refund).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(
        first.as_str().unwrap_or_default().contains("is refunded"),
        "{first}"
    );
    let (status, second) = operator.call("refund_orphan", &refund).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert!(
        second
            .as_str()
            .unwrap_or_default()
            .contains("already refunded"),
        "{second}"
    );

    assert_eq!(
        player.operator_balance(&app.operator()).await,
        5_000,
        "refunded once"
    );
    let audited = app
        .query_i64(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit WHERE subject_id = {} AND reason = 'lost round'",
            quote(&format!("{}/{bet}", provider.id))
        ))
        .await;
    assert_eq!(audited, 1);
    let status_now = app
        .query(&format!(
            "SELECT status FROM discrepancies WHERE id = {finding}"
        ))
        .await;
    assert_eq!(
        status_now[0]
            .try_get::<String>("", "status")
            .expect("status"),
        "RESOLVED"
    );
    assert_invariants(&app).await;
}

#[tokio::test]
async fn blocking_a_player_from_the_console_refuses_bets_and_is_audited() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let operator = Staff::with_role(&app, &admin, "operator").await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;

    let block = [
        ("player_id", player.id.as_str()),
        ("blocked", "true"),
        ("reason", "chargeback"),
    ];
    let (status, body) = operator.call("set_player_blocked", &block).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = provider.bet(&player.bet(&player.new_round(), 100)).await;
    assert_eq!(
        refused.body["error"]["code"], "PLAYER_BLOCKED",
        "{:?}",
        refused.body
    );
    let (_, detail) = operator
        .call("get_player", &[("player_id", &player.id), ("page", "0")])
        .await;
    assert_eq!(detail["player"]["status"], "BLOCKED");
    let audited = app
        .query_i64(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit WHERE action = 'player.block' AND subject_id = {}",
            quote(&player.id)
        ))
        .await;
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn the_csv_export_holds_every_match_with_formula_cells_defused() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let mut risky = player.bet(&player.new_round(), 100);
    risky["transaction_id"] = Value::String(format!("-{}", unique_id("cmd")));
    provider.bet(&risky).await.assert_ok();
    for _ in 0..2 {
        bet_of(&player, &provider, 100).await;
    }

    let response = admin
        .get(&format!("/console/export.csv?q={}", player.id))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/csv"));
    let text = response.text().await.expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    // The header, three bets and the deposit that funded them.
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("wallet_tx_id,provider_id,transaction_id"));
    assert!(
        text.contains(&format!(",'{},", tx_id(&risky))),
        "defused: {text}"
    );
}

#[tokio::test]
async fn a_statement_uploaded_from_the_console_opens_its_findings() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let known = bet_of(&player, &provider, 300).await;
    let missing = unique_id("ghost");
    let csv = format!(
        "transaction_id,op,player_id,round_id,amount_value,currency,scale,state\n\
         {known},BET,{p},,300,EUR,2,COMMITTED\n{missing},BET,{p},,500,EUR,2,COMMITTED\n",
        p = player.id
    );
    let start = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let end = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let form = reqwest::multipart::Form::new()
        .text("provider_id", provider.id.clone())
        .text("report_id", "console-upload-1")
        .text("period_start", start)
        .text("period_end", end)
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("statement.csv"),
        );
    let response = admin
        .client
        .post(format!("{}/console/statements", app.base_url))
        .header(COOKIE, &admin.cookie)
        .header(ORIGIN, &app.base_url)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with("/reconciliation?report="),
        "{location}"
    );

    let (_, page) = admin
        .call(
            "get_reconciliation",
            &[
                ("filter[kind]", "MISSING_IN_WALLET"),
                ("filter[status]", ""),
            ],
        )
        .await;
    assert_eq!(page["demo"], false, "no demo notice without demo traffic");
    let findings = page["findings"].as_array().expect("findings");
    let subject = |id: &str| format!("{}/{id}", provider.id);
    assert!(
        findings
            .iter()
            .any(|f| f["subject_id"] == subject(&missing).as_str()),
        "{page}"
    );
    assert!(
        !findings
            .iter()
            .any(|f| f["subject_id"] == subject(&known).as_str()),
        "{page}"
    );
    let audited = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit WHERE action = 'statement.upload'")
        .await;
    assert_eq!(audited, 1);
}

/// Sends `bet` three times: its first execution and a replay (returned), and a
/// conflicting reuse of its key; each attempt's answer is checked.
async fn first_replay_and_conflict(
    provider: &TestProvider,
    player: &TestPlayer,
    bet: &Value,
) -> (ApiResponse, ApiResponse) {
    let first = provider.bet(bet).await;
    first.assert_ok().assert_fresh();
    let replay = provider.bet(bet).await;
    replay.assert_replay_of(&first);
    let mut conflicting = bet.clone();
    conflicting["amount"] = player.money(101);
    provider
        .bet(&conflicting)
        .await
        .assert_conflict(&["amount.value"]);
    (first, replay)
}

/// The key's row of `id`, which must give back the first answer exactly as it was sent:
/// a bet's or win's from its columns (the row keeps no copy), any other's as kept.
async fn key_row_holding(
    app: &TestApp,
    id: &str,
    first: &ApiResponse,
) -> wallet_transaction::Model {
    let stored = wallet_transaction::Entity::find()
        .filter(wallet_transaction::Column::TransactionId.eq(id))
        .one(&app.db)
        .await
        .expect("read")
        .expect("the key's row");
    let rebuilt = ["BET", "WIN"].contains(&stored.op.as_str()) && first.status == 200;
    assert_eq!(
        stored.response_body.is_empty(),
        rebuilt,
        "{}",
        stored.response_body
    );
    let given_back = server::idempotency::first_body_of(&stored, &CurrencyTable::default());
    assert_eq!(
        given_back.as_bytes(),
        first.raw.as_slice(),
        "{given_back}\n{}",
        String::from_utf8_lossy(&first.raw)
    );
    stored
}

/// A key's first request and answer are stored once, in its row; the attempt log keeps
/// them only where they differ (a replay's answer, a conflict's fingerprint), and the
/// dispute page still shows every attempt's bodies.
#[tokio::test]
async fn a_first_execution_is_stored_once_and_its_trace_shows_every_body() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let bet = player.bet(&player.new_round(), 100);
    let (first, replay_sent) = first_replay_and_conflict(&provider, &player, &bet).await;
    let id = tx_id(&bet);
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM attempts WHERE transaction_id = {}",
        quote(&id)
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.query_i64(&sql).await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "attempts not written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }

    // What each attempt's row keeps: (outcome, request, response, fingerprint) as lengths.
    let kept = |outcome: &str| {
        format!(
            "SELECT CAST(LENGTH(request_body) * 1000000 + LENGTH(response_body) * 1000 \
             + COALESCE(LENGTH(fingerprint), 0) AS BIGINT) AS n FROM attempts \
             WHERE transaction_id = {} AND outcome = '{outcome}'",
            quote(&id)
        )
    };
    assert_eq!(
        app.query_i64(&kept("FIRST")).await,
        0,
        "the key's row has them"
    );
    // A replay keeps its request, not its answer: the trace rebuilds that.
    let replay = app.query_i64(&kept("REPLAY")).await;
    assert!(replay >= 1_000_000 && replay % 1_000_000 == 0, "{replay}");
    assert!(app.query_i64(&kept("CONFLICT")).await % 1000 > 0);

    // The key's row holds the first answer exactly as it was sent.
    key_row_holding(&app, &id, &first).await;

    let (status, trace) = admin.call("get_trace", &[("query", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let attempts = trace["transactions"][0]["attempts"]
        .as_array()
        .expect("attempts");
    assert_eq!(attempts.len(), 3, "{trace}");
    for attempt in attempts {
        for body in ["request_body", "response_body"] {
            let text = attempt[body].as_str().expect("a body");
            assert!(text.contains(&id), "{body} of {attempt}");
        }
    }
    assert!(attempts[0]["response_body"]
        .as_str()
        .is_some_and(|body| body.contains("\"replayed\": false")));
    let shown: Value = serde_json::from_str(attempts[1]["response_body"].as_str().expect("a body"))
        .expect("the replay's answer as JSON");
    assert_eq!(
        shown, replay_sent.body,
        "the replay's answer as it was sent"
    );
}

/// Text of any shape is stored as sent. On PostgreSQL the batches send their rows as
/// arrays in PostgreSQL's array syntax (`db::sql`), where quotes, backslashes, braces,
/// commas and the word NULL all mean something.
#[tokio::test]
async fn stored_bodies_keep_every_character_as_sent() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let note =
        "a \"quoted\" word, a back\\slash, {braces}, NULL, \\N, \u{e9}t\u{e9} \u{2713}\ttab\nline";
    let mut bet = player.bet(&player.new_round(), 100);
    bet["metadata"] = serde_json::json!({ "note": note, "NULL": null });
    let (first, _) = first_replay_and_conflict(&provider, &player, &bet).await;
    let id = tx_id(&bet);

    let stored = key_row_holding(&app, &id, &first).await;
    let stored_request = server::idempotency::request_of(&stored);
    let request: Value = serde_json::from_str(&stored_request).expect("stored request");
    assert_eq!(request["metadata"]["note"], note, "{stored_request}");
    assert!(
        stored.request_packed.is_some(),
        "a bet's request is kept packed"
    );

    let sql = format!(
        "SELECT request_body AS a, response_body AS b FROM attempts \
         WHERE transaction_id = {} AND outcome IN ('REPLAY', 'CONFLICT')",
        quote(&id)
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let rows = loop {
        let rows = app.query(&sql).await;
        if rows.len() == 2 {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "attempts not written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    for row in rows {
        let request: String = row.try_get("", "a").expect("request");
        let request: Value = serde_json::from_str(&request).expect("an attempt's request");
        assert_eq!(request["metadata"]["note"], note);
        // The conflict keeps its answer; the replay's is rebuilt from the key's row.
        let response: String = row.try_get("", "b").expect("response");
        if !response.is_empty() {
            serde_json::from_str::<Value>(&response).expect("an attempt's answer");
        }
    }
}

#[tokio::test]
async fn providers_and_keys_are_managed_from_the_console_and_audited() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let operator = Staff::with_role(&app, &admin, "operator").await;
    let support = Staff::with_role(&app, &admin, "support").await;
    let id = unique_id("prov").to_lowercase();

    let (status, _) = support
        .call("add_provider", &[("provider_id", &id), ("name", "Nope")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, first) = operator
        .call("add_provider", &[("provider_id", &id), ("name", "Studio")])
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again) = operator
        .call("add_provider", &[("provider_id", &id), ("name", "Studio")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let first_key = first["key_id"].as_str().expect("key id").to_owned();
    assert_eq!(first["secret"].as_str().map(str::len), Some(64));

    let (status, second) = operator.call("add_key", &[("provider_id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_key = second["key_id"].as_str().expect("key id").to_owned();
    let (status, _) = support.call("list_providers", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "operators and admins only");
    let (status, listed) = operator.call("list_providers", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let row = listed["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["provider_id"] == id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(row["keys"].as_array().map(Vec::len), Some(2));
    assert!(!listed
        .to_string()
        .contains(first["secret"].as_str().expect("secret")));

    let retire = |key: &str| {
        let form = [("provider_id", id.clone()), ("key_id", key.to_owned())];
        let operator = &operator;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            operator.call("retire_key", &form).await
        }
    };
    let (status, body) = retire(&first_key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = retire(&second_key).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the last key stays: {body}"
    );
    let audited = app
        .query_i64(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit WHERE subject_id = {} \
             AND action IN ('provider.created', 'provider.key_added', 'provider.key_retired')",
            quote(&id)
        ))
        .await;
    assert_eq!(audited, 3);
}
