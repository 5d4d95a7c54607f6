//! Four eyes. A console refund above its currency's threshold and a
//! role change wait as requests; the requester cannot approve their own; a second person
//! approves and the change is made once, even when two approvals arrive at the same
//! moment.
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use server::approvals::RefundThresholds;
use server::domain::CurrencyTable;

use crate::accounts::users_async;
use crate::dashboard::{orphan_finding, Staff};
use crate::helpers::*;

/// A wallet where console refunds above EUR 5.00 wait for a second operator.
async fn app_with_threshold() -> TestApp {
    spawn_app_with(|config| {
        config.staff.refund_approval_above =
            RefundThresholds::parse("EUR=5.00", &CurrencyTable::default()).expect("threshold");
    })
    .await
}

/// A second admin, made from the command line's side of the house, signed in.
async fn second_admin(app: &TestApp) -> Staff {
    let name = unique_id("admin2").to_lowercase();
    let created = users_async(
        app,
        &["create", &name, "--role", "admin", "--password-stdin"],
        Some("second-admin-password\n"),
    )
    .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    Staff::sign_in(app, &name, "second-admin-password").await
}

/// A wallet with the EUR 5.00 threshold, an admin, the operator alice, and a player with
/// EUR 100.00 whose EUR 25.00 orphan bet alice asked to refund: the request waits.
struct FiledRefund {
    app: TestApp,
    admin: Staff,
    alice: Staff,
    provider: TestProvider,
    player: TestPlayer,
    bet: String,
    finding: String,
    request: i64,
}

async fn filed_refund() -> FiledRefund {
    let app = app_with_threshold().await;
    let admin = Staff::admin(&app).await;
    let alice = Staff::with_role(&app, &admin, "operator").await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let (bet, finding) = orphan_finding(&app, &alice, &provider, &player, 2_500).await;
    refund(&alice, &finding).await;
    let request = open_requests(&admin).await[0]["id"].as_i64().expect("id");
    FiledRefund {
        app,
        admin,
        alice,
        provider,
        player,
        bet,
        finding,
        request,
    }
}

async fn refund(operator: &Staff, finding: &str) -> (StatusCode, Value) {
    operator
        .call(
            "refund_orphan",
            &[
                ("finding_id", finding),
                ("reason", "round never settled"),
                ("confirmed", "yes"),
            ],
        )
        .await
}

async fn open_requests(staff: &Staff) -> Vec<Value> {
    let (status, queue) = staff.call("list_approvals", &[]).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    queue["open"].as_array().expect("open").clone()
}

async fn refund_rows(app: &TestApp, player: &TestPlayer) -> i64 {
    app.query_i64(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM wallet_transactions \
         WHERE player_id = {} AND op = 'ROLLBACK'",
        quote(&player.id)
    ))
    .await
}

