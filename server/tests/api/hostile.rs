//! Hostile input over HTTP: thousands of generated requests to every
//! endpoint of the wallet and operator APIs, each wrong in at least one way: malformed
//! or truncated JSON, wrong types, missing and unknown fields, injection payloads in ids
//! and paths, oversized bodies, wrong methods, and perfectly valid money operations that
//! are wrongly signed (bad or missing signature, another key's secret, a body changed
//! after signing, a stale or absurd timestamp) or sent with a wrong operator token. Every
//! answer must be a contract error below 500 (no panic, no 5xx), and nothing may change:
//! no transaction, ledger entry, balance, player, provider, key, session or tombstone.
//!
//! More requests: `ONCEWALLET_HOSTILE_REQUESTS=50000 cargo test -p server --test api
//! hostile:: -- --nocapture`.
use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::node::runs_from_env;

const REQUESTS_SHORT: u32 = 3_000;
const CONCURRENCY: usize = 8;

/// Payloads that must never reach SQL, HTML or a shell as code; each also holds a
/// character outside the id alphabet, so in an id field it is always refused.
const INJECTIONS: &[&str] = &[
    "'; DROP TABLE players;--",
    "\" OR 1=1 --",
    "1; UPDATE players SET balance_minor = 999999",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "${jndi:ldap://127.0.0.1/x}",
    "{{7*7}}",
    "%00%0d%0a",
    "\u{0000}",
    "\u{202e}gnp.exe",
    "=HYPERLINK(\"http://127.0.0.1\")",
    "a\r\nX-Injected: 1",
    "🂡🂱",
    "$(reboot)",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_hostile_requests_get_contract_errors_and_change_nothing() {
    let requests = runs_from_env("ONCEWALLET_HOSTILE_REQUESTS", REQUESTS_SHORT);
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let other = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let round = player.new_round();
    let open_bet = player.bet(&round, 100);
    provider.bet(&open_bet).await.assert_ok();
    let before = snapshot(&app).await;

    let generator = Generator {
        provider: provider.clone(),
        other,
        player,
        round,
        open_bet: tx_id(&open_bet),
        operator_token: app.operator_token.clone(),
    };
    let cases: Vec<Hostile> = {
        let mut rng = StdRng::seed_from_u64(7);
        (0..requests)
            .map(|_| generator.generate(&mut rng))
            .collect()
    };
    let client = reqwest::Client::new();
    let failures: Vec<String> = stream::iter(cases)
        .map(|case| {
            let client = client.clone();
            let base_url = app.base_url.clone();
            async move { send_and_judge(&client, &base_url, case).await }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|verdict| async move { verdict.err() })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of {requests} hostile requests were answered outside the contract, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        snapshot(&app).await,
        before,
        "hostile requests changed state"
    );
    assert_invariants(&app).await;
    // The server still works.
    provider.assert_balance(&generator.player, 9_900).await;
    println!("hostile: {requests} requests, every one refused within the contract");
}

/// One generated request and what it is.
struct Hostile {
    what: &'static str,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Generator {
    provider: TestProvider,
    other: TestProvider,
    player: TestPlayer,
    round: String,
    open_bet: String,
    operator_token: String,
}

const WALLET_POSTS: &[&str] = &[
    "/wallet/v1/balance",
    "/wallet/v1/bet",
    "/wallet/v1/win",
    "/wallet/v1/rollback",
    "/wallet/v1/rounds/close",
    "/wallet/v1/reconciliation/reports",
];

impl Generator {
    fn generate(&self, rng: &mut StdRng) -> Hostile {
        match rng.gen_range(0..10) {
            0..=3 => self.malformed_wallet_body(rng),
            4..=5 => self.wrongly_signed(rng),
            6 => self.hostile_lookup(rng),
            7..=8 => self.hostile_operator(rng),
            _ => self.wrong_method_or_size(rng),
        }
    }

    /// A valid request body for `path`, the base that mutations break.
    fn valid_body(&self, path: &str) -> Value {
        let p = &self.player;
        match path {
            "/wallet/v1/balance" => json!({ "player_id": p.id, "currency": "EUR" }),
            "/wallet/v1/bet" => p.bet(&self.round, 10),
            "/wallet/v1/win" => p.win_for(&self.round, 10, &self.open_bet),
            "/wallet/v1/rollback" => p.rollback(&self.round, &self.open_bet),
            "/wallet/v1/rounds/close" => p.close_round(&self.round),
            _ => json!({ "report_id": unique_id("rep"), "period_start": "2026-01-01T00:00:00Z",
                         "period_end": "2026-01-02T00:00:00Z", "transactions": [] }),
        }
    }

    /// Correctly signed, but the body is wrong in at least one way.
    fn malformed_wallet_body(&self, rng: &mut StdRng) -> Hostile {
        let path = *WALLET_POSTS[..5].choose(rng).expect("paths");
        let mut body = self.valid_body(path);
        let fields: Vec<String> = body.as_object().expect("object").keys().cloned().collect();
        let field = fields.choose(rng).expect("fields").clone();
        let injection = *INJECTIONS.choose(rng).expect("payloads");
        let (what, bytes) = match rng.gen_range(0..9) {
            0 if is_id_field(&field) => ("injection in an id", {
                body[&field] = json!(injection);
                body_bytes(&body)
            }),
            0 | 1 => ("wrong type", {
                body[&field] = wrong_type(rng, &body[&field]);
                body_bytes(&body)
            }),
            2 => ("missing field", {
                let required = required_fields(path);
                let field = required.choose(rng).expect("required");
                body.as_object_mut().expect("object").remove(*field);
                body_bytes(&body)
            }),
            3 => ("unknown field", {
                body[format!("x{}", rng.gen::<u16>())] = json!(injection);
                body_bytes(&body)
            }),
            4 if body.get("amount").is_some() => ("bad amount", {
                body["amount"] = bad_amount(rng);
                body_bytes(&body)
            }),
            4 | 5 => ("truncated JSON", {
                let bytes = body_bytes(&body);
                let cut = rng.gen_range(0..bytes.len());
                bytes[..cut].to_vec()
            }),
            6 => ("not an object", {
                let choices = [
                    json!([body.clone()]),
                    json!(injection),
                    json!(42),
                    Value::Null,
                ];
                body_bytes(choices.choose(rng).expect("choices"))
            }),
            7 => (
                "garbage bytes",
                (0..rng.gen_range(1..512)).map(|_| rng.gen()).collect(),
            ),
            _ => ("metadata not an object", {
                body["metadata"] = json!(injection);
                body_bytes(&body)
            }),
        };
        self.signed(what, Method::POST, path, bytes)
    }

    /// A valid money operation or lookup, wrongly signed.
    fn wrongly_signed(&self, rng: &mut StdRng) -> Hostile {
        let path = *WALLET_POSTS.choose(rng).expect("paths");
        let body = body_bytes(&self.valid_body(path));
        let now = now_ms();
        let good = |timestamp: i64, body: &[u8]| {
            sign_request(
                &self.provider.secret,
                "POST",
                path,
                &timestamp.to_string(),
                body,
            )
        };
        let mut key_id = self.provider.key_id.clone();
        let mut timestamp = now.to_string();
        let mut signature = good(now, &body);
        let mut sent = body.clone();
        let what = match rng.gen_range(0..9) {
            0 => {
                signature = format!("v1={}", "0".repeat(64));
                "a wrong signature"
            }
            1 => {
                signature = sign_request(&self.other.secret, "POST", path, &timestamp, &body);
                "another provider's secret"
            }
            2 => {
                key_id = self.other.key_id.clone();
                "another provider's key id"
            }
            3 => {
                sent.push(b' ');
                "a body changed after signing"
            }
            4 => {
                timestamp = (now - 301_000).to_string();
                signature = good(now - 301_000, &body);
                "a stale timestamp"
            }
            5 => {
                timestamp = (*["", "-1", "1e12", "99999999999999999999999", "now", "０"]
                    .choose(rng)
                    .expect("timestamps"))
                .to_owned();
                "an absurd timestamp"
            }
            6 => {
                // Only payloads that can travel in a header at all.
                key_id = (*INJECTIONS
                    .iter()
                    .filter(|p| reqwest::header::HeaderValue::from_str(p).is_ok())
                    .collect::<Vec<_>>()
                    .choose(rng)
                    .expect("payloads"))
                .to_string();
                "an injected key id"
            }
            7 => {
                signature = signature.replace(
                    "v1=",
                    ["v2=", "", "V1=", "v1= "].choose(rng).expect("prefixes"),
                );
                "a mangled signature prefix"
            }
            _ => {
                return Hostile {
                    what: "no signature headers",
                    method: Method::POST,
                    path: path.to_owned(),
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body,
                }
            }
        };
        Hostile {
            what,
            method: Method::POST,
            path: path.to_owned(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Wallet-Key-Id".into(), key_id),
                ("X-Wallet-Timestamp".into(), timestamp),
                ("X-Wallet-Signature".into(), signature),
            ],
            body: sent,
        }
    }

    /// Signed GETs with hostile path segments and query strings.
    fn hostile_lookup(&self, rng: &mut StdRng) -> Hostile {
        let segment = encode(INJECTIONS.choose(rng).expect("payloads"));
        let path = match rng.gen_range(0..4) {
            0 => format!("/wallet/v1/transactions/{segment}"),
            1 => format!("/wallet/v1/rounds/{segment}?player_id={}", self.player.id),
            2 => format!("/wallet/v1/rounds/{}?player_id={segment}", self.round),
            _ => {
                let params = [
                    format!(
                        "limit={}",
                        ["-1", "0", "1001", "1e3", "abc", "99999999999999999999"]
                            .choose(rng)
                            .expect("limits")
                    ),
                    format!("from={segment}"),
                    format!("cursor={segment}"),
                ];
                format!(
                    "/wallet/v1/transactions?{}",
                    params.choose(rng).expect("params")
                )
            }
        };
        self.signed("hostile lookup", Method::GET, &path, Vec::new())
    }

    /// Operator calls: valid calls without the right token, or the right token with
    /// broken bodies or hostile ids in the path.
    fn hostile_operator(&self, rng: &mut StdRng) -> Hostile {
        let injection = *INJECTIONS.choose(rng).expect("payloads");
        let player = &self.player.id;
        let valid: [(Method, String, Value); 4] = [
            (
                Method::PUT,
                format!("/operator/v1/players/{}", unique_id("new")),
                json!({ "currency": "EUR" }),
            ),
            (
                Method::POST,
                format!("/operator/v1/players/{player}/adjustments"),
                json!({ "adjustment_id": unique_id("adj"), "direction": "CREDIT", "amount": money(100, "EUR"), "reason": "x" }),
            ),
            (
                Method::PUT,
                format!("/operator/v1/providers/{}", unique_id("prov")),
                json!({ "name": "x", "keys": [ { "key_id": unique_id("k"), "secret": fresh_secret() } ] }),
            ),
            (
                Method::POST,
                "/operator/v1/sessions".to_owned(),
                json!({ "player_id": player, "provider_id": self.provider.id, "game_id": "g" }),
            ),
        ];
        let (method, path, mut body) = valid.choose(rng).expect("calls").clone();
        let right = Some(self.operator_token.clone());
        match rng.gen_range(0..6) {
            0 => self.operator(
                "a valid operator call without a token",
                method,
                &path,
                body_bytes(&body),
                None,
            ),
            1 => {
                let wrong = Some(format!("{}x", self.operator_token));
                self.operator(
                    "a valid operator call with a wrong token",
                    method,
                    &path,
                    body_bytes(&body),
                    wrong,
                )
            }
            2 => {
                let segment = encode(injection);
                let refund = json!({ "refund_id": unique_id("rf"), "reason": "x" });
                let (method, path, body) = [
                    (
                        Method::PUT,
                        format!("/operator/v1/players/{segment}"),
                        json!({ "currency": "EUR" }),
                    ),
                    (
                        Method::GET,
                        format!("/operator/v1/players/{segment}"),
                        Value::Null,
                    ),
                    (
                        Method::POST,
                        format!("/operator/v1/players/{segment}/adjustments"),
                        body.clone(),
                    ),
                    (
                        Method::PUT,
                        format!("/operator/v1/providers/{segment}"),
                        json!({ "name": "x", "keys": [] }),
                    ),
                    (
                        Method::POST,
                        format!("/operator/v1/providers/{segment}/transactions/{segment}/refund"),
                        refund,
                    ),
                    (
                        Method::GET,
                        format!("/operator/v1/discrepancies/{segment}"),
                        Value::Null,
                    ),
                ]
                .choose(rng)
                .expect("calls")
                .clone();
                let bytes = if body.is_null() {
                    Vec::new()
                } else {
                    body_bytes(&body)
                };
                self.operator(
                    "a hostile id in an operator path",
                    method,
                    &path,
                    bytes,
                    right,
                )
            }
            3 => {
                let fields: Vec<String> =
                    body.as_object().expect("object").keys().cloned().collect();
                let field = fields.choose(rng).expect("fields").clone();
                body[&field] = wrong_type(rng, &body[&field]);
                self.operator(
                    "an operator body with a wrong type",
                    method,
                    &path,
                    body_bytes(&body),
                    right,
                )
            }
            4 => {
                body[format!("x{}", rng.gen::<u16>())] = json!(injection);
                self.operator(
                    "an operator body with an unknown field",
                    method,
                    &path,
                    body_bytes(&body),
                    right,
                )
            }
            _ => {
                let bytes = body_bytes(&body);
                let cut = rng.gen_range(0..bytes.len());
                self.operator(
                    "a truncated operator body",
                    method,
                    &path,
                    bytes[..cut].to_vec(),
                    right,
                )
            }
        }
    }

    /// Wrong methods, unknown paths, and bodies past the limits.
    fn wrong_method_or_size(&self, rng: &mut StdRng) -> Hostile {
        match rng.gen_range(0..4) {
            0 => {
                let path = *WALLET_POSTS.choose(rng).expect("paths");
                let method = [Method::GET, Method::PUT, Method::DELETE, Method::PATCH]
                    .choose(rng)
                    .expect("methods")
                    .clone();
                self.signed(
                    "a wrong method",
                    method,
                    path,
                    body_bytes(&self.valid_body(path)),
                )
            }
            1 => {
                let path = format!(
                    "/wallet/v1/{}",
                    encode(INJECTIONS.choose(rng).expect("payloads"))
                );
                self.signed(
                    "an unknown wallet path",
                    Method::POST,
                    &path,
                    b"{}".to_vec(),
                )
            }
            2 => {
                let path = *WALLET_POSTS[..5].choose(rng).expect("paths");
                let mut body = self.valid_body(path);
                body["metadata"] = json!({ "pad": "x".repeat(rng.gen_range(65..200) * 1024) });
                self.signed("an oversized body", Method::POST, path, body_bytes(&body))
            }
            _ => {
                let path = *WALLET_POSTS[..5].choose(rng).expect("paths");
                let mut body = self.valid_body(path);
                body["metadata"] = json!({ "pad": "x".repeat(4097) });
                self.signed("metadata over 4 KiB", Method::POST, path, body_bytes(&body))
            }
        }
    }

    fn signed(&self, what: &'static str, method: Method, path: &str, body: Vec<u8>) -> Hostile {
        let timestamp = now_ms().to_string();
        let signature = sign_request(
            &self.provider.secret,
            method.as_str(),
            path,
            &timestamp,
            &body,
        );
        Hostile {
            what,
            method,
            path: path.to_owned(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Wallet-Key-Id".into(), self.provider.key_id.clone()),
                ("X-Wallet-Timestamp".into(), timestamp),
                ("X-Wallet-Signature".into(), signature),
            ],
            body,
        }
    }

    fn operator(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        body: Vec<u8>,
        token: Option<String>,
    ) -> Hostile {
        let mut headers = vec![("Content-Type".into(), "application/json".into())];
        if let Some(token) = token {
            headers.push(("Authorization".into(), format!("Bearer {token}")));
        }
        Hostile {
            what,
            method,
            path: path.to_owned(),
            headers,
            body,
        }
    }
}

fn is_id_field(field: &str) -> bool {
    field.ends_with("_id") && field != "session_token"
}

fn required_fields(path: &str) -> Vec<&'static str> {
    match path {
        "/wallet/v1/balance" => vec!["player_id", "currency"],
        "/wallet/v1/bet" => vec![
            "transaction_id",
            "player_id",
            "round_id",
            "game_id",
            "session_token",
            "amount",
        ],
        "/wallet/v1/win" => vec!["transaction_id", "player_id", "game_id", "amount"],
        "/wallet/v1/rollback" => vec![
            "transaction_id",
            "player_id",
            "round_id",
            "game_id",
            "target_transaction_id",
        ],
        _ => vec!["transaction_id", "player_id", "round_id", "game_id"],
    }
}

