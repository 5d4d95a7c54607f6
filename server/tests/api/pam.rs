//! The PAM API for the Valkyrie aggregator (`/pam/valkyrie`, docs/PAM.md): every operation
//! through its success and error cases, replays and concurrent duplicates, on the real
//! server like Valkyrie would call it.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::Staff;
use crate::helpers::*;

const API_KEY: &str = "valkyrie-test-key";

async fn spawn_pam_app() -> TestApp {
    spawn_app_with(|config| config.pam.api_key = Some(API_KEY.to_owned())).await
}

/// Valkyrie's side: the studio's name, the player's session token.
#[derive(Clone)]
struct Valkyrie {
    base_url: String,
    client: reqwest::Client,
    provider_name: String,
    token: String,
    player_id: String,
    game_id: String,
}

/// An answer: HTTP status, body (parsed, and as sent), and the `X-Request-Id` it carried.
struct Reply {
    status: StatusCode,
    body: Value,
    text: String,
    request_id: String,
}

impl Reply {
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert_eq!(self.body["status"], "OK", "{}", self.body);
        &self.body
    }

    fn refused(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["status"], "ERROR", "{}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
        &self.body
    }

    /// The cash balance a transaction's answer (or refusal) carried, as the number's text.
    fn cash(&self) -> String {
        self.number_at(&["transactionResult", "balance", "cashAmount"])
    }

    /// A JSON number of the answer exactly as it was written (`89.50`, not `89.5`).
    fn number_at(&self, path: &[&str]) -> String {
        let mut text = self.text.clone();
        for key in path {
            let object: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {}", self.text));
            text = object
                .get(*key)
                .unwrap_or_else(|| panic!("no {key} in {}", self.text))
                .get()
                .to_owned();
        }
        text
    }
}

impl Valkyrie {
    async fn new(app: &TestApp, provider: &TestProvider, player: &TestPlayer) -> Valkyrie {
        Valkyrie {
            base_url: app.base_url.clone(),
            client: app.client.clone(),
            provider_name: format!("Provider {}", provider.id),
            token: player.session_token.clone(),
            player_id: player.id.clone(),
            game_id: player.game_id.clone(),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        self.send_as(method, path, query, body, Some(API_KEY), Some(&self.token))
            .await
    }

    async fn send_as(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        api_key: Option<&str>,
        token: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}/pam/valkyrie{path}", self.base_url))
            .query(query)
            .header("X-Correlation-ID", unique_id("corr"))
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            );
        if let Some(key) = api_key {
            request = request.bearer_auth(key);
        }
        if let Some(token) = token {
            request = request.header("X-Player-Token", token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body_text(body));
        }
        let response = request.send().await.expect("the PAM call");
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("an answer");
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        Reply {
            status,
            body,
            text,
            request_id,
        }
    }

    fn provider(&self) -> [(&str, &str); 1] {
        [("provider", self.provider_name.as_str())]
    }

    async fn session(&self) -> Reply {
        self.send(Method::GET, "/players/session", &self.provider(), None)
            .await
    }

    async fn refresh(&self) -> Reply {
        self.send(Method::PUT, "/players/session", &self.provider(), None)
            .await
    }

    async fn balance(&self) -> Reply {
        let path = format!("/players/{}/balance", self.player_id);
        self.send(Method::GET, &path, &self.provider(), None).await
    }

    async fn add(&self, transaction: &Value) -> Reply {
        let path = format!("/players/{}/transactions", self.player_id);
        self.send(Method::POST, &path, &self.provider(), Some(transaction))
            .await
    }

    async fn find(&self, by: &str, value: &str) -> Reply {
        let path = format!("/players/{}/transactions", self.player_id);
        let query = [("provider", self.provider_name.as_str()), (by, value)];
        self.send(Method::GET, &path, &query, None).await
    }

    async fn round(&self, round_id: &str) -> Reply {
        let path = format!("/players/{}/gamerounds/{round_id}", self.player_id);
        self.send(Method::GET, &path, &self.provider(), None).await
    }

    /// A PAM transaction as Valkyrie sends it: amounts with six decimals.
    fn transaction(&self, kind: &str, id: &str, round_id: &str, cash: &str) -> Value {
        json!({
            "currency": "EUR",
            "provider": self.provider_name,
            "transactionType": kind,
            "cashAmount": amount(cash),
            "bonusAmount": amount("0.000000"),
            "promoAmount": amount("0.000000"),
            "transactionDateTime": "2026-12-07T10:00:00Z",
            "providerTransactionId": id,
            "providerBetRef": bet_ref(round_id),
            "providerGameId": self.game_id,
            "providerRoundId": round_id,
        })
    }
}

