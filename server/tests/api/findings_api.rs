//! The operator API's findings and runs: list, read, acknowledge and resolve discrepancies
//! (each change audited in the staff audit log), start a run now without ever overlapping
//! another, and list the recent runs.
use chrono::Utc;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use server::db::entities::{player, reconciliation_run, staff_audit, wallet_transaction};

use crate::helpers::*;

const CUR: &str = "EUR";

async fn call(app: &TestApp, method: Method, path: &str, body: Option<&Value>) -> ApiResponse {
    app.operator().request(method, path, body).await
}

async fn run_now(app: &TestApp) -> ApiResponse {
    call(app, Method::POST, "/operator/v1/reconciliation/runs", None).await
}

/// An error of the operator API: status, code, and the contract's error shape.
#[track_caller]
fn assert_refused(response: &ApiResponse, status: u16, code: &str) {
    assert_eq!(
        (response.status, response.code()),
        (status, Some(code)),
        "body: {}",
        response.body
    );
    assert_eq!(response.body["status"], "ERROR");
    assert!(response.body["error"]["message"].is_string());
}

/// A player whose stored balance was edited by hand: one BALANCE_MISMATCH each.
async fn tampered_player(app: &TestApp, provider: &TestProvider) -> TestPlayer {
    let player = TestPlayer::with_balance(provider, CUR, 1_000).await;
    player::Entity::update_many()
        .col_expr(player::Column::BalanceMinor, Expr::value(777))
        .filter(player::Column::Id.eq(player.id.as_str()))
        .exec(&app.db)
        .await
        .expect("edit the balance");
    player
}

async fn audit_rows(app: &TestApp, discrepancy_id: i64) -> Vec<staff_audit::Model> {
    staff_audit::Entity::find()
        .filter(staff_audit::Column::SubjectType.eq("DISCREPANCY"))
        .filter(staff_audit::Column::SubjectId.eq(discrepancy_id.to_string()))
        .all(&app.db)
        .await
        .expect("read the audit log")
}

