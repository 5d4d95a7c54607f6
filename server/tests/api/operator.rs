//! Section 7: the operator API (providers, players, cashier adjustments, sessions), plus
//! the health checks and the OpenAPI document.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[track_caller]
fn assert_operator_error(response: &ApiResponse, code: &str) {
    response.assert_error(code);
    assert!(
        response.body["request_id"].is_string(),
        "request_id in {}",
        response.body
    );
}

// --- Authentication -------------------------------------------------------------

#[tokio::test]
async fn the_operator_api_needs_the_configured_bearer_token() {
    let app = spawn_app().await;
    let operator = app.operator();
    let player_id = unique_id("player");
    let body = json!({ "currency": "EUR" });
    let path = format!("/operator/v1/players/{player_id}");

    let missing = operator
        .request_with_token(Method::PUT, &path, Some(&body), None)
        .await;
    assert_operator_error(&missing, "UNAUTHORIZED");
    let wrong = operator
        .request_with_token(Method::PUT, &path, Some(&body), Some("not-the-token"))
        .await;
    assert_operator_error(&wrong, "UNAUTHORIZED");
    let prefixed = format!("{}x", app.operator_token);
    let longer = operator
        .request_with_token(Method::PUT, &path, Some(&body), Some(&prefixed))
        .await;
    assert_operator_error(&longer, "UNAUTHORIZED");

    operator
        .get_player(&player_id)
        .await
        .assert_error("PLAYER_NOT_FOUND");
}

#[tokio::test]
async fn a_provider_key_is_no_operator_token() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;

    let response = app
        .operator()
        .request_with_token(
            Method::GET,
            &format!("/operator/v1/players/{}", unique_id("p")),
            None,
            Some(&provider.secret),
        )
        .await;

    assert_operator_error(&response, "UNAUTHORIZED");
}

// --- Providers --------------------------------------------------------------------

#[tokio::test]
async fn putting_a_provider_creates_it_and_never_returns_secrets() {
    let app = spawn_app().await;
    let provider_id = unique_id("prov");
    let (first_key, second_key) = (unique_id("key"), unique_id("key"));
    let (first_secret, second_secret) = (fresh_secret(), fresh_secret());

    let response = app
        .operator()
        .put_provider(
            &provider_id,
            &json!({ "name": "Acme Games", "keys": [
                { "key_id": first_key, "secret": first_secret },
                { "key_id": second_key, "secret": second_secret },
            ] }),
        )
        .await;

    response.assert_ok();
    assert_eq!(
        response.body["provider"]["provider_id"],
        provider_id.as_str()
    );
    assert_eq!(response.body["provider"]["name"], "Acme Games");
    let mut key_ids: Vec<&str> = response.body["provider"]["key_ids"]
        .as_array()
        .expect("key_ids")
        .iter()
        .map(|k| k.as_str().expect("string"))
        .collect();
    key_ids.sort_unstable();
    let mut expected = vec![first_key.as_str(), second_key.as_str()];
    expected.sort_unstable();
    assert_eq!(key_ids, expected);
    let text = String::from_utf8_lossy(&response.raw);
    assert!(
        !text.contains(&first_secret) && !text.contains(&second_secret),
        "secrets leaked: {text}"
    );
}

#[tokio::test]
async fn putting_a_provider_again_updates_its_name_and_keys() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let new_key = unique_id("key");

    let response = app
        .operator()
        .put_provider(&provider.id, &json!({ "name": "Renamed", "keys": [ { "key_id": new_key, "secret": fresh_secret() } ] }))
        .await;

    response.assert_ok();
    assert_eq!(response.body["provider"]["name"], "Renamed");
    assert_eq!(response.body["provider"]["key_ids"], json!([new_key]));
}

