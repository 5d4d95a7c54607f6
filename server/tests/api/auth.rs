//! Section 2: request signatures, freshness, key rotation, signed responses, request ids.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const BET_PATH: &str = "/wallet/v1/bet";

/// A 401 of the two unsigned kinds: right code and retryable flag, no signature.
#[track_caller]
fn assert_unsigned_auth_failure(response: &ApiResponse, code: &str) {
    response.assert_error(code);
    assert!(
        response.header("X-Wallet-Signature").is_none(),
        "a {code} answer is not signed"
    );
}

/// The refused attempt left no trace: the same bet, signed properly, runs for the first time.
async fn assert_bet_runs_fresh(
    provider: &TestProvider,
    player: &TestPlayer,
    bet: &serde_json::Value,
    balance: i64,
) {
    provider.assert_balance(player, balance).await;
    provider.bet(bet).await.assert_ok().assert_fresh();
    let amount = minor_of(&bet["amount"], &player.currency);
    provider.assert_balance(player, balance - amount).await;
}

#[tokio::test]
async fn a_request_with_a_bad_signature_is_invalid_signature_and_changes_nothing() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);

    let response = provider
        .call(BET_PATH, &bet)
        .signature(SignatureMode::WithSecret(fresh_secret()))
        .send()
        .await;

    assert_unsigned_auth_failure(&response, "INVALID_SIGNATURE");
    assert_bet_runs_fresh(&provider, &player, &bet, 1_000).await;
}

#[tokio::test]
async fn malformed_signature_headers_are_invalid_signature() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    let timestamp = now_ms().to_string();
    let body = serde_json::to_vec(&bet).expect("serialise");
    let valid = sign_request(&provider.secret, "POST", BET_PATH, &timestamp, &body);
    let bare_hex = valid.trim_start_matches("v1=").to_owned();

    for literal in [
        String::new(),
        "v1=".to_owned(),
        bare_hex.clone(),
        format!("v2={bare_hex}"),
        format!("v1={}", &bare_hex[..32]),
        format!("v1={bare_hex}00"),
        "v1=not-hex-at-all".to_owned(),
    ] {
        let response = provider
            .call(BET_PATH, &bet)
            .timestamp_ms(timestamp.parse().expect("number"))
            .signature(SignatureMode::Literal(literal.clone()))
            .send()
            .await;
        assert_unsigned_auth_failure(&response, "INVALID_SIGNATURE");
    }
    let missing = provider
        .call(BET_PATH, &bet)
        .signature(SignatureMode::Missing)
        .send()
        .await;
    assert_unsigned_auth_failure(&missing, "INVALID_SIGNATURE");

    assert_bet_runs_fresh(&provider, &player, &bet, 1_000).await;
}

#[tokio::test]
async fn a_request_with_an_unknown_or_missing_key_is_invalid_signature() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);

    let unknown = provider
        .call(BET_PATH, &bet)
        .key_id(Some(&unique_id("key")))
        .send()
        .await;
    assert_unsigned_auth_failure(&unknown, "INVALID_SIGNATURE");
    let missing = provider.call(BET_PATH, &bet).key_id(None).send().await;
    assert_unsigned_auth_failure(&missing, "INVALID_SIGNATURE");

    assert_bet_runs_fresh(&provider, &player, &bet, 1_000).await;
}

#[tokio::test]
async fn a_request_without_a_timestamp_is_refused_unsigned() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);

    let response = provider
        .call(BET_PATH, &bet)
        .without_timestamp()
        .send()
        .await;

    assert_eq!(response.status, 401, "body: {}", response.body);
    assert!(
        matches!(response.code(), Some("INVALID_SIGNATURE" | "STALE_REQUEST")),
        "body: {}",
        response.body
    );
    assert!(response.header("X-Wallet-Signature").is_none());
    assert_bet_runs_fresh(&provider, &player, &bet, 1_000).await;
}

#[tokio::test]
async fn a_key_of_one_provider_with_the_secret_of_another_is_invalid_signature() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let other = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);

    let response = provider
        .call(BET_PATH, &bet)
        .signature(SignatureMode::WithSecret(other.secret.clone()))
        .send()
        .await;

    assert_unsigned_auth_failure(&response, "INVALID_SIGNATURE");
    assert_bet_runs_fresh(&provider, &player, &bet, 1_000).await;
}