fn ids(page: &ApiResponse) -> Vec<i64> {
    page.body["discrepancies"]
        .as_array()
        .unwrap_or_else(|| panic!("no discrepancies in {}", page.body))
        .iter()
        .map(|d| d["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn findings_are_listed_read_acknowledged_and_resolved_with_an_audit_record_each() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let first = tampered_player(&app, &provider).await;
    let second = tampered_player(&app, &provider).await;

    let run = run_now(&app).await;
    run.assert_ok();
    assert_eq!(run.body["run"]["findings"], 2, "{}", run.body);
    assert_eq!(run.body["run"]["critical_open"], 2);

    // Two pages of one, newest first, then the end.
    let path = "/operator/v1/discrepancies?kind=BALANCE_MISMATCH&status=OPEN&limit=1";
    let page1 = call(&app, Method::GET, path, None).await;
    page1.assert_ok();
    let cursor = page1.body["next_before_id"].as_i64().expect("a next page");
    let page2 = call(
        &app,
        Method::GET,
        &format!("{path}&before_id={cursor}"),
        None,
    )
    .await;
    page2.assert_ok();
    assert_eq!(page2.body["next_before_id"], Value::Null);
    let (newer, older) = (ids(&page1)[0], ids(&page2)[0]);
    assert!(newer > older);
    let subjects: Vec<&Value> = [&page1, &page2]
        .iter()
        .map(|p| &p.body["discrepancies"][0]["subject_id"])
        .collect();
    assert!(subjects.contains(&&json!(first.id)) && subjects.contains(&&json!(second.id)));

    let one = call(
        &app,
        Method::GET,
        &format!("/operator/v1/discrepancies/{older}"),
        None,
    )
    .await;
    one.assert_ok();
    let finding = &one.body["discrepancy"];
    assert_eq!(
        (&finding["kind"], &finding["severity"], &finding["status"]),
        (
            &json!("BALANCE_MISMATCH"),
            &json!("CRITICAL"),
            &json!("OPEN")
        )
    );
    assert_eq!(finding["details"]["balance_minor"], 777, "details are JSON");

    let acknowledge = format!("/operator/v1/discrepancies/{older}/acknowledge");
    let acked = call(
        &app,
        Method::POST,
        &acknowledge,
        Some(&json!({ "actor": "alice", "note": "looking into it" })),
    )
    .await;
    acked.assert_ok();
    assert_eq!(acked.body["discrepancy"]["status"], "ACKNOWLEDGED");
    assert_eq!(acked.body["discrepancy"]["acknowledged_by"], "alice");
    let again = call(
        &app,
        Method::POST,
        &acknowledge,
        Some(&json!({ "actor": "bob" })),
    )
    .await;
    assert_refused(&again, 409, "INVALID_TRANSITION");

    let resolve = format!("/operator/v1/discrepancies/{older}/resolve");
    let resolved = call(
        &app,
        Method::POST,
        &resolve,
        Some(&json!({ "actor": "bob", "note": "balance restored from the ledger" })),
    )
    .await;
    resolved.assert_ok();
    let view = &resolved.body["discrepancy"];
    assert_eq!(
        (&view["status"], &view["resolved_by"]),
        (&json!("RESOLVED"), &json!("bob"))
    );
    assert!(view["resolved_at"].is_string());
    let twice = call(
        &app,
        Method::POST,
        &resolve,
        Some(&json!({ "actor": "bob", "note": "again" })),
    )
    .await;
    assert_refused(&twice, 409, "INVALID_TRANSITION");

    let audit = audit_rows(&app, older).await;
    let actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|a| (a.action.as_str(), a.actor.as_str(), a.reason.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("discrepancy.acknowledge", "alice", "looking into it"),
            (
                "discrepancy.resolve",
                "bob",
                "balance restored from the ledger"
            ),
        ],
        "one record per change, none for the refused ones"
    );
    let details: Value = serde_json::from_str(&audit[1].details).unwrap();
    assert_eq!(
        (&details["kind"], &details["from"], &details["to"]),
        (
            &json!("BALANCE_MISMATCH"),
            &json!("ACKNOWLEDGED"),
            &json!("RESOLVED")
        )
    );
    assert!(audit_rows(&app, newer).await.is_empty());

    let resolved_list = call(
        &app,
        Method::GET,
        "/operator/v1/discrepancies?status=RESOLVED",
        None,
    )
    .await;
    assert_eq!(ids(&resolved_list), [older]);
}

#[tokio::test]
async fn a_pending_rollback_is_acknowledged_and_audited_over_http() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, CUR, 1_000).await;
    let bet = player.bet(&player.new_round(), 300);
    provider.bet(&bet).await.assert_ok();
    wallet_transaction::Entity::update_many()
        .col_expr(
            wallet_transaction::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::Duration::minutes(31)),
        )
        .filter(wallet_transaction::Column::TransactionId.eq(tx_id(&bet)))
        .exec(&app.db)
        .await
        .unwrap();
    run_now(&app).await.assert_ok();
    let pending = call(
        &app,
        Method::GET,
        "/operator/v1/discrepancies?kind=PENDING_ROLLBACK",
        None,
    )
    .await;
    let id = ids(&pending)[0];

    let acked = call(
        &app,
        Method::POST,
        &format!("/operator/v1/discrepancies/{id}/acknowledge"),
        Some(&json!({ "actor": "carol" })),
    )
    .await;

    acked.assert_ok();
    assert_eq!(acked.body["discrepancy"]["status"], "ACKNOWLEDGED");
    let audit = audit_rows(&app, id).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].action.as_str(),
            audit[0].actor.as_str(),
            audit[0].reason.as_str()
        ),
        ("discrepancy.acknowledge", "carol", "")
    );
    let details: Value = serde_json::from_str(&audit[0].details).unwrap();
    assert_eq!(details["kind"], "PENDING_ROLLBACK");
    assert_eq!(
        details["subject_id"],
        format!("{}/{}", provider.id, tx_id(&bet))
    );
}

