//! Secrets stay secret: provider secrets, the operator token, staff
//! passwords, console session ids and game session tokens never appear in the server's
//! log (at `debug`, the most talkative level an operator would turn on), in any answer
//! that is not the one handing the secret out, or in the stored trace (the attempt log,
//! the stored requests and answers of transactions, the staff audit log). Malformed and
//! truncated bodies included: they cannot be parsed, so they are the easy ones to leak.
//! (CSRF, roles, session fixation, brute force and inert rendering are in staff.rs,
//! dashboard.rs and the browser tests.)
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::Method;
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::json;

use crate::helpers::{fresh_secret, money, session_cookie_pair, unique_id};
use crate::node::{Node, Provider, TestDatabase, ADMIN_PASSWORD, OPERATOR_TOKEN};

#[tokio::test]
async fn secrets_never_reach_the_log_the_answers_or_the_trace() {
    let database = TestDatabase::fresh().await;
    let mut node = Node::start(
        &database.url,
        &[("RUST_LOG", "debug,hyper=info,h2=info,reqwest=info")],
    )
    .await;
    let url = node.base_url.clone();
    let mut secrets: Vec<(&str, String)> = vec![
        ("the operator token", OPERATOR_TOKEN.to_owned()),
        ("the admin password", ADMIN_PASSWORD.to_owned()),
    ];
    let mut answers: Vec<String> = Vec::new();

    // Provider secrets: in a valid key set, and in bodies the server cannot parse.
    let provider = Provider::register(&url).await;
    secrets.push(("a provider secret", provider.secret.clone()));
    let truncated_secret = fresh_secret();
    let truncated = format!(
        r#"{{"name":"x","keys":[{{"key_id":"{}","secret":"{truncated_secret}"#,
        unique_id("k")
    );
    answers.push(raw_operator(&url, "/operator/v1/providers/leaky", truncated).await);
    secrets.push(("a secret in a truncated body", truncated_secret));
    let typed_secret = fresh_secret();
    let wrong_type =
        json!({ "name": 42, "keys": [ { "key_id": unique_id("k"), "secret": typed_secret } ] });
    answers.push(
        raw_operator(
            &url,
            "/operator/v1/providers/leaky2",
            wrong_type.to_string(),
        )
        .await,
    );
    secrets.push(("a secret in a refused body", typed_secret));
    // A wrong operator token is often a mistyped real one: not logged either.
    let wrong_token = format!("{OPERATOR_TOKEN}-typo");
    let refused = reqwest::Client::new()
        .get(format!("{url}/operator/v1/players/nobody"))
        .bearer_auth(&wrong_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    answers.push(refused.text().await.unwrap());
    secrets.push(("a wrong operator token", wrong_token));

    // A game session token: in bets (valid, replayed, truncated, refused).
    let player_id = unique_id("pl");
    let session = provider.player(&url, &player_id, 1_000).await;
    secrets.push(("a game session token", session.clone()));
    let bet = json!({ "transaction_id": unique_id("bet"), "player_id": player_id, "round_id": "r-1",
                      "game_id": provider.game_id, "session_token": session, "amount": money(100, "EUR") });
    let bet = serde_json::to_vec(&bet).unwrap();
    for body in [bet.clone(), bet.clone(), bet[..bet.len() - 30].to_vec()] {
        let answer = provider
            .attempt(&url, Method::POST, "/wallet/v1/bet", &body, None)
            .await
            .expect("an answer");
        answers.push(String::from_utf8_lossy(&answer.raw).into_owned());
    }

    // Staff: a wrong and a right password, the console session id, a sign-out.
    let wrong_password = "not-the-admin-password-at-all".to_owned();
    assert_eq!(sign_in(&url, &wrong_password).await, None);
    secrets.push(("a wrong password", wrong_password));
    let cookie = sign_in(&url, ADMIN_PASSWORD).await.expect("signed in");
    let session_id = cookie.split_once('=').expect("name=value").1.to_owned();
    secrets.push(("a console session id", session_id));
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{url}/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    answers.push(page.text().await.unwrap());
    let out = client
        .post(format!("{url}/auth/logout"))
        .header(COOKIE, &cookie)
        .header(ORIGIN, &url)
        .send()
        .await
        .unwrap();
    answers.push(out.text().await.unwrap());

    // Give the attempt log its batch interval, then stop the server: its log is complete.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    node.terminate().await;
    let log = node.output();
    assert!(log.contains("DEBUG"), "the log ran at debug level");
    let trace = stored_trace(&database).await;
    let mut leaks = Vec::new();
    for (what, secret) in &secrets {
        for (place, text) in [("the log", &log), ("the stored trace", &trace)] {
            if text.contains(secret.as_str()) {
                leaks.push(format!("{what} is in {place}"));
            }
        }
        if answers
            .iter()
            .any(|answer| answer.contains(secret.as_str()))
        {
            leaks.push(format!("{what} is in an answer"));
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

/// An operator PUT with these exact bytes; its answer.
async fn raw_operator(url: &str, path: &str, body: String) -> String {
    let response = reqwest::Client::new()
        .put(format!("{url}{path}"))
        .bearer_auth(OPERATOR_TOKEN)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    response.text().await.unwrap()
}

/// Signs in as admin; the session cookie (`name=value`) when the password is right.
async fn sign_in(url: &str, password: &str) -> Option<String> {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{url}/auth/login"))
        .header(ORIGIN, url)
        .form(&[("username", "admin"), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap();
    if response.headers().get(LOCATION).map(|v| v.as_bytes()) != Some(b"/") {
        return None;
    }
    session_cookie_pair(response.headers())
}

/// Every stored request and answer, and the staff audit log, as one text.
async fn stored_trace(database: &TestDatabase) -> String {
    let db = database.connect().await;
    let mut text = String::new();
    for sql in [
        "SELECT request_body AS a, response_body AS b FROM attempts",
        "SELECT COALESCE(details, '') AS a, COALESCE(reason, '') AS b FROM staff_audit",
    ] {
        let rows = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(
            !rows.is_empty() || sql.contains("staff_audit"),
            "{sql} found nothing"
        );
        for row in rows {
            for column in ["a", "b"] {
                let value: Option<String> = row.try_get("", column).ok();
                text.push_str(&value.unwrap_or_default());
                text.push('\n');
            }
        }
    }
    // A key's request is kept packed and a bet's answer rebuilt: read them as the trace does.
    let keys = server::db::entities::wallet_transaction::Entity::find()
        .all(&db)
        .await
        .expect("the keys' rows");
    assert!(!keys.is_empty(), "no wallet transactions");
    let currencies = server::domain::CurrencyTable::default();
    for key in &keys {
        text.push_str(&server::idempotency::request_of(key));
        text.push('\n');
        text.push_str(&server::idempotency::first_body_of(key, &currencies));
        text.push('\n');
    }
    text
}