#[tokio::test]
async fn a_signature_over_another_body_path_or_method_is_invalid_signature() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    let body = serde_json::to_vec(&bet).expect("serialise");
    let timestamp = now_ms();
    let ts = timestamp.to_string();

    let mut cheaper = bet.clone();
    cheaper["amount"] = player.money(1);
    let cheaper_body = serde_json::to_vec(&cheaper).expect("serialise");
    let pretty_body = serde_json::to_vec_pretty(&bet).expect("serialise");
    let forgeries = [
        sign_request(&provider.secret, "POST", BET_PATH, &ts, &cheaper_body),
        sign_request(&provider.secret, "POST", BET_PATH, &ts, &pretty_body),
        sign_request(&provider.secret, "POST", "/wallet/v1/win", &ts, &body),
        sign_request(&provider.secret, "PUT", BET_PATH, &ts, &body),
        sign_request(
            &provider.secret,
            "POST",
            BET_PATH,
            &(timestamp + 1).to_string(),
            &body,
        ),
        sign_request(&provider.secret, "POST", BET_PATH, &ts, b""),
    ];
    for forged in forgeries {
        let response = provider
            .call(BET_PATH, &bet)
            .timestamp_ms(timestamp)
            .signature(SignatureMode::Literal(forged))
            .send()
            .await;
        assert_unsigned_auth_failure(&response, "INVALID_SIGNATURE");
    }

    assert_bet_runs_fresh(&provider, &player, &bet, 1_000).await;
}

#[tokio::test]
async fn the_verifier_hashes_the_raw_bytes_it_received() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    // Whitespace and key order a re-serialising verifier would lose.
    let mut raw = serde_json::to_vec_pretty(&bet).expect("serialise");
    raw.extend_from_slice(b"\n\n");

    let response = provider.call_raw(Method::POST, BET_PATH, raw).send().await;

    response.assert_ok().assert_fresh();
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_stale_request_is_refused_as_retryable_and_changes_nothing() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);

    let past = provider
        .call(BET_PATH, &bet)
        .timestamp_ms(now_ms() - MAX_CLOCK_SKEW_MS - 5_000)
        .send()
        .await;
    assert_unsigned_auth_failure(&past, "STALE_REQUEST");
    let future = provider
        .call(BET_PATH, &bet)
        .timestamp_ms(now_ms() + MAX_CLOCK_SKEW_MS + 5_000)
        .send()
        .await;
    assert_unsigned_auth_failure(&future, "STALE_REQUEST");

    assert_bet_runs_fresh(&provider, &player, &bet, 1_000).await;
}

#[tokio::test]
async fn a_bad_signature_with_a_stale_timestamp_is_invalid_signature() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);

    let response = provider
        .call(BET_PATH, &bet)
        .timestamp_ms(now_ms() - 3_600_000)
        .signature(SignatureMode::WithSecret(fresh_secret()))
        .send()
        .await;

    assert_unsigned_auth_failure(&response, "INVALID_SIGNATURE");
}

#[tokio::test]
async fn a_timestamp_inside_the_window_is_accepted() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;

    let late = provider
        .call(BET_PATH, &player.bet(&player.new_round(), 100))
        .timestamp_ms(now_ms() - 240_000)
        .send()
        .await;
    late.assert_ok();
    let early = provider
        .call(BET_PATH, &player.bet(&player.new_round(), 100))
        .timestamp_ms(now_ms() + 240_000)
        .send()
        .await;
    early.assert_ok();

    provider.assert_balance(&player, 800).await;
}

#[tokio::test]
async fn a_retry_signed_later_of_the_same_transaction_is_a_replay() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    let first = provider
        .call(BET_PATH, &bet)
        .timestamp_ms(now_ms() - 250_000)
        .send()
        .await;
    first.assert_ok().assert_fresh();

    // Re-sending the old attempt as it was is stale ...
    let resent = provider
        .call(BET_PATH, &bet)
        .timestamp_ms(now_ms() - MAX_CLOCK_SKEW_MS - 1_000)
        .send()
        .await;
    assert_unsigned_auth_failure(&resent, "STALE_REQUEST");
    // ... re-signed now, it is the replay of the first answer.
    provider.bet(&bet).await.assert_replay_of(&first);

    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn error_responses_after_authentication_are_signed() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 100).await;
    let ghost = TestPlayer::unknown(&provider, "EUR");
    let round = player.new_round();

    // `send` verifies the response signature of every answer but the two unsigned 401s.
    let declined = provider.bet(&player.bet(&round, 1_000)).await;
    declined.assert_error("INSUFFICIENT_FUNDS");
    assert!(declined.header("X-Wallet-Signature").is_some());
    let mut forged_session = player.bet(&round, 10);
    forged_session["session_token"] = json!(unique_id("forged"));
    provider
        .bet(&forged_session)
        .await
        .assert_error("SESSION_INVALID");
    provider
        .bet(&ghost.bet(&round, 10))
        .await
        .assert_error("PLAYER_NOT_FOUND");
    provider
        .call_raw(Method::POST, BET_PATH, b"{not json".to_vec())
        .send()
        .await
        .assert_error("MALFORMED_REQUEST");
    let bet = player.bet(&round, 10);
    provider.bet(&bet).await.assert_ok();
    let mut conflicting = bet.clone();
    conflicting["amount"] = player.money(20);
    provider
        .bet(&conflicting)
        .await
        .assert_error("IDEMPOTENCY_CONFLICT");

    provider.assert_balance(&player, 90).await;
}