#[tokio::test]
async fn bad_ids_filters_and_bodies_are_refused_and_leave_no_audit_record() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    tampered_player(&app, &provider).await;
    run_now(&app).await.assert_ok();
    let listed = call(&app, Method::GET, "/operator/v1/discrepancies", None).await;
    let id = ids(&listed)[0];

    let unknown = 1_000_000 + id;
    for (method, path, body) in [
        (
            Method::GET,
            format!("/operator/v1/discrepancies/{unknown}"),
            None,
        ),
        (
            Method::POST,
            format!("/operator/v1/discrepancies/{unknown}/resolve"),
            Some(json!({ "actor": "a", "note": "n" })),
        ),
    ] {
        assert_refused(
            &call(&app, method, &path, body.as_ref()).await,
            404,
            "NOT_FOUND",
        );
    }
    let malformed = [
        (
            Method::GET,
            "/operator/v1/discrepancies/abc".to_owned(),
            None,
        ),
        (Method::GET, "/operator/v1/discrepancies/0".to_owned(), None),
        (
            Method::GET,
            "/operator/v1/discrepancies?status=CLOSED".to_owned(),
            None,
        ),
        (
            Method::GET,
            "/operator/v1/discrepancies?kind=drop%20table".to_owned(),
            None,
        ),
        (
            Method::GET,
            "/operator/v1/discrepancies?limit=0".to_owned(),
            None,
        ),
        (
            Method::GET,
            "/operator/v1/discrepancies?limit=501".to_owned(),
            None,
        ),
        (
            Method::GET,
            "/operator/v1/discrepancies?before_id=-3".to_owned(),
            None,
        ),
        (
            Method::GET,
            "/operator/v1/reconciliation/runs?limit=101".to_owned(),
            None,
        ),
        (
            Method::POST,
            format!("/operator/v1/discrepancies/{id}/acknowledge"),
            Some(json!({ "note": "who?" })),
        ),
        (
            Method::POST,
            format!("/operator/v1/discrepancies/{id}/acknowledge"),
            Some(json!({ "actor": "  " })),
        ),
        (
            Method::POST,
            format!("/operator/v1/discrepancies/{id}/resolve"),
            Some(json!({ "actor": "dave" })),
        ),
        (
            Method::POST,
            format!("/operator/v1/discrepancies/{id}/resolve"),
            Some(json!({ "actor": "dave", "note": "x", "extra": 1 })),
        ),
        (
            Method::POST,
            "/operator/v1/reconciliation/runs".to_owned(),
            Some(json!({ "full": "yes" })),
        ),
    ];
    for (method, path, body) in malformed {
        let response = call(&app, method.clone(), &path, body.as_ref()).await;
        assert_eq!(
            (response.status, response.code()),
            (400, Some("MALFORMED_REQUEST")),
            "{method} {path}: {}",
            response.body
        );
    }
    let no_token = app
        .operator()
        .request_with_token(Method::GET, "/operator/v1/discrepancies", None, None)
        .await;
    no_token.assert_error("UNAUTHORIZED");
    let no_token_run = app
        .operator()
        .request_with_token(
            Method::POST,
            "/operator/v1/reconciliation/runs",
            None,
            Some("wrong"),
        )
        .await;
    no_token_run.assert_error("UNAUTHORIZED");

    assert!(audit_rows(&app, id).await.is_empty());
    let unchanged = call(
        &app,
        Method::GET,
        &format!("/operator/v1/discrepancies/{id}"),
        None,
    )
    .await;
    assert_eq!(unchanged.body["discrepancy"]["status"], "OPEN");
}