#[tokio::test]
async fn a_key_id_of_another_provider_is_key_in_use() {
    let app = spawn_app().await;
    let owner = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&owner, "EUR", 1_000).await;

    let response = app
        .operator()
        .put_provider(
            &unique_id("prov"),
            &json!({ "name": "Thief", "keys": [ { "key_id": owner.key_id, "secret": fresh_secret() } ] }),
        )
        .await;

    assert_operator_error(&response, "KEY_IN_USE");
    // The owner's key still works with the owner's secret.
    owner
        .bet(&player.bet(&player.new_round(), 100))
        .await
        .assert_ok();
    owner.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_provider_secret_must_be_16_to_256_characters() {
    let app = spawn_app().await;
    let operator = app.operator();
    for secret in ["x".repeat(15), "x".repeat(257), String::new()] {
        let response = operator
            .put_provider(&unique_id("prov"), &json!({ "name": "P", "keys": [ { "key_id": unique_id("key"), "secret": secret } ] }))
            .await;
        assert_operator_error(&response, "MALFORMED_REQUEST");
    }
    for secret in ["x".repeat(16), "y".repeat(256)] {
        operator
            .put_provider(&unique_id("prov"), &json!({ "name": "P", "keys": [ { "key_id": unique_id("key"), "secret": secret } ] }))
            .await
            .assert_ok();
    }
}

#[tokio::test]
async fn a_malformed_provider_is_malformed_request() {
    let app = spawn_app().await;
    let operator = app.operator();
    let bodies = [
        json!({ "keys": [] }),
        json!({ "name": "P" }),
        json!({ "name": "P", "keys": [ { "key_id": "bad id!", "secret": fresh_secret() } ] }),
        json!({ "name": "P", "keys": [ { "key_id": unique_id("key") } ] }),
        json!({ "name": "P", "keys": [], "extra": true }),
    ];
    for body in bodies {
        assert_operator_error(
            &operator.put_provider(&unique_id("prov"), &body).await,
            "MALFORMED_REQUEST",
        );
    }
    let bad_path = operator
        .put_provider("bad%20id", &json!({ "name": "P", "keys": [] }))
        .await;
    assert_operator_error(&bad_path, "MALFORMED_REQUEST");
}

// --- Players ------------------------------------------------------------------------

#[tokio::test]
async fn putting_a_player_creates_it_active_with_a_zero_balance() {
    let app = spawn_app().await;
    let operator = app.operator();
    let player_id = unique_id("player");

    let created = operator
        .put_player(&player_id, &json!({ "currency": "JPY" }))
        .await;

    let fetched = operator.get_player(&player_id).await;
    for response in [&created, &fetched] {
        response.assert_ok();
        let player = &response.body["player"];
        assert_eq!(player["player_id"], player_id.as_str());
        assert_eq!(player["currency"], "JPY");
        assert_eq!(player["status"], "ACTIVE");
        assert_eq!(player["balance"], money(0, "JPY"));
    }
}

#[tokio::test]
async fn a_player_can_be_created_blocked_and_updated_without_touching_the_status() {
    let app = spawn_app().await;
    let operator = app.operator();
    let player_id = unique_id("player");

    let created = operator
        .put_player(
            &player_id,
            &json!({ "currency": "EUR", "status": "BLOCKED" }),
        )
        .await;
    created.assert_ok();
    assert_eq!(created.body["player"]["status"], "BLOCKED");

    let unchanged = operator
        .put_player(&player_id, &json!({ "currency": "EUR" }))
        .await;
    unchanged.assert_ok();
    assert_eq!(unchanged.body["player"]["status"], "BLOCKED");

    let unblocked = operator
        .put_player(
            &player_id,
            &json!({ "currency": "EUR", "status": "ACTIVE" }),
        )
        .await;
    unblocked.assert_ok();
    assert_eq!(unblocked.body["player"]["status"], "ACTIVE");
    assert_eq!(
        operator.get_player(&player_id).await.body["player"]["status"],
        "ACTIVE"
    );
}

#[tokio::test]
async fn updating_a_player_keeps_its_balance() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 4_200).await;

    let response = app
        .operator()
        .put_player(
            &player.id,
            &json!({ "currency": "EUR", "status": "BLOCKED" }),
        )
        .await;

    response.assert_ok();
    assert_eq!(response.body["player"]["balance"], player.money(4_200));
    provider.assert_balance(&player, 4_200).await;
}

#[tokio::test]
async fn changing_a_players_currency_is_currency_immutable() {
    let app = spawn_app().await;
    let operator = app.operator();
    let player_id = unique_id("player");
    operator
        .put_player(&player_id, &json!({ "currency": "EUR" }))
        .await
        .assert_ok();

    let response = operator
        .put_player(&player_id, &json!({ "currency": "USD" }))
        .await;

    assert_operator_error(&response, "CURRENCY_IMMUTABLE");
    assert_eq!(
        operator.get_player(&player_id).await.body["player"]["currency"],
        "EUR"
    );
}