#[tokio::test]
async fn a_response_signature_does_not_verify_with_another_secret() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;

    let response = provider.bet(&player.bet(&player.new_round(), 100)).await;

    let timestamp = response
        .header("X-Wallet-Timestamp")
        .expect("timestamp")
        .to_owned();
    let signature = response.header("X-Wallet-Signature").expect("signature");
    assert_ne!(
        signature,
        sign_response(&fresh_secret(), response.status, &timestamp, &response.raw)
    );
    assert_ne!(
        signature,
        sign_response(&provider.secret, 201, &timestamp, &response.raw)
    );
}

#[tokio::test]
async fn the_clients_request_id_is_echoed_and_a_missing_one_is_generated() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    let request_id = unique_id("attempt");

    // `send` checks that header and body carry the id, and that ours is echoed.
    let ours = provider
        .call(BET_PATH, &bet)
        .request_id(&request_id)
        .send()
        .await;
    ours.assert_ok();
    assert_eq!(ours.body["request_id"], request_id.as_str());

    let generated = provider.bet(&player.bet(&player.new_round(), 100)).await;
    let other_generated = provider.bet(&player.bet(&player.new_round(), 100)).await;
    let generated_id = generated.body["request_id"]
        .as_str()
        .expect("request id")
        .to_owned();
    assert!(!generated_id.is_empty());
    assert_ne!(
        generated.body["request_id"],
        other_generated.body["request_id"]
    );

    let replay_id = unique_id("attempt");
    let replay = provider
        .call(BET_PATH, &bet)
        .request_id(&replay_id)
        .send()
        .await;
    replay.assert_replay_of(&ours);
    assert_eq!(replay.body["request_id"], replay_id.as_str());
    provider.assert_balance(&player, 700).await;
}

#[tokio::test]
async fn the_request_id_is_echoed_on_unsigned_refusals_too() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let request_id = unique_id("attempt");

    let response = provider
        .call(BET_PATH, &player.bet(&player.new_round(), 100))
        .request_id(&request_id)
        .signature(SignatureMode::WithSecret(fresh_secret()))
        .send()
        .await;

    assert_unsigned_auth_failure(&response, "INVALID_SIGNATURE");
    assert_eq!(response.header("X-Request-Id"), Some(request_id.as_str()));
    assert_eq!(response.body["request_id"], request_id.as_str());
}

#[tokio::test]
async fn every_key_of_a_provider_works_and_they_share_one_idempotency_scope() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let second_key = unique_id("key");
    let second_secret = fresh_secret();
    app.operator()
        .put_provider(
            &provider.id,
            &json!({ "name": "rotating", "keys": [
                { "key_id": provider.key_id, "secret": provider.secret },
                { "key_id": second_key, "secret": second_secret },
            ] }),
        )
        .await
        .assert_ok();
    let bet = player.bet(&player.new_round(), 100);

    let first = provider.bet(&bet).await;
    first.assert_ok();
    // The response to the second key's request is signed with the second key's secret.
    let replay = provider
        .call(BET_PATH, &bet)
        .with_key(&second_key, &second_secret)
        .send()
        .await;

    replay.assert_replay_of(&first);
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn replacing_the_key_set_revokes_the_old_keys_at_once() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let new_key = unique_id("key");
    let new_secret = fresh_secret();
    app.operator()
        .put_provider(
            &provider.id,
            &json!({ "name": "rotated", "keys": [ { "key_id": new_key, "secret": new_secret } ] }),
        )
        .await
        .assert_ok();
    let bet = player.bet(&player.new_round(), 100);

    let old = provider.bet(&bet).await;
    assert_unsigned_auth_failure(&old, "INVALID_SIGNATURE");
    let rotated = provider.with_key(&new_key, &new_secret);
    rotated.bet(&bet).await.assert_ok().assert_fresh();

    rotated.assert_balance(&player, 900).await;
    let old_balance = provider
        .post(
            "/wallet/v1/balance",
            &json!({ "player_id": player.id, "currency": player.currency }),
        )
        .await;
    assert_unsigned_auth_failure(&old_balance, "INVALID_SIGNATURE");
}