fn wrong_type(rng: &mut StdRng, current: &Value) -> Value {
    let choices = [
        json!(12345),
        json!(-1.5),
        json!(true),
        json!([current.clone()]),
        json!({ "nested": current.clone() }),
        json!(1e308),
    ];
    let choice = choices.choose(rng).expect("choices").clone();
    if choice.is_object() && current.is_object() {
        // An object for an object could be valid; a number never is.
        json!(0)
    } else {
        choice
    }
}

fn bad_amount(rng: &mut StdRng) -> Value {
    let choices = [
        json!({ "value": "-100", "currency": "EUR", "scale": 2 }),
        json!({ "value": "1.5", "currency": "EUR", "scale": 2 }),
        json!({ "value": "1000000000000000000", "currency": "EUR", "scale": 2 }),
        json!({ "value": "100", "currency": "EUR", "scale": 3 }),
        json!({ "value": "100", "currency": "XXX", "scale": 2 }),
        json!({ "value": 100, "currency": "EUR", "scale": 2 }),
        json!({ "value": "100", "currency": "EUR", "scale": -2 }),
        json!({ "value": "100", "currency": "EUR" }),
        json!({ "value": "100", "currency": "'; DROP TABLE players;--", "scale": 2 }),
        json!("100 EUR"),
    ];
    choices.choose(rng).expect("choices").clone()
}