#[tokio::test]
async fn a_malformed_player_is_refused() {
    let app = spawn_app().await;
    let operator = app.operator();

    // Without a currency the PUT can only update, and there is no such player (a 404, not a
    // 400: the body is well formed, as the OpenAPI document says).
    let no_currency = unique_id("player");
    assert_operator_error(
        &operator.put_player(&no_currency, &json!({})).await,
        "PLAYER_NOT_FOUND",
    );
    assert_operator_error(&operator.get_player(&no_currency).await, "PLAYER_NOT_FOUND");

    let bad_status = operator
        .put_player(
            &unique_id("player"),
            &json!({ "currency": "EUR", "status": "ASLEEP" }),
        )
        .await;
    assert_operator_error(&bad_status, "MALFORMED_REQUEST");
    let extra = operator
        .put_player(
            &unique_id("player"),
            &json!({ "currency": "EUR", "vip": true }),
        )
        .await;
    assert_operator_error(&extra, "MALFORMED_REQUEST");
    let long_id = "p".repeat(129);
    assert_operator_error(
        &operator
            .put_player(&long_id, &json!({ "currency": "EUR" }))
            .await,
        "MALFORMED_REQUEST",
    );
    operator
        .put_player(&"p".repeat(128), &json!({ "currency": "EUR" }))
        .await
        .assert_ok();
}

#[tokio::test]
async fn an_unknown_player_is_player_not_found() {
    let app = spawn_app().await;

    let response = app.operator().get_player(&unique_id("ghost")).await;

    assert_operator_error(&response, "PLAYER_NOT_FOUND");
}

// --- Adjustments --------------------------------------------------------------------

#[tokio::test]
async fn a_credit_adjustment_deposits_and_returns_the_transaction() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;
    let credit = Operator::credit(2_500, "EUR");

    let response = app.operator().adjust(&player.id, &credit).await;

    response
        .assert_ok()
        .assert_fresh()
        .assert_transaction_shape("ADJUSTMENT", "COMMITTED");
    let tx = response.tx();
    assert_eq!(tx["transaction_id"], credit["adjustment_id"]);
    assert_eq!(tx["kind"], "CREDIT");
    assert_eq!(tx["player_id"], player.id.as_str());
    assert_eq!(tx["amount"], player.money(2_500));
    assert_eq!(tx["balance_after"], player.money(2_500));
    assert_eq!(tx["reason"], credit["reason"]);
    assert_eq!(response.body["balance"], player.money(2_500));
    provider.assert_balance(&player, 2_500).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_replayed_adjustment_moves_money_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;
    let credit = Operator::credit(2_500, "EUR");

    let first = app.operator().adjust(&player.id, &credit).await;
    first.assert_ok().assert_fresh();
    for _ in 0..2 {
        app.operator()
            .adjust(&player.id, &credit)
            .await
            .assert_replay_of(&first);
        provider.assert_balance(&player, 2_500).await;
    }
    // The reason is not part of the fingerprint.
    let mut reworded = credit.clone();
    reworded["reason"] = json!("same deposit, other words");
    app.operator()
        .adjust(&player.id, &reworded)
        .await
        .assert_replay_of(&first);
    provider.assert_balance(&player, 2_500).await;
}

#[tokio::test]
async fn a_debit_adjustment_withdraws() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let mut debit = Operator::credit(400, "EUR");
    debit["direction"] = json!("DEBIT");

    let response = app.operator().adjust(&player.id, &debit).await;

    response.assert_ok();
    assert_eq!(response.tx()["kind"], "DEBIT");
    assert_eq!(response.tx()["balance_after"], player.money(600));
    provider.assert_balance(&player, 600).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_debit_below_zero_is_insufficient_funds_and_recorded() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 300).await;
    let mut debit = Operator::credit(400, "EUR");
    debit["direction"] = json!("DEBIT");

    let first = app.operator().adjust(&player.id, &debit).await;
    first.assert_error("INSUFFICIENT_FUNDS");
    assert_eq!(first.body["balance"], player.money(300));
    provider.assert_balance(&player, 300).await;

    player.deposit(1_000).await;
    let replay = app.operator().adjust(&player.id, &debit).await;
    replay
        .assert_error("INSUFFICIENT_FUNDS")
        .assert_replay_of(&first);
    provider.assert_balance(&player, 1_300).await;
}