#[tokio::test]
async fn runs_started_now_are_listed_newest_first_and_a_full_pass_can_be_asked_for() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    TestPlayer::with_balance(&provider, CUR, 1_000).await;

    let first = run_now(&app).await;
    first.assert_ok();
    assert_eq!(
        first.body["run"]["trail"]["pass"], "FULL",
        "the first pass is full"
    );
    let second = run_now(&app).await;
    assert_eq!(second.body["run"]["trail"]["pass"], "INCREMENTAL");
    let full = call(
        &app,
        Method::POST,
        "/operator/v1/reconciliation/runs",
        Some(&json!({ "full": true })),
    )
    .await;
    full.assert_ok();
    let run = &full.body["run"];
    assert_eq!(run["trail"]["pass"], "FULL");
    assert_eq!(run["trail"]["postings_checked"], 1);
    let kinds: Vec<&str> = run["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"BALANCE_MISMATCH") && kinds.contains(&"TRAIL_BROKEN"));

    let listed = call(
        &app,
        Method::GET,
        "/operator/v1/reconciliation/runs?limit=2",
        None,
    )
    .await;
    listed.assert_ok();
    let runs = listed.body["runs"].as_array().unwrap();
    let run_ids: Vec<&Value> = runs.iter().map(|r| &r["run_id"]).collect();
    assert_eq!(run_ids, [&run["run_id"], &second.body["run"]["run_id"]]);
    assert_eq!(
        (&runs[0]["trigger"], &runs[0]["trail_pass"]),
        (&json!("MANUAL"), &json!("FULL"))
    );
    assert!(runs[0]["finished_at"].is_string());
}

#[tokio::test]
async fn a_run_is_refused_while_another_holds_the_job_and_runs_never_overlap() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    for _ in 0..3 {
        TestPlayer::with_balance(&provider, CUR, 1_000).await;
    }

    // Several people press "run now" at once: each run either happens or is refused.
    let presses: Vec<_> = (0..4)
        .map(|_| {
            let operator = app.operator();
            tokio::spawn(async move {
                operator
                    .request(Method::POST, "/operator/v1/reconciliation/runs", None)
                    .await
            })
        })
        .collect();
    let mut finished = 0;
    for press in presses {
        let response = press.await.expect("the request task");
        match response.status {
            200 => finished += 1,
            _ => assert_refused(&response, 409, "RUN_IN_PROGRESS"),
        }
    }
    assert!(finished >= 1);
    let spans = app
        .query(
            "SELECT a.id AS n FROM reconciliation_runs a JOIN reconciliation_runs b \
             ON a.id < b.id AND b.started_at < a.finished_at",
        )
        .await;
    assert!(
        spans.is_empty(),
        "no run started before the previous one finished"
    );

    // A run that has started and not finished (another process) holds the job.
    reconciliation_run::Entity::insert(reconciliation_run::ActiveModel {
        started_at: Set(Utc::now()),
        trigger: Set("SCHEDULE".to_owned()),
        findings: Set(0),
        opened: Set(0),
        auto_resolved: Set(0),
        critical_open: Set(0),
        duration_ms: Set(0),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .expect("record a run in progress");
    assert_refused(&run_now(&app).await, 409, "RUN_IN_PROGRESS");
    let listed = call(&app, Method::GET, "/operator/v1/reconciliation/runs", None).await;
    assert_eq!(listed.body["runs"][0]["finished_at"], Value::Null);
    assert_eq!(listed.body["runs"][0]["trigger"], "SCHEDULE");
}

#[tokio::test]
async fn the_openapi_document_lists_the_findings_and_run_endpoints() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json").await;
    let paths = &doc.body["paths"];
    for path in [
        "/operator/v1/discrepancies",
        "/operator/v1/discrepancies/{id}",
        "/operator/v1/discrepancies/{id}/acknowledge",
        "/operator/v1/discrepancies/{id}/resolve",
        "/operator/v1/reconciliation/runs",
    ] {
        assert!(
            paths[path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(paths["/operator/v1/reconciliation/runs"]["get"].is_object());
    assert!(paths["/operator/v1/reconciliation/runs"]["post"].is_object());
}