fn body_bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).expect("serialise")
}

/// Percent-encodes everything but the id alphabet, so any payload makes a valid URL.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const CONTRACT_CODES: &[&str] = &[
    "INVALID_SIGNATURE",
    "STALE_REQUEST",
    "MALFORMED_REQUEST",
    "INVALID_AMOUNT",
    "UNAUTHORIZED",
    "NOT_FOUND",
    "PLAYER_NOT_FOUND",
];

/// Sends one hostile request; `Err` describes an answer outside the contract.
async fn send_and_judge(
    client: &reqwest::Client,
    base_url: &str,
    case: Hostile,
) -> Result<(), String> {
    let mut request = client.request(case.method.clone(), format!("{base_url}{}", case.path));
    for (name, value) in &case.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let label = format!("{} ({} {})", case.what, case.method, case.path);
    let response = request
        .body(case.body)
        .send()
        .await
        .map_err(|e| format!("{label}: no answer: {e}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| format!("{label}: {e}"))?;
    let body: Value = serde_json::from_str(&text)
        .map_err(|_| format!("{label}: {status} with a body that is not JSON: {text:.200}"))?;
    let code = body["error"]["code"].as_str().unwrap_or("-");
    let judged = (400..500).contains(&status)
        && body["status"] == "ERROR"
        && CONTRACT_CODES.contains(&code)
        && body["error"]["retryable"] == (code == "STALE_REQUEST")
        && (status == expected_status_and_retryable(code).0
            || (matches!(status, 405 | 413) && code == "MALFORMED_REQUEST"));
    if judged {
        Ok(())
    } else {
        Err(format!("{label}: {status} {text:.300}"))
    }
}

/// Everything the hostile requests must leave alone.
async fn snapshot(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let mut counts = BTreeMap::new();
    for (name, sql) in [
        (
            "transactions",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM wallet_transactions",
        ),
        (
            "ledger entries",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ledger_entries",
        ),
        (
            "balances",
            "SELECT CAST(COALESCE(SUM(balance_minor), 0) AS BIGINT) AS n FROM players",
        ),
        (
            "players",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM players",
        ),
        (
            "providers",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM providers",
        ),
        (
            "keys",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM provider_keys",
        ),
        (
            "sessions",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM game_sessions",
        ),
        (
            "tombstones",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM tombstones",
        ),
        ("rounds", "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM rounds"),
        (
            "reports",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM provider_reports",
        ),
    ] {
        counts.insert(name, app.query_i64(sql).await);
    }
    counts
}

/// `WALLET_RATE_LIMIT_PER_KEY`: past its burst a key gets signed `429 RATE_LIMITED`
/// answers (retryable, with `Retry-After`) that change nothing, while another provider's
/// key goes on unhindered.
#[tokio::test]
async fn a_key_past_its_rate_limit_gets_retryable_429s_and_other_keys_do_not() {
    let database = crate::node::TestDatabase::fresh().await;
    let mut node =
        crate::node::Node::start(&database.url, &[("WALLET_RATE_LIMIT_PER_KEY", "1/5")]).await;
    let busy = crate::node::Provider::register(&node.base_url).await;
    let calm = crate::node::Provider::register(&node.base_url).await;
    let player_id = unique_id("pl");
    let session = busy.player(&node.base_url, &player_id, 1_000).await;
    let bet = json!({ "transaction_id": unique_id("bet"), "player_id": player_id, "round_id": "r-1",
                      "game_id": busy.game_id, "session_token": session, "amount": money(100, "EUR") });
    let bet = body_bytes(&bet);

    let mut statuses = Vec::new();
    for _ in 0..12 {
        let response = busy
            .attempt(&node.base_url, Method::POST, "/wallet/v1/bet", &bet, None)
            .await
            .expect("an answer");
        if response.status == 429 {
            response.assert_error("RATE_LIMITED");
            let retry_after: u64 = response
                .header("Retry-After")
                .and_then(|v| v.parse().ok())
                .expect("Retry-After in seconds");
            assert!((1..=5).contains(&retry_after), "Retry-After {retry_after}");
        } else {
            assert_eq!(response.status, 200, "{}", response.body);
        }
        statuses.push(response.status);
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        (6..=7).contains(&limited),
        "a burst of 5 at 1/s lets 5–6 of 12 quick requests through: {statuses:?}"
    );
    let other_player = unique_id("pl");
    calm.player(&node.base_url, &other_player, 0).await;
    let balance = body_bytes(&json!({ "player_id": other_player, "currency": "EUR" }));
    let response = calm
        .attempt(
            &node.base_url,
            Method::POST,
            "/wallet/v1/balance",
            &balance,
            None,
        )
        .await
        .expect("an answer");
    assert_eq!(
        response.status, 200,
        "another key is not limited: {}",
        response.body
    );
    node.terminate().await;

    // The bet executed once however many copies were refused.
    let db = database.connect().await;
    assert_invariants_on(&db).await;
    let balance: i64 = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT balance_minor FROM players WHERE id = {}",
                quote(&player_id)
            ),
        ))
        .await
        .expect("query")
        .expect("the player")
        .try_get("", "balance_minor")
        .expect("balance");
    assert_eq!(balance, 900);
}