#[tokio::test]
async fn an_adjustment_id_reused_with_another_meaning_is_a_conflict() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let other = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let credit = Operator::credit(500, "EUR");
    app.operator().adjust(&player.id, &credit).await.assert_ok();
    provider.assert_balance(&player, 1_500).await;

    let mut more = credit.clone();
    more["amount"] = player.money(900);
    app.operator()
        .adjust(&player.id, &more)
        .await
        .assert_conflict(&["amount.value"]);
    let mut reversed = credit.clone();
    reversed["direction"] = json!("DEBIT");
    let response = app.operator().adjust(&player.id, &reversed).await;
    response.assert_error("IDEMPOTENCY_CONFLICT");
    assert_eq!(
        response.conflict_fields().len(),
        1,
        "one differing field: {:?}",
        response.conflict_fields()
    );
    // Adjustment ids are global, not per player.
    app.operator()
        .adjust(&other.id, &credit)
        .await
        .assert_conflict(&["player_id"]);

    provider.assert_balance(&player, 1_500).await;
    provider.assert_balance(&other, 1_000).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn adjustment_ids_and_provider_transaction_ids_do_not_collide() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    provider.bet(&bet).await.assert_ok();
    let mut credit = Operator::credit(500, "EUR");
    credit["adjustment_id"] = bet["transaction_id"].clone();

    app.operator()
        .adjust(&player.id, &credit)
        .await
        .assert_ok()
        .assert_fresh();

    provider.assert_balance(&player, 1_400).await;
}

#[tokio::test]
async fn an_adjustment_for_an_unknown_player_is_player_not_found() {
    let app = spawn_app().await;

    let response = app
        .operator()
        .adjust(&unique_id("ghost"), &Operator::credit(500, "EUR"))
        .await;

    assert_operator_error(&response, "PLAYER_NOT_FOUND");
}

#[tokio::test]
async fn an_adjustment_in_another_currency_is_currency_mismatch() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;

    let response = app
        .operator()
        .adjust(&player.id, &Operator::credit(500, "USD"))
        .await;

    assert_operator_error(&response, "CURRENCY_MISMATCH");
    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn a_malformed_adjustment_changes_nothing_and_its_id_stays_free() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let credit = Operator::credit(500, "EUR");
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            {
                let mut b = credit.clone();
                b["direction"] = json!("SIDEWAYS");
                b
            },
            "MALFORMED_REQUEST",
        ),
        (
            {
                let mut b = credit.clone();
                b["bonus"] = json!(true);
                b
            },
            "MALFORMED_REQUEST",
        ),
        (
            {
                let mut b = credit.clone();
                b.as_object_mut().expect("object").remove("adjustment_id");
                b
            },
            "MALFORMED_REQUEST",
        ),
        (
            {
                let mut b = credit.clone();
                b["adjustment_id"] = json!("has space");
                b
            },
            "MALFORMED_REQUEST",
        ),
        (
            {
                let mut b = credit.clone();
                b["amount"]["value"] = json!("-500");
                b
            },
            "INVALID_AMOUNT",
        ),
        (
            {
                let mut b = credit.clone();
                b["amount"]["value"] = json!("0500");
                b
            },
            "INVALID_AMOUNT",
        ),
        (
            {
                let mut b = credit.clone();
                b["amount"]["scale"] = json!(3);
                b
            },
            "INVALID_AMOUNT",
        ),
        (
            {
                let mut b = credit.clone();
                b["amount"]["currency"] = json!("XXX");
                b
            },
            "INVALID_AMOUNT",
        ),
    ];
    for (body, code) in cases {
        assert_operator_error(&app.operator().adjust(&player.id, &body).await, code);
        provider.assert_balance(&player, 1_000).await;
    }

    app.operator()
        .adjust(&player.id, &credit)
        .await
        .assert_ok()
        .assert_fresh();
    provider.assert_balance(&player, 1_500).await;
}