#[tokio::test]
async fn a_refund_above_the_threshold_waits_for_a_second_operator_and_moves_money_once() {
    let app = app_with_threshold().await;
    let admin = Staff::admin(&app).await;
    let alice = Staff::with_role(&app, &admin, "operator").await;
    let bob = Staff::with_role(&app, &admin, "operator").await;
    let carol = Staff::with_role(&app, &admin, "operator").await;
    let support = Staff::with_role(&app, &admin, "support").await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;

    // At the threshold: refunded at once.
    let (_, small) = orphan_finding(&app, &alice, &provider, &player, 500).await;
    let (status, done) = refund(&alice, &small).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(
        done.as_str().unwrap_or_default().contains("is refunded"),
        "{done}"
    );
    assert_eq!(player.operator_balance(&app.operator()).await, 10_000);

    // Above it: filed, nothing moves.
    let (_, big) = orphan_finding(&app, &alice, &provider, &player, 2_500).await;
    let (status, filed) = refund(&alice, &big).await;
    assert_eq!(status, StatusCode::OK, "{filed}");
    assert!(
        filed
            .as_str()
            .unwrap_or_default()
            .contains("waits for a second"),
        "{filed}"
    );
    let (status, again) = refund(&alice, &big).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(
        again.as_str().unwrap_or_default().contains("already waits"),
        "{again}"
    );
    assert_eq!(player.operator_balance(&app.operator()).await, 7_500);
    let open = open_requests(&bob).await;
    assert_eq!(open.len(), 1, "one request for two clicks: {open:?}");
    let request = open[0]["id"].as_i64().expect("id").to_string();
    assert_eq!(open[0]["kind"], "REFUND");
    assert_eq!(open[0]["status"], "PENDING");
    assert_eq!(open[0]["reason"], "round never settled");
    assert!(
        open[0]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("25.00 EUR"),
        "{open:?}"
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("oncewallet_approval_requests_pending{kind=\"REFUND\"} 1"),
        "{metrics}"
    );

    // Not by its requester, not by support.
    let (status, own) = alice
        .call("approve_request", &[("request_id", &request)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{own}");
    let (status, own) = alice
        .call("reject_request", &[("request_id", &request), ("note", "")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{own}");
    let (status, _) = support
        .call("approve_request", &[("request_id", &request)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(player.operator_balance(&app.operator()).await, 7_500);

    // Two operators approve at the same moment: the money moves once.
    let approve = [("request_id", request.as_str())];
    let (one, two) = tokio::join!(
        bob.call("approve_request", &approve),
        carol.call("approve_request", &approve),
    );
    let answers = [one, two];
    let succeeded = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert!(succeeded >= 1, "{answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "an approval is done or already decided: {status} {body}"
        );
    }
    assert_eq!(
        player.operator_balance(&app.operator()).await,
        10_000,
        "refunded once"
    );
    assert_eq!(
        refund_rows(&app, &player).await,
        2,
        "one refund per finding"
    );
    let (status, late) = bob
        .call("approve_request", &[("request_id", &request)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{late}");
    assert_eq!(player.operator_balance(&app.operator()).await, 10_000);

    let (status, queue) = bob.call("list_approvals", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        queue["open"].as_array().expect("open").is_empty(),
        "{queue}"
    );
    let decided = &queue["decided"][0];
    assert_eq!(decided["status"], "APPROVED", "{queue}");
    assert!(
        decided["outcome"]
            .as_str()
            .unwrap_or_default()
            .contains("is refunded"),
        "{queue}"
    );
    let audited = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit \
             WHERE action IN ('approval.requested', 'approval.approved')",
        )
        .await;
    assert_eq!(audited, 2);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_rejected_refund_moves_nothing_and_cannot_be_approved_later() {
    let FiledRefund {
        app,
        admin,
        alice,
        player,
        finding,
        request,
        ..
    } = filed_refund().await;
    let request = request.to_string();

    let (status, body) = admin
        .call(
            "reject_request",
            &[
                ("request_id", &request),
                ("note", "the provider settled it"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin
        .call("approve_request", &[("request_id", &request)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(player.operator_balance(&app.operator()).await, 7_500);
    let (_, queue) = admin.call("list_approvals", &[]).await;
    assert_eq!(queue["decided"][0]["status"], "REJECTED");
    assert_eq!(queue["decided"][0]["outcome"], "the provider settled it");
    // A new request may be filed once the old one is decided.
    let (status, filed) = refund(&alice, &finding).await;
    assert_eq!(status, StatusCode::OK, "{filed}");
    assert!(
        filed
            .as_str()
            .unwrap_or_default()
            .contains("waits for a second"),
        "{filed}"
    );
}

#[tokio::test]
async fn a_role_change_waits_for_a_second_admin() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let operator = Staff::with_role(&app, &admin, "operator").await;
    let support = Staff::with_role(&app, &admin, "support").await;
    let user_id = |name: String| {
        let app = &app;
        async move {
            app.query_i64(&format!(
                "SELECT id AS n FROM staff_users WHERE username = {}",
                quote(&name)
            ))
            .await
        }
    };
    let who: Value = support
        .get("/auth/session")
        .await
        .json()
        .await
        .expect("json");
    let support_name = who["username"].as_str().expect("name").to_owned();
    let support_id = user_id(support_name.clone()).await.to_string();

    // An admin is not made in one step.
    let (status, body) = admin
        .call(
            "create_user",
            &[
                ("username", "eve-admin"),
                ("password", "eve-admin-password"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, filed) = admin
        .call(
            "set_user_role",
            &[("user_id", &support_id), ("role", "admin")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{filed}");
    assert!(
        filed.as_str().unwrap_or_default().contains("second admin"),
        "{filed}"
    );
    let request = open_requests(&admin).await[0]["id"]
        .as_i64()
        .expect("id")
        .to_string();
    let role_of = |id: String| {
        let app = &app;
        async move {
            app.query(&format!("SELECT role FROM staff_users WHERE id = {id}"))
                .await[0]
                .try_get::<String>("", "role")
                .expect("role")
        }
    };
    assert_eq!(
        role_of(support_id.clone()).await,
        "support",
        "nothing changed yet"
    );
    let (status, _) = admin
        .call("approve_request", &[("request_id", &request)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not one's own");
    let (status, _) = operator
        .call("approve_request", &[("request_id", &request)])
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a role change needs an admin"
    );

    let second = second_admin(&app).await;
    let (status, done) = second
        .call("approve_request", &[("request_id", &request)])
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(role_of(support_id).await, "admin");
    let gone = support.get("/auth/session").await.status();
    assert_eq!(
        gone,
        StatusCode::UNAUTHORIZED,
        "the old role's session ended"
    );
}

#[tokio::test]
async fn an_approval_that_died_half_way_is_finished_by_the_next_one() {
    use server::db::entities::approval_request;
    let FiledRefund {
        app,
        admin,
        player,
        request,
        ..
    } = filed_refund().await;
    // What a crash between the claim and the refund leaves behind.
    let claim = |age: chrono::Duration| {
        approval_request::Entity::update_many()
            .col_expr(approval_request::Column::Status, Expr::value("APPROVING"))
            .col_expr(approval_request::Column::DecidedBy, Expr::value("ghost"))
            .col_expr(
                approval_request::Column::DecidedAt,
                Expr::value(chrono::Utc::now() - age),
            )
            .filter(approval_request::Column::Id.eq(request))
            .exec(&app.db)
    };
    claim(chrono::Duration::seconds(5))
        .await
        .expect("fresh claim");
    let id = request.to_string();

    let (status, body) = admin.call("approve_request", &[("request_id", &id)]).await;
    assert_eq!(status, StatusCode::CONFLICT, "a fresh claim holds: {body}");
    assert!(body.to_string().contains("ghost"), "{body}");
    let (status, _) = admin
        .call("reject_request", &[("request_id", &id), ("note", "")])
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a claimed request is not rejected"
    );

    claim(chrono::Duration::minutes(2))
        .await
        .expect("stale claim");
    let (status, body) = admin.call("approve_request", &[("request_id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(player.operator_balance(&app.operator()).await, 10_000);
    let (status, body) = admin.call("approve_request", &[("request_id", &id)]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        player.operator_balance(&app.operator()).await,
        10_000,
        "once"
    );
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_refund_the_wallet_declines_on_approval_ends_failed() {
    let FiledRefund {
        app,
        admin,
        provider,
        player,
        bet,
        request,
        ..
    } = filed_refund().await;
    let request = request.to_string();
    // Meanwhile the provider settles the round: the bet is no longer an orphan.
    let round = app
        .query(&format!(
            "SELECT round_id FROM wallet_transactions WHERE transaction_id = {}",
            quote(&bet)
        ))
        .await[0]
        .try_get::<String>("", "round_id")
        .expect("round");
    provider
        .win(&player.win_for(&round, 4_000, &bet))
        .await
        .assert_ok();

    let (status, body) = admin
        .call("approve_request", &[("request_id", &request)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("was not refunded"), "{body}");
    let (_, queue) = admin.call("list_approvals", &[]).await;
    assert_eq!(queue["decided"][0]["status"], "FAILED", "{queue}");
    assert_eq!(player.operator_balance(&app.operator()).await, 11_500);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn only_admins_reject_a_role_change_and_a_stale_claim_can_be_rejected() {
    use server::db::entities::approval_request;
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let operator = Staff::with_role(&app, &admin, "operator").await;
    let support = Staff::with_role(&app, &admin, "support").await;
    let who: Value = support
        .get("/auth/session")
        .await
        .json()
        .await
        .expect("json");
    let support_id = app
        .query_i64(&format!(
            "SELECT id AS n FROM staff_users WHERE username = {}",
            quote(who["username"].as_str().expect("name"))
        ))
        .await
        .to_string();
    admin
        .call(
            "set_user_role",
            &[("user_id", &support_id), ("role", "operator")],
        )
        .await;
    let request = open_requests(&admin).await[0]["id"].as_i64().expect("id");
    let id = request.to_string();
    let (status, body) = operator
        .call("reject_request", &[("request_id", &id), ("note", "no")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // An approval that died two minutes ago: the request can be closed.
    approval_request::Entity::update_many()
        .col_expr(approval_request::Column::Status, Expr::value("APPROVING"))
        .col_expr(approval_request::Column::DecidedBy, Expr::value("ghost"))
        .col_expr(
            approval_request::Column::DecidedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(2)),
        )
        .filter(approval_request::Column::Id.eq(request))
        .exec(&app.db)
        .await
        .expect("stale claim");
    let second = second_admin(&app).await;
    let (status, body) = second
        .call("reject_request", &[("request_id", &id), ("note", "stuck")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, queue) = admin.call("list_approvals", &[]).await;
    assert_eq!(queue["decided"][0]["status"], "REJECTED", "{queue}");
}
