//! Admins see who is signed in and end a session; a session ended on
//! the server signs its browser out at the next request. (A role change ending the user's
//! sessions is in `approvals.rs`, since a role change waits for a second admin.)
use reqwest::StatusCode;
use serde_json::Value;

use crate::dashboard::Staff;
use crate::helpers::*;

/// Whether the cookie still signs in: `GET /auth/session` answers 200 or 401.
async fn signed_in(staff: &Staff) -> bool {
    match staff.get("/auth/session").await.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("GET /auth/session answered {other}"),
    }
}

async fn sessions(admin: &Staff) -> Vec<Value> {
    let (status, list) = admin.call("list_sessions", &[]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["rows"].as_array().expect("rows").clone()
}

fn sessions_of<'a>(rows: &'a [Value], username: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|row| row["username"] == username)
        .collect()
}

async fn username_of(staff: &Staff) -> String {
    let who: Value = staff.get("/auth/session").await.json().await.expect("json");
    who["username"].as_str().expect("username").to_owned()
}

#[tokio::test]
async fn an_admin_sees_the_sessions_and_ending_one_signs_that_browser_out() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let operator = Staff::with_role(&app, &admin, "operator").await;
    let name = username_of(&operator).await;
    // The same operator in a second browser.
    let second = Staff::sign_in(&app, &name, &format!("{name}-password")).await;

    let rows = sessions(&admin).await;
    let theirs = sessions_of(&rows, &name);
    assert_eq!(theirs.len(), 2, "{rows:?}");
    for row in &theirs {
        assert_eq!(row["role"], "operator");
        assert_eq!(row["address"], "127.0.0.1");
        assert!(
            row["started_at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{row}"
        );
        assert!(row["last_seen_at"].as_str().is_some(), "{row}");
        let handle = row["handle"].as_str().expect("handle");
        assert_eq!(handle.len(), 16);
        // The handle is not the cookie's secret.
        assert!(!operator.cookie.contains(handle) && !second.cookie.contains(handle));
    }
    assert_eq!(sessions_of(&rows, "admin").len(), 1);

    // Only admins list or end sessions.
    let handle = theirs[0]["handle"].as_str().expect("handle").to_owned();
    let (status, _) = operator.call("list_sessions", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = operator.call("end_session", &[("handle", &handle)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Ending one of the two signs out exactly that browser.
    let (status, body) = admin.call("end_session", &[("handle", &handle)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (first_out, second_out) = (!signed_in(&operator).await, !signed_in(&second).await);
    assert!(first_out ^ second_out, "exactly one browser is signed out");
    assert!(signed_in(&admin).await);
    let after = sessions(&admin).await;
    assert_eq!(sessions_of(&after, &name).len(), 1);
    assert!(after.iter().all(|row| row["handle"] != handle.as_str()));
    let (status, body) = admin.call("end_session", &[("handle", &handle)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an ended session: {body}");

    let audited = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit \
             WHERE action = 'staff.session_ended' AND actor = 'admin'",
        )
        .await;
    assert_eq!(audited, 1);
}