#[tokio::test]
async fn a_credit_past_eighteen_digits_is_invalid_amount() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "JPY", MAX_BALANCE_MINOR).await;
    let mut credit = Operator::credit(1, "JPY");

    assert_operator_error(
        &app.operator().adjust(&player.id, &credit).await,
        "INVALID_AMOUNT",
    );
    provider.assert_balance(&player, MAX_BALANCE_MINOR).await;

    // Not recorded: the same id with a debit direction executes.
    credit["direction"] = json!("DEBIT");
    app.operator()
        .adjust(&player.id, &credit)
        .await
        .assert_ok()
        .assert_fresh();
    provider
        .assert_balance(&player, MAX_BALANCE_MINOR - 1)
        .await;
    assert_invariants(&app).await;
}

// --- Sessions -----------------------------------------------------------------------

#[tokio::test]
async fn opening_a_session_returns_a_token_and_its_expiry() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;
    let before = chrono::Utc::now();

    let response = app
        .operator()
        .open_session(&json!({ "player_id": player.id, "provider_id": provider.id, "game_id": player.game_id, "ttl_seconds": 600 }))
        .await;

    response.assert_status(201);
    assert_eq!(response.body["status"], "OK");
    assert!(response.body["session_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    let expires_at = chrono::DateTime::parse_from_rfc3339(
        response.body["expires_at"].as_str().expect("expires_at"),
    )
    .expect("RFC 3339");
    let ttl = expires_at.signed_duration_since(before).num_seconds();
    assert!((595..=605).contains(&ttl), "expires in {ttl} s, not 600");
}

#[tokio::test]
async fn a_session_lasts_an_hour_by_default() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;
    let before = chrono::Utc::now();

    let response = app
        .operator()
        .open_session(&json!({ "player_id": player.id, "provider_id": provider.id, "game_id": player.game_id }))
        .await;

    response.assert_status(201);
    let expires_at = chrono::DateTime::parse_from_rfc3339(
        response.body["expires_at"].as_str().expect("expires_at"),
    )
    .expect("RFC 3339");
    let ttl = expires_at.signed_duration_since(before).num_seconds();
    assert!(
        (3_595..=3_605).contains(&ttl),
        "expires in {ttl} s, not 3600"
    );
}

#[tokio::test]
async fn a_session_ttl_must_be_between_one_second_and_a_week() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;
    let body = |ttl: serde_json::Value| json!({ "player_id": player.id, "provider_id": provider.id, "game_id": player.game_id, "ttl_seconds": ttl });

    for ttl in [json!(0), json!(604_801), json!(-5), json!("60"), json!(1.5)] {
        assert_operator_error(
            &app.operator().open_session(&body(ttl)).await,
            "MALFORMED_REQUEST",
        );
    }
    app.operator()
        .open_session(&body(json!(604_800)))
        .await
        .assert_status(201);
    app.operator()
        .open_session(&body(json!(1)))
        .await
        .assert_status(201);
}

#[tokio::test]
async fn a_session_needs_a_known_active_player_and_a_known_provider() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::new(&provider, "EUR").await;
    let operator = app.operator();

    let ghost = operator
        .open_session(&json!({ "player_id": unique_id("ghost"), "provider_id": provider.id, "game_id": player.game_id }))
        .await;
    assert_operator_error(&ghost, "PLAYER_NOT_FOUND");
    let nowhere = operator
        .open_session(&json!({ "player_id": player.id, "provider_id": unique_id("prov"), "game_id": player.game_id }))
        .await;
    assert_operator_error(&nowhere, "PROVIDER_NOT_FOUND");

    player.set_status("BLOCKED").await;
    let blocked = operator
        .open_session(&json!({ "player_id": player.id, "provider_id": provider.id, "game_id": player.game_id }))
        .await;
    assert_operator_error(&blocked, "PLAYER_BLOCKED");
}

// --- Health and documentation ----------------------------------------------------

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app().await;

    app.get("/healthz").await.assert_status(200);
    app.get("/readyz").await.assert_status(200);
}