const CONSOLE_FUNCTIONS: &[&str] = &[
    "current_viewer",
    "get_overview",
    "get_feed",
    "get_trace",
    "search_transactions",
    "get_pending",
    "refund_orphan",
    "acknowledge_finding",
    "resolve_finding",
    "get_reconciliation",
    "run_reconciliation_now",
    "list_players",
    "get_player",
    "set_player_blocked",
    "get_audit",
    "list_users",
    "create_user",
    "set_user_role",
    "set_user_disabled",
    "no_such_function",
];

/// The console's surface gets the same treatment without a valid session: server
/// functions, downloads, uploads, sign-in and pages, with hostile forms, forged or
/// planted session cookies and cross-site origins. Nothing answers 5xx, nobody gets in,
/// and no staff user, session or money changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_requests_to_the_console_never_get_a_5xx_or_in() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let before = snapshot(&app).await;
    let staff_before = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_users")
        .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let mut failures = Vec::new();
    for _ in 0..600 {
        let injection = *INJECTIONS.choose(&mut rng).expect("payloads");
        let (method, path) = match rng.gen_range(0..6) {
            0..=2 => (
                Method::POST,
                format!(
                    "/api/{}",
                    CONSOLE_FUNCTIONS.choose(&mut rng).expect("functions")
                ),
            ),
            3 => (Method::POST, "/auth/login".to_owned()),
            4 => (
                Method::GET,
                format!("/console/export.csv?q={}", encode(injection)),
            ),
            _ => (
                Method::GET,
                format!(
                    "/{}/{}",
                    ["tx", "players", "search", "x"]
                        .choose(&mut rng)
                        .expect("pages"),
                    encode(injection)
                ),
            ),
        };
        let mut request = client.request(method.clone(), format!("{}{path}", app.base_url));
        let form: Vec<(String, String)> = (0..rng.gen_range(0..5))
            .map(|_| {
                let name = [
                    "username",
                    "password",
                    "next",
                    "player_id",
                    "blocked",
                    "query",
                    "refund_id",
                    "role",
                    "filter[provider_id]",
                    "x",
                ]
                .choose(&mut rng)
                .expect("names");
                let value = if rng.gen_bool(0.1) {
                    "p".repeat(5000)
                } else {
                    injection.to_owned()
                };
                ((*name).to_owned(), value)
            })
            .collect();
        if method == Method::POST {
            request = if rng.gen_bool(0.8) {
                request.form(&form)
            } else {
                request.header("Content-Type", "application/json").body(
                    (0..rng.gen_range(0..300))
                        .map(|_| rng.gen::<u8>())
                        .collect::<Vec<u8>>(),
                )
            };
        }
        request = match rng.gen_range(0..3) {
            0 => request.header("Origin", app.base_url.as_str()),
            1 => request
                .header("Origin", "http://evil.example")
                .header("Sec-Fetch-Site", "cross-site"),
            _ => request,
        };
        if rng.gen_bool(0.5) {
            let id = if rng.gen_bool(0.5) {
                unique_id("forged")
            } else {
                encode(injection)
            };
            request = request.header("Cookie", format!("oncewallet_session={id}"));
        }
        let label = format!("{method} {path}");
        match request.send().await {
            Ok(response) if response.status().as_u16() >= 500 => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                failures.push(format!("{label} {form:?}: {status} {text:.200}"));
            }
            Ok(response)
                if path.starts_with("/api/")
                    && path != "/api/current_viewer"
                    && response.status().is_success() =>
            {
                failures.push(format!("{label}: {} without a session", response.status()))
            }
            Ok(_) => {}
            Err(error) => failures.push(format!("{label}: no answer: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} console requests answered outside the rules:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        snapshot(&app).await,
        before,
        "hostile console requests changed state"
    );
    assert_eq!(
        app.query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_users")
            .await,
        staff_before
    );
    provider.assert_balance(&player, 1_000).await;
    println!("console: 600 hostile requests, none got in, none answered 5xx");
}