/// The studio's reference for the bets of a round: at most 40 characters, as the PAM's.
fn bet_ref(round_id: &str) -> String {
    format!("b{}", &round_id[round_id.len().saturating_sub(39)..])
}

/// An amount sent as the JSON number text it is written as (`10.500000`, as Valkyrie
/// prints them), not as a float the test's JSON library would print its own way.
fn amount(text: &str) -> Value {
    Value::String(format!("{RAW}{text}"))
}

const RAW: &str = "raw-number:";

/// The body's text, with every [`amount`] unquoted.
fn body_text(body: &Value) -> String {
    let text = body.to_string();
    let marker = format!("\"{RAW}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find(&marker) {
        out.push_str(&rest[..start]);
        let number = &rest[start + marker.len()..];
        let end = number.find('"').expect("a closing quote");
        out.push_str(&number[..end]);
        rest = &number[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn the_api_key_provider_and_session_are_checked_and_sessions_answer_and_refresh() {
    let app = spawn_pam_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let valkyrie = Valkyrie::new(&app, &provider, &player).await;

    // Tokens are 40 hex characters (160 bits), as the PAM's schema allows.
    assert_eq!(valkyrie.token.len(), 40, "{}", valkyrie.token);
    assert!(valkyrie.token.bytes().all(|b| b.is_ascii_hexdigit()));

    let path = "/players/session";
    let query = valkyrie.provider();
    for key in [None, Some("wrong-key")] {
        valkyrie
            .send_as(Method::GET, path, &query, None, key, Some(&valkyrie.token))
            .await
            .refused(401, "PAM_ERR_API_TOKEN");
    }
    valkyrie
        .send(Method::GET, path, &[], None)
        .await
        .refused(400, "PAM_ERR_MISSING_PROVIDER");
    valkyrie
        .send(Method::GET, path, &[("provider", "No Such Studio")], None)
        .await
        .refused(400, "PAM_ERR_MISSING_PROVIDER");
    for token in [None, Some("0123456789abcdef0123456789abcdef01234567")] {
        valkyrie
            .send_as(Method::GET, path, &query, None, Some(API_KEY), token)
            .await
            .refused(401, "PAM_ERR_SESSION_NOT_FOUND");
    }
    // Another studio's session is not this studio's.
    let other = TestProvider::new(&app).await;
    let elsewhere = Valkyrie {
        provider_name: format!("Provider {}", other.id),
        ..valkyrie.clone()
    };
    elsewhere
        .session()
        .await
        .refused(401, "PAM_ERR_SESSION_NOT_FOUND");

    let reply = valkyrie.session().await;
    let session = &reply.ok()["session"];
    assert_eq!(session["playerId"], player.id);
    assert_eq!(session["token"], valkyrie.token);
    assert_eq!(session["currency"], "EUR");
    assert_eq!(session["gameId"], player.game_id);
    assert_eq!(
        (session["country"].as_str(), session["language"].as_str()),
        (Some("MT"), Some("en"))
    );
    // X-Correlation-ID is the request id.
    assert!(reply.request_id.starts_with("corr"), "{}", reply.request_id);

    // The operator sets where the player is and what they read.
    app.operator()
        .put_player(&player.id, &json!({ "country": "SE", "language": "SV" }))
        .await
        .assert_ok();
    for bad in [
        json!({ "country": "se" }),
        json!({ "country": "SWE" }),
        json!({ "language": "e1" }),
    ] {
        app.operator()
            .put_player(&player.id, &bad)
            .await
            .assert_error("MALFORMED_REQUEST");
    }
    let got = app.operator().get_player(&player.id).await;
    assert_eq!(got.body["player"]["country"], "SE", "{}", got.body);
    assert_eq!(got.body["player"]["language"], "sv", "{}", got.body);
    let session = valkyrie.session().await.ok()["session"].clone();
    assert_eq!(
        (session["country"].as_str(), session["language"].as_str()),
        (Some("SE"), Some("sv"))
    );

    // The balance, from the ledger, with no bonus or promo money.
    let balance = valkyrie.balance().await;
    balance.ok();
    assert_eq!(balance.number_at(&["balance", "cashAmount"]), "100.00");
    assert_eq!(balance.number_at(&["balance", "bonusAmount"]), "0.00");
    assert_eq!(balance.number_at(&["balance", "promoAmount"]), "0.00");
    // A token on another player's path is not that player's session.
    let stranger = TestPlayer::with_balance(&provider, "EUR", 100).await;
    Valkyrie {
        player_id: stranger.id.clone(),
        ..valkyrie.clone()
    }
    .balance()
    .await
    .refused(401, "PAM_ERR_SESSION_NOT_FOUND");

    // A refresh: a new token, the same session; the old token stops working.
    let refreshed = valkyrie.refresh().await.ok()["session"].clone();
    let new_token = refreshed["token"].as_str().expect("a token").to_owned();
    assert_eq!(new_token.len(), 40);
    assert_ne!(new_token, valkyrie.token);
    assert_eq!(refreshed["gameId"], player.game_id);
    valkyrie
        .session()
        .await
        .refused(401, "PAM_ERR_SESSION_EXPIRED");
    valkyrie
        .refresh()
        .await
        .refused(401, "PAM_ERR_SESSION_EXPIRED");
    let renewed = Valkyrie {
        token: new_token.clone(),
        ..valkyrie.clone()
    };
    assert_eq!(renewed.session().await.ok()["session"]["token"], new_token);
    // The new token bets; the old one no longer does.
    let round = unique_id("round");
    renewed
        .add(&renewed.transaction("WITHDRAW", &unique_id("tx"), &round, "1.000000"))
        .await
        .ok();
    valkyrie
        .add(&valkyrie.transaction("WITHDRAW", &unique_id("tx"), &round, "1.000000"))
        .await
        .refused(401, "PAM_ERR_SESSION_EXPIRED");
}

#[tokio::test]
async fn withdraws_and_deposits_count_once_and_refusals_carry_the_pam_codes() {
    let app = spawn_pam_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let valkyrie = Valkyrie::new(&app, &provider, &player).await;
    let round = unique_id("round");
    let bet_id = unique_id("tx");

    let withdraw = valkyrie.transaction("WITHDRAW", &bet_id, &round, "10.500000");
    let first = valkyrie.add(&withdraw).await;
    let result = first.ok()["transactionResult"].clone();
    assert_eq!(first.cash(), "89.50");
    let wallet_tx = result["transactionId"].as_str().expect("an id").to_owned();
    // A retry answers the stored result: same transaction, nothing moves again.
    let again = valkyrie.add(&withdraw).await;
    assert_eq!(
        again.ok()["transactionResult"]["transactionId"],
        wallet_tx.as_str()
    );
    assert_eq!(again.cash(), "89.50");
    // The same id for something else is a duplicate.
    let mut changed = withdraw.clone();
    changed["cashAmount"] = amount("11.000000");
    valkyrie
        .add(&changed)
        .await
        .refused(200, "PAM_ERR_DUPLICATE_TRANS");
    let mut moved = withdraw.clone();
    moved["providerRoundId"] = json!(unique_id("round"));
    valkyrie
        .add(&moved)
        .await
        .refused(200, "PAM_ERR_DUPLICATE_TRANS");

    // The round and the lookups.
    let open = valkyrie.round(&round).await.ok()["gameround"].clone();
    assert_eq!(open["providerRoundId"], round.as_str());
    assert_eq!(open["providerGameId"], player.game_id.as_str());
    assert!(
        open["startTime"].as_str().is_some() && open.get("endTime").is_none(),
        "{open}"
    );
    valkyrie
        .round("no-such-round")
        .await
        .refused(200, "PAM_ERR_ROUND_NOT_FOUND");
    let by_id = valkyrie.find("providerTransactionId", &bet_id).await;
    let found = by_id.ok()["transactions"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["transactionType"], "WITHDRAW");
    assert_eq!(found[0]["providerTransactionId"], bet_id.as_str());

    // A deposit settles the round's bets; isGameOver closes it.
    let mut deposit = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &round, "20.000000");
    deposit["isGameOver"] = json!(true);
    let won = valkyrie.add(&deposit).await;
    won.ok();
    assert_eq!(won.cash(), "109.50");
    let by_ref = valkyrie.find("providerBetRef", &bet_ref(&round)).await;
    let types: Vec<String> = by_ref.ok()["transactions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["transactionType"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(types, ["WITHDRAW", "DEPOSIT"]);
    let closed = valkyrie.round(&round).await.ok()["gameround"].clone();
    assert!(closed["endTime"].as_str().is_some(), "{closed}");
    // After the round ended: a deposit is too late, a withdraw is not allowed.
    let late = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &round, "1.00");
    let refused = valkyrie.add(&late).await;
    refused.refused(200, "PAM_ERR_TRANS_ALREADY_SETTLED");
    assert_eq!(refused.cash(), "109.50", "a refusal carries the balance");
    let after = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &round, "1.00");
    valkyrie
        .add(&after)
        .await
        .refused(200, "PAM_ERR_BET_NOT_ALLOWED");

    // A deposit without a bet in its round.
    let orphan = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &unique_id("round"), "1.00");
    let refused = valkyrie.add(&orphan).await;
    refused.refused(200, "PAM_ERR_TRANS_NOT_FOUND");
    assert_eq!(refused.cash(), "109.50");
    // A promo deposit needs no withdraw.
    let promo = valkyrie.transaction(
        "PROMODEPOSIT",
        &unique_id("tx"),
        &unique_id("round"),
        "0.50",
    );
    let paid = valkyrie.add(&promo).await;
    paid.ok();
    assert_eq!(paid.cash(), "110.00");

    // Money the player does not have, or cannot have.
    let fresh = unique_id("round");
    let too_much = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &fresh, "1000.00");
    let refused = valkyrie.add(&too_much).await;
    refused.refused(200, "PAM_ERR_CASH_OVERDRAFT");
    assert_eq!(refused.cash(), "110.00");
    for (field, code) in [
        ("bonusAmount", "PAM_ERR_BONUS_OVERDRAFT"),
        ("promoAmount", "PAM_ERR_PROMO_OVERDRAFT"),
    ] {
        let mut bonus = valkyrie.transaction("PROMOWITHDRAW", &unique_id("tx"), &fresh, "1.00");
        bonus[field] = amount("1.000000");
        valkyrie.add(&bonus).await.refused(200, code);
    }
    let negative = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &fresh, "-1.00");
    valkyrie
        .add(&negative)
        .await
        .refused(200, "PAM_ERR_NEGATIVE_STAKE");
    let mut dollars = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &fresh, "1.00");
    dollars["currency"] = json!("USD");
    valkyrie
        .add(&dollars)
        .await
        .refused(200, "PAM_ERR_TRANS_CURRENCY");
    dollars["currency"] = json!("XXY");
    valkyrie
        .add(&dollars)
        .await
        .refused(200, "PAM_ERR_TRANS_CURRENCY");

    // Bad input: refused, never rounded.
    let fine = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &fresh, "1.005000");
    valkyrie.add(&fine).await.refused(400, "PAM_ERR_UNDEFINED");
    let colon = valkyrie.transaction("WITHDRAW", "has:colon", &fresh, "1.00");
    valkyrie.add(&colon).await.refused(400, "PAM_ERR_UNDEFINED");
    let mut no_round = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &fresh, "1.00");
    no_round
        .as_object_mut()
        .expect("an object")
        .remove("providerRoundId");
    valkyrie
        .add(&no_round)
        .await
        .refused(400, "PAM_ERR_UNDEFINED");
    let mut incomplete = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &fresh, "1.00");
    incomplete
        .as_object_mut()
        .expect("an object")
        .remove("bonusAmount");
    valkyrie
        .add(&incomplete)
        .await
        .refused(400, "PAM_ERR_UNDEFINED");
    valkyrie
        .find("other", "x")
        .await
        .refused(400, "PAM_ERR_UNDEFINED");

    // A blocked player bets no more; what was bet still settles.
    let blocked_round = unique_id("round");
    let bet = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &blocked_round, "5.00");
    valkyrie.add(&bet).await.ok();
    app.operator()
        .put_player(&player.id, &json!({ "status": "BLOCKED" }))
        .await
        .assert_ok();
    let next = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &blocked_round, "5.00");
    valkyrie
        .add(&next)
        .await
        .refused(200, "PAM_ERR_BET_NOT_ALLOWED");
    let settle = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &blocked_round, "7.00");
    let settled = valkyrie.add(&settle).await;
    settled.ok();
    assert_eq!(settled.cash(), "112.00");

    // An unknown player's path.
    Valkyrie {
        player_id: "no-such-player".into(),
        ..valkyrie.clone()
    }
    .balance()
    .await
    .refused(401, "PAM_ERR_SESSION_NOT_FOUND");

    assert_eq!(provider.balance_of(&player).await, 11_200);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn cancels_refund_once_and_a_cancel_before_its_withdraw_voids_it() {
    let app = spawn_pam_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let valkyrie = Valkyrie::new(&app, &provider, &player).await;

    // A cancel refunds the withdraw it names; a retry of it is the same answer.
    let round = unique_id("round");
    let bet_id = unique_id("tx");
    valkyrie
        .add(&valkyrie.transaction("WITHDRAW", &bet_id, &round, "10.00"))
        .await
        .ok();
    let cancel = valkyrie.transaction("CANCEL", &bet_id, &round, "10.00");
    let first = valkyrie.add(&cancel).await;
    first.ok();
    assert_eq!(first.cash(), "100.00");
    let again = valkyrie.add(&cancel).await;
    again.ok();
    assert_eq!(again.cash(), "100.00");
    assert_eq!(
        again.body["transactionResult"]["transactionId"],
        first.body["transactionResult"]["transactionId"]
    );
    // Both, withdraw and cancel, are found by the withdraw's id.
    let found = valkyrie.find("providerTransactionId", &bet_id).await;
    let types: Vec<&str> = found.ok()["transactions"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["transactionType"].as_str())
        .collect();
    assert_eq!(types, ["WITHDRAW", "CANCEL"]);
    // A deposit on the cancelled withdraw's round.
    let deposit = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &round, "5.00");
    valkyrie
        .add(&deposit)
        .await
        .refused(200, "PAM_ERR_TRANS_ALREADY_CANCELLED");

    // A settled withdraw cannot be cancelled.
    let settled_round = unique_id("round");
    let settled_bet = unique_id("tx");
    valkyrie
        .add(&valkyrie.transaction("WITHDRAW", &settled_bet, &settled_round, "3.00"))
        .await
        .ok();
    valkyrie
        .add(&valkyrie.transaction("DEPOSIT", &unique_id("tx"), &settled_round, "4.00"))
        .await
        .ok();
    let refused = valkyrie
        .add(&valkyrie.transaction("CANCEL", &settled_bet, &settled_round, "3.00"))
        .await;
    refused.refused(200, "PAM_ERR_TRANS_ALREADY_SETTLED");
    assert_eq!(refused.cash(), "101.00");

    // Only withdraws are cancelled.
    let deposit_id = unique_id("tx");
    let promo = valkyrie.transaction("PROMODEPOSIT", &deposit_id, &unique_id("round"), "1.00");
    valkyrie.add(&promo).await.ok();
    valkyrie
        .add(&valkyrie.transaction("PROMOCANCEL", &deposit_id, &settled_round, "1.00"))
        .await
        .refused(200, "PAM_ERR_CANCEL_NON_WITHDRAW");

    // A cancel that comes before its withdraw: the PAM's answer, and the wallet still voids
    // the withdraw when it arrives.
    let early_round = unique_id("round");
    let early_bet = unique_id("tx");
    let refused = valkyrie
        .add(&valkyrie.transaction("CANCEL", &early_bet, &early_round, "2.00"))
        .await;
    refused.refused(200, "PAM_ERR_CANCEL_NOT_FOUND");
    assert_eq!(refused.cash(), "102.00");
    let late = valkyrie
        .add(&valkyrie.transaction("WITHDRAW", &early_bet, &early_round, "2.00"))
        .await;
    late.refused(200, "PAM_ERR_TRANS_ALREADY_CANCELLED");
    assert_eq!(late.cash(), "102.00", "the voided withdraw took nothing");

    assert_eq!(provider.balance_of(&player).await, 10_200);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn concurrent_duplicates_of_a_withdraw_move_money_once() {
    let app = spawn_pam_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let valkyrie = Valkyrie::new(&app, &provider, &player).await;
    let round = unique_id("round");
    let withdraw = valkyrie.transaction("WITHDRAW", &unique_id("tx"), &round, "7.25");
    let cancel_id = unique_id("tx");
    let second = valkyrie.transaction("WITHDRAW", &cancel_id, &round, "1.00");
    valkyrie.add(&second).await.ok();
    let cancel = valkyrie.transaction("CANCEL", &cancel_id, &round, "1.00");

    let sends = (0..16).map(|index| {
        let valkyrie = valkyrie.clone();
        let body = if index % 2 == 0 {
            withdraw.clone()
        } else {
            cancel.clone()
        };
        tokio::spawn(async move { valkyrie.add(&body).await })
    });
    let replies = futures::future::join_all(sends).await;
    let mut ids = std::collections::BTreeSet::new();
    for reply in replies {
        let reply = reply.expect("the call");
        reply.ok();
        ids.insert(reply.body["transactionResult"]["transactionId"].to_string());
    }
    assert_eq!(ids.len(), 2, "one withdraw and one cancel: {ids:?}");
    assert_eq!(provider.balance_of(&player).await, 10_000 - 725);
    let count = app
        .query_i64(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM wallet_transactions WHERE player_id = {}",
            quote(&player.id)
        ))
        .await;
    // The adjustment, two withdraws and one cancel.
    assert_eq!(count, 4);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_withdraw_through_the_pam_shows_on_the_trace_page_with_its_pam_bodies() {
    let app = spawn_pam_app().await;
    let admin = Staff::admin(&app).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let valkyrie = Valkyrie::new(&app, &provider, &player).await;
    let bet_id = unique_id("tx");
    let withdraw = valkyrie.transaction("WITHDRAW", &bet_id, &unique_id("round"), "2.50");
    valkyrie.add(&withdraw).await.ok();
    valkyrie.add(&withdraw).await.ok();

    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM attempts WHERE transaction_id = {} \
         AND provider_id = {} AND signature = 'BEARER' AND traceparent IS NOT NULL",
        quote(&bet_id),
        quote(&provider.id)
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.query_i64(&sql).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "attempts not written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let (status, trace) = admin.call("get_trace", &[("query", &bet_id)]).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let transaction = &trace["transactions"][0];
    assert_eq!(transaction["transaction"]["op"], "BET", "{trace}");
    let attempts = transaction["attempts"].as_array().expect("attempts");
    let outcomes: Vec<&str> = attempts
        .iter()
        .filter_map(|a| a["row"]["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["FIRST", "REPLAY"], "{trace}");
    for attempt in attempts {
        assert_eq!(attempt["row"]["protocol"], "PAM (Valkyrie)");
        assert!(attempt["row"]["traceparent"]
            .as_str()
            .is_some_and(|t| t.starts_with("00-")));
        let request = attempt["request_body"].as_str().expect("a request");
        let response = attempt["response_body"].as_str().expect("an answer");
        assert!(
            request.contains("\"transactionType\": \"WITHDRAW\""),
            "{request}"
        );
        assert!(response.contains("\"transactionResult\""), "{response}");
        assert!(response.contains("\"cashAmount\": 97.5"), "{response}");
    }
}

#[tokio::test]
async fn round_transactions_apply_with_their_call_all_or_none() {
    let app = spawn_pam_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let valkyrie = Valkyrie::new(&app, &provider, &player).await;
    let listed = |kind: &str, id: &str, cash: &str| json!({ "transactionType": kind, "providerTransactionId": id, "cashAmount": amount(cash) });

    // A win that brings its round's bets with it: the bets first, then the win.
    let round = unique_id("round");
    let (a, b) = (unique_id("tx"), unique_id("tx"));
    let mut win = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &round, "10.000000");
    win["isGameOver"] = json!(true);
    win["roundTransactions"] = json!([
        listed("WITHDRAW", &a, "5.000000"),
        listed("WITHDRAW", &b, "3.000000"),
    ]);
    let first = valkyrie.add(&win).await;
    first.ok();
    assert_eq!(first.cash(), "102.00");
    let again = valkyrie.add(&win).await;
    again.ok();
    assert_eq!(again.cash(), "102.00");
    assert_eq!(
        again.body["transactionResult"]["transactionId"],
        first.body["transactionResult"]["transactionId"]
    );
    let found = valkyrie.find("providerTransactionId", &a).await;
    let bet = &found.ok()["transactions"][0];
    assert_eq!(bet["transactionType"], "WITHDRAW", "{bet}");
    assert_eq!(bet["providerRoundId"], round.as_str());
    assert!(valkyrie.round(&round).await.ok()["gameround"]["endTime"].is_string());

    // Transactions the wallet already has are replays inside the group.
    let round = unique_id("round");
    let c = unique_id("tx");
    valkyrie
        .add(&valkyrie.transaction("WITHDRAW", &c, &round, "2.00"))
        .await
        .ok();
    let mut win = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &round, "4.00");
    win["roundTransactions"] = json!([listed("WITHDRAW", &c, "2.00")]);
    let paid = valkyrie.add(&win).await;
    paid.ok();
    assert_eq!(paid.cash(), "104.00");

    // One refused transaction of the round: nothing of the call is done.
    let round = unique_id("round");
    let (d, e) = (unique_id("tx"), unique_id("tx"));
    let mut win = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &round, "50.00");
    win["roundTransactions"] = json!([
        listed("WITHDRAW", &d, "1.00"),
        listed("WITHDRAW", &e, "1000.00"),
    ]);
    let refused = valkyrie.add(&win).await;
    let body = refused.refused(200, "PAM_ERR_CASH_OVERDRAFT");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("roundTransactions[1]")),
        "{body}"
    );
    assert_eq!(refused.cash(), "104.00");
    let none = valkyrie.find("providerTransactionId", &d).await;
    assert_eq!(
        none.ok()["transactions"],
        json!([]),
        "the first bet was not kept"
    );
    valkyrie
        .round(&round)
        .await
        .refused(200, "PAM_ERR_ROUND_NOT_FOUND");
    // The same call, once the player can afford it, goes through.
    app.operator()
        .adjust(&player.id, &Operator::credit(100_000, "EUR"))
        .await
        .assert_ok();
    let paid = valkyrie.add(&win).await;
    paid.ok();
    assert_eq!(paid.cash(), "153.00");

    // A listed transaction without an id.
    let mut bad = valkyrie.transaction("DEPOSIT", &unique_id("tx"), &round, "1.00");
    bad["roundTransactions"] = json!([{ "transactionType": "WITHDRAW", "cashAmount": 1 }]);
    valkyrie.add(&bad).await.refused(400, "PAM_ERR_UNDEFINED");

    assert_eq!(provider.balance_of(&player).await, 15_300);
    assert_invariants(&app).await;
}