#[tokio::test]
async fn the_openapi_document_lists_the_wallet_and_operator_paths() {
    let app = spawn_app().await;

    let response = app.get("/api-docs/openapi.json").await;

    response.assert_status(200);
    let version = response.body["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with('3'), "OpenAPI {version}");
    let paths: Vec<&str> = response.body["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/wallet/v1/balance",
        "/wallet/v1/bet",
        "/wallet/v1/win",
        "/wallet/v1/rollback",
        "/wallet/v1/rounds/close",
        "/operator/v1/sessions",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    for prefix in ["/operator/v1/providers/{", "/operator/v1/players/{"] {
        assert!(
            paths.iter().any(|p| p.starts_with(prefix)),
            "no {prefix}…}} path in {paths:?}"
        );
    }
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/operator/v1/players/{") && p.ends_with("/adjustments")),
        "no adjustments path in {paths:?}"
    );
}

/// What Schemathesis checks in full in the test command (docs/API.md, "The OpenAPI
/// document"), in brief: the shared answers, the signing headers, the list envelopes and
/// the server's currencies.
#[tokio::test]
async fn the_openapi_document_states_answers_headers_and_currencies() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json").await.body;
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = &operation["responses"];
            for status in ["401", "500", "503"] {
                assert!(
                    responses[status].is_object(),
                    "{method} {path} does not state {status}"
                );
            }
            let headers: Vec<&str> = operation["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "header")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let signed = [
                "X-Wallet-Key-Id",
                "X-Wallet-Timestamp",
                "X-Wallet-Signature",
            ];
            if path.starts_with("/wallet/") {
                assert_eq!(headers, signed, "{method} {path}");
            } else {
                assert!(headers.is_empty(), "{method} {path}: {headers:?}");
            }
        }
    }
    assert_eq!(
        doc["components"]["responses"]["SignatureRefused"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/ErrorResponse"
    );
    let listed = &paths["/operator/v1/discrepancies"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"]["$ref"];
    assert_eq!(listed, "#/components/schemas/DiscrepancyList");
    let currencies = doc["components"]["schemas"]["CurrencyCode"]["enum"]
        .as_array()
        .expect("currency codes");
    for code in ["EUR", "JPY", "NGN", "BTC"] {
        assert!(currencies.contains(&json!(code)), "{code} missing");
    }
}

/// The listing's key `key_id` of `provider_id`.
async fn listed_key(app: &TestApp, provider_id: &str, key_id: &str) -> serde_json::Value {
    let list = app
        .operator()
        .request(Method::GET, "/operator/v1/providers", None)
        .await;
    list.assert_ok();
    let provider = list.body["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .find(|p| p["provider_id"] == provider_id)
        .unwrap_or_else(|| panic!("{provider_id} is listed: {}", list.body))
        .clone();
    assert!(!provider.to_string().contains("secret"), "{provider}");
    provider["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["key_id"] == key_id)
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

#[tokio::test]
async fn providers_are_listed_with_each_keys_last_use_and_a_kept_key_keeps_its_history() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let second = (unique_id("key"), fresh_secret());
    app.operator()
        .put_provider(
            &provider.id,
            &json!({ "name": "Acme", "keys": [
                { "key_id": provider.key_id, "secret": provider.secret },
                { "key_id": second.0, "secret": second.1 },
            ] }),
        )
        .await
        .assert_ok();
    let before = listed_key(&app, &provider.id, &provider.key_id).await;
    assert_eq!(before["last_used_at"], serde_json::Value::Null);

    // A signed request: the key that signed it shows it at once, the other does not.
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    provider
        .bet(&player.bet(&player.new_round(), 100))
        .await
        .assert_ok();
    let used = listed_key(&app, &provider.id, &provider.key_id).await;
    assert!(used["last_used_at"].as_str().is_some(), "{used}");
    assert_eq!(
        listed_key(&app, &provider.id, &second.0).await["last_used_at"],
        serde_json::Value::Null
    );

    // Rotating: listing the first key again keeps when it was added and last used; the
    // key left out is gone.
    let third = (unique_id("key"), fresh_secret());
    app.operator()
        .put_provider(
            &provider.id,
            &json!({ "name": "Acme", "keys": [
                { "key_id": provider.key_id, "secret": provider.secret },
                { "key_id": third.0, "secret": third.1 },
            ] }),
        )
        .await
        .assert_ok();
    let kept = listed_key(&app, &provider.id, &provider.key_id).await;
    assert_eq!(kept["created_at"], before["created_at"]);
    assert!(kept["last_used_at"].as_str().is_some());
    assert_eq!(
        listed_key(&app, &provider.id, &second.0).await,
        serde_json::Value::Null
    );

    // The use reaches the database within a few seconds, for the other servers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let written = app
            .query_i64(&format!(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM provider_keys \
                 WHERE key_id = {} AND last_used_at IS NOT NULL",
                quote(&provider.key_id)
            ))
            .await;
        if written == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "last_used_at never written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
