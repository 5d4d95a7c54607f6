//! Events out (docs/EVENTS.md): webhook subscriptions in the operator API, `money.moved`
//! for every committed movement and nothing else, signed deliveries, per-player order
//! through refusals and a receiver that is down, dead events and their redelivery, a
//! CRITICAL finding reaching a `finding.opened` subscriber within one run, and the kill
//! test: the wallet SIGKILLed under mixed load while a receiver refuses a third of what
//! it gets (one process on SQLite, three on PostgreSQL).
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use rand::Rng;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{quote, spawn_app, spawn_app_with, tx_id, TestApp, TestPlayer, TestProvider};

const SECRET: &str = "whsec-test-0123456789abcdef0123456789";

// ----------------------------------------------------------------------------------
// A receiver
// ----------------------------------------------------------------------------------

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub event_id: String,
    pub body: Vec<u8>,
    pub event: Value,
    /// The signature verified (independently of the server's code: HMAC-SHA256 over
    /// `"<t>.<body>"`, `t` within 5 minutes).
    pub verified: bool,
    /// Answered 2xx.
    pub accepted: bool,
}

#[derive(Default)]
struct ReceiverState {
    arrivals: Mutex<Vec<Arrival>>,
    /// Percent of deliveries refused with a 500, at random.
    refuse_percent: AtomicU32,
    /// Every delivery refused with a 503.
    down: AtomicBool,
}

/// A webhook receiver on a free local port that records every delivery.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let handler_state = Arc::clone(&state);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&handler_state);
                async move { receive(&state, &headers, &body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, state }
    }

    pub fn refuse_percent(&self, percent: u32) {
        self.state.refuse_percent.store(percent, Ordering::Relaxed);
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::Relaxed);
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.state.arrivals.lock().unwrap().clone()
    }

    /// The events acknowledged, first acknowledgement of each, in arrival order.
    pub fn accepted(&self) -> Vec<Arrival> {
        let mut seen = HashSet::new();
        self.arrivals()
            .into_iter()
            .filter(|a| a.accepted && seen.insert(a.event_id.clone()))
            .collect()
    }

    /// Waits until `done` holds for the acknowledged events.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Arrival]) -> bool) -> Vec<Arrival> {
        self.wait_within(Duration::from_secs(90), what, done).await
    }

    pub async fn wait_within(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&[Arrival]) -> bool,
    ) -> Vec<Arrival> {
        let deadline = Instant::now() + limit;
        loop {
            let accepted = self.accepted();
            if done(&accepted) {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {what}; {} events acknowledged",
                accepted.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn receive(state: &ReceiverState, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let verified = verify(&header("oncewallet-signature"), body);
    let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let status = if state.down.load(Ordering::Relaxed) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if rand::thread_rng().gen_range(0..100) < state.refuse_percent.load(Ordering::Relaxed) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    state.arrivals.lock().unwrap().push(Arrival {
        event_id: header("oncewallet-event-id"),
        body: body.to_vec(),
        event,
        verified,
        accepted: status.is_success(),
    });
    status
}

/// docs/EVENTS.md, "Verifying a delivery".
fn verify(header: &str, body: &[u8]) -> bool {
    let fields: HashMap<&str, &str> = header
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .collect();
    let (Some(t), Some(v1)) = (fields.get("t"), fields.get("v1")) else {
        return false;
    };
    let Ok(t_secs) = t.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - t_secs).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&expected).is_ok()
}

/// Subscribes `url` on the server at `base_url` (whose operator token is `token`).
pub async fn subscribe(base_url: &str, token: &str, id: &str, url: &str, types: Value) {
    let answer = reqwest::Client::new()
        .put(format!("{base_url}/operator/v1/webhooks/{id}"))
        .bearer_auth(token)
        .json(&json!({ "url": url, "secret": SECRET, "types": types }))
        .send()
        .await
        .expect("send the subscription");
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap_or_default();
    assert_eq!(status, 200, "subscribing: {body}");
}

/// A receiver subscribed as `id` to `types` on `app`.
pub async fn subscribed_receiver(app: &TestApp, id: &str, types: Value) -> Receiver {
    let receiver = Receiver::start().await;
    subscribe(&app.base_url, &app.operator_token, id, &receiver.url, types).await;
    receiver
}

async fn webhook(app: &TestApp, id: &str) -> Value {
    let answer = app
        .operator()
        .request(Method::GET, &format!("/operator/v1/webhooks/{id}"), None)
        .await;
    answer.assert_ok();
    answer.body["webhook"].clone()
}

fn data(arrival: &Arrival) -> &Value {
    &arrival.event["data"]
}

// ----------------------------------------------------------------------------------
// Subscriptions
// ----------------------------------------------------------------------------------

#[tokio::test]
async fn subscriptions_are_checked_never_show_their_secret_and_can_be_deleted() {
    let app = spawn_app().await;
    let operator = app.operator();
    let put = |id: &str, body: Value| {
        let operator = operator.clone();
        let path = format!("/operator/v1/webhooks/{id}");
        async move { operator.request(Method::PUT, &path, Some(&body)).await }
    };
    let good = json!({ "url": "https://crm.example.com/hook", "secret": SECRET, "types": ["*"] });
    for (body, field) in [
        (
            json!({ "url": "ftp://x/", "secret": SECRET, "types": ["*"] }),
            "url",
        ),
        (
            json!({ "url": "not a url", "secret": SECRET, "types": ["*"] }),
            "url",
        ),
        (
            json!({ "url": "https://x/", "secret": "short", "types": ["*"] }),
            "secret",
        ),
        (
            json!({ "url": "https://x/", "secret": SECRET, "types": ["money.spent"] }),
            "types",
        ),
        (
            json!({ "url": "https://x/", "secret": SECRET, "types": [] }),
            "types",
        ),
        (json!({ "url": "https://x/", "secret": SECRET }), "types"),
        (
            json!({ "url": "https://x/", "secret": SECRET, "types": ["*", "*", "*", "*", "*"] }),
            "types",
        ),
    ] {
        let answer = put("crm", body.clone()).await;
        answer.assert_error("MALFORMED_REQUEST");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "{body}: {}",
            answer.body
        );
    }
    put("bad id!", good.clone())
        .await
        .assert_error("MALFORMED_REQUEST");

    let created = put("crm", good.clone()).await;
    created.assert_ok();
    let view = &created.body["webhook"];
    assert_eq!(view["webhook_id"], "crm");
    assert_eq!(view["types"], json!(["*"]));
    assert_eq!(view["enabled"], true);
    assert_eq!(view["stats"]["delivered"], 0);
    let text = String::from_utf8_lossy(&created.raw);
    assert!(
        !text.contains(SECRET),
        "the secret is never returned: {text}"
    );
    let replaced = put(
        "crm",
        json!({ "url": "https://crm.example.com/v2", "secret": SECRET, "types": ["finding.opened"], "enabled": false }),
    )
    .await;
    replaced.assert_ok();
    assert_eq!(replaced.body["webhook"]["types"], json!(["finding.opened"]));
    assert_eq!(replaced.body["webhook"]["enabled"], false);
    assert_eq!(replaced.body["webhook"]["created_at"], view["created_at"]);

    let all = put(
        "all",
        json!({ "url": "https://x.example/", "secret": SECRET, "types": ["money.moved", "*", "*"] }),
    )
    .await;
    all.assert_ok();
    assert_eq!(
        all.body["webhook"]["types"],
        json!(["*"]),
        "* covers the rest"
    );
    operator
        .request(Method::DELETE, "/operator/v1/webhooks/all", None)
        .await
        .assert_ok();
    let list = operator
        .request(Method::GET, "/operator/v1/webhooks", None)
        .await;
    list.assert_ok();
    assert_eq!(list.body["webhooks"].as_array().map(Vec::len), Some(1));
    assert!(!String::from_utf8_lossy(&list.raw).contains(SECRET));
    // The attempt log is written in the background: wait for the PUT's record.
    let deadline = Instant::now() + Duration::from_secs(30);
    while app
        .query_i64("SELECT COUNT(*) AS n FROM attempts WHERE request_body LIKE '%crm.example.com%'")
        .await
        == 0
    {
        assert!(Instant::now() < deadline, "the PUT was never logged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logged = app
        .query_i64(&format!(
            "SELECT COUNT(*) AS n FROM attempts WHERE request_body LIKE {}",
            quote(&format!("%{SECRET}%"))
        ))
        .await;
    assert_eq!(logged, 0, "the secret is not in the attempt log");

    operator
        .request(Method::DELETE, "/operator/v1/webhooks/crm", None)
        .await
        .assert_ok();
    operator
        .request(Method::GET, "/operator/v1/webhooks/crm", None)
        .await
        .assert_error("NOT_FOUND");
    operator
        .request(Method::DELETE, "/operator/v1/webhooks/crm", None)
        .await
        .assert_error("NOT_FOUND");
}

// ----------------------------------------------------------------------------------
// money.moved
// ----------------------------------------------------------------------------------

/// PostgreSQL numbers committed events in a pass of its own (`events::outbox::number`);
/// until it has, an event has no position, and the subscription's stats (and `/metrics`'
/// lag) must count it as pending all the same. The pass is held off here by taking its
/// advisory lock.
#[tokio::test]
async fn an_event_not_numbered_yet_is_pending() {
    use sea_orm::{ConnectOptions, ConnectionTrait, Database};
    let app = spawn_app().await;
    if !app.database_url.starts_with("postgres") {
        return; // SQLite's events are in order by id, with nothing to number.
    }
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    // The deposit's event numbered before the subscription starts after it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = app
            .db
            .query_one(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM outbox_events WHERE position IS NULL",
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the outbox was never numbered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receiver = subscribed_receiver(&app, "warehouse", json!(["money.moved"])).await;
    let mut options = ConnectOptions::new(app.database_url.clone());
    options.max_connections(1).min_connections(1);
    let holder = Database::connect(options).await.unwrap();
    let numbering_lock =
        |call: &str| format!("SELECT {call}({})", server::events::outbox::NUMBERING_LOCK);
    holder
        .execute_unprepared(&numbering_lock("pg_advisory_lock"))
        .await
        .unwrap();

    let round = player.new_round();
    provider.bet(&player.bet(&round, 300)).await.assert_ok();
    tokio::time::sleep(Duration::from_millis(600)).await; // a delivery round or two
    let stats = webhook(&app, "warehouse").await["stats"].clone();
    assert_eq!(stats["pending"], 1, "{stats}");
    assert!(
        stats["oldest_pending_age_seconds"].as_f64().unwrap() > 0.0,
        "{stats}"
    );
    assert!(
        receiver.arrivals().is_empty(),
        "sent before it was numbered"
    );

    holder
        .execute_unprepared(&numbering_lock("pg_advisory_unlock"))
        .await
        .unwrap();
    let arrived = receiver
        .wait_for("the bet's event", |accepted| !accepted.is_empty())
        .await;
    assert_eq!(data(&arrived[0])["op"], "BET");
    let deadline = Instant::now() + Duration::from_secs(10);
    while webhook(&app, "warehouse").await["stats"]["pending"] != 0 {
        assert!(Instant::now() < deadline, "still pending after delivery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_movement_is_one_signed_event_in_order_and_nothing_else_is() {
    let app = spawn_app().await;
    let receiver = subscribed_receiver(&app, "crm", json!(["money.moved"])).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await; // 1: deposit
    let round = player.new_round();
    let bet = player.bet(&round, 300);
    provider.bet(&bet).await.assert_ok(); // 2: bet
    provider.bet(&bet).await.assert_ok(); // a replay: nothing
    provider
        .bet(&player.bet(&round, 5_000))
        .await
        .assert_error("INSUFFICIENT_FUNDS"); // declined: nothing
    provider.win(&player.win(&round, 450)).await.assert_ok(); // 3: win
    let round2 = player.new_round();
    let bet2 = player.bet(&round2, 100);
    provider.bet(&bet2).await.assert_ok(); // 4: bet
    provider
        .rollback(&player.rollback(&round2, &tx_id(&bet2)))
        .await
        .assert_ok(); // 5: rollback

    receiver
        .wait_for("five events", |accepted| accepted.len() >= 5)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events: Vec<Arrival> = receiver.accepted();
    assert_eq!(events.len(), 5, "{events:#?}");
    let summary: Vec<(i64, &str, &str, i64, i64)> = events
        .iter()
        .map(|e| {
            let d = data(e);
            (
                d["sequence"].as_i64().unwrap(),
                d["op"].as_str().unwrap(),
                d["direction"].as_str().unwrap(),
                d["amount"]["value"].as_str().unwrap().parse().unwrap(),
                d["balance_after"]["value"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "ADJUSTMENT", "CREDIT", 1_000, 1_000),
            (2, "BET", "DEBIT", 300, 700),
            (3, "WIN", "CREDIT", 450, 1_150),
            (4, "BET", "DEBIT", 100, 1_050),
            (5, "ROLLBACK", "CREDIT", 100, 1_150),
        ]
    );
    for event in &events {
        assert!(event.verified, "signature: {event:?}");
        assert_eq!(event.event["type"], "money.moved");
        assert_eq!(event.event["event_id"], event.event_id.as_str());
        let d = data(event);
        assert_eq!(d["player_id"], player.id.as_str());
        assert_eq!(d["amount"]["currency"], "EUR");
        assert_eq!(d["amount"]["scale"], 2);
        assert_eq!(d["ledger_entry_ids"].as_array().map(Vec::len), Some(2));
    }
    let bet_event = data(&events[1]);
    assert_eq!(bet_event["provider_id"], provider.id.as_str());
    assert_eq!(bet_event["transaction_id"], tx_id(&bet).as_str());
    assert_eq!(bet_event["round_id"], round.as_str());
    assert_eq!(
        data(&events[0])["provider_id"],
        Value::Null,
        "an adjustment"
    );

    let view = webhook(&app, "crm").await;
    assert_eq!(view["stats"]["delivered"], 5, "{view}");
    assert_eq!(view["stats"]["pending"], 0, "{view}");
    assert_eq!(
        app.query_i64("SELECT COUNT(*) AS n FROM outbox_events WHERE event_type = 'money.moved'")
            .await,
        5
    );
}

#[tokio::test]
async fn a_refused_event_holds_back_its_player_only_and_arrives_in_order() {
    // Retries from 100 ms: with the default 1 s an event refused six times in a row
    // (one run in ten, over 52 events at 35 %) waits a minute.
    let app = spawn_app_with(|config| {
        config.delivery.first_retry = Duration::from_millis(100);
    })
    .await;
    let receiver = subscribed_receiver(&app, "crm", json!(["*"])).await;
    receiver.refuse_percent(35);
    let provider = TestProvider::new(&app).await;
    let mut players = Vec::new();
    for _ in 0..4 {
        players.push(TestPlayer::with_balance(&provider, "EUR", 10_000).await);
    }
    for _ in 0..6 {
        for player in &players {
            let round = player.new_round();
            provider.bet(&player.bet(&round, 10)).await.assert_ok();
            provider.win(&player.win(&round, 5)).await.assert_ok();
        }
    }
    let expected = players.len() * 13;
    receiver
        .wait_for("every event", |accepted| accepted.len() >= expected)
        .await;
    assert_in_order(&receiver.arrivals());
    assert!(
        receiver.arrivals().iter().any(|a| !a.accepted),
        "the receiver refused some"
    );
}

/// Per player: every delivery of sequence `s` came after an acknowledged delivery of
/// `s - 1` (from the player's first event on), whatever was refused or sent twice; and
/// a redelivery carries the same bytes.
fn assert_in_order(arrivals: &[Arrival]) {
    let mut acked: HashMap<String, HashSet<i64>> = HashMap::new();
    let mut first: HashMap<String, i64> = HashMap::new();
    let mut bodies: HashMap<String, Vec<u8>> = HashMap::new();
    for arrival in arrivals {
        assert!(arrival.verified, "a signature did not verify: {arrival:?}");
        if let Some(body) = bodies.get(&arrival.event_id) {
            assert_eq!(body, &arrival.body, "a redelivery changed its bytes");
        }
        bodies.insert(arrival.event_id.clone(), arrival.body.clone());
        let d = data(arrival);
        let (Some(player), Some(sequence)) = (d["player_id"].as_str(), d["sequence"].as_i64())
        else {
            continue;
        };
        let start = *first.entry(player.to_owned()).or_insert(sequence);
        let seen = acked.entry(player.to_owned()).or_default();
        assert!(
            sequence == start || seen.contains(&(sequence - 1)),
            "player {player}: sequence {sequence} was sent before {} was acknowledged",
            sequence - 1
        );
        if arrival.accepted {
            seen.insert(sequence);
        }
    }
    for (player, seen) in &acked {
        let start = first[player];
        let max = seen.iter().max().copied().unwrap_or(start);
        for sequence in start..=max {
            assert!(
                seen.contains(&sequence),
                "player {player}: {sequence} missing"
            );
        }
    }
}

/// The subscription's dead events, once there are any (within a minute).
async fn wait_for_dead(app: &TestApp, webhook_id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = app
            .operator()
            .request(
                Method::GET,
                &format!("/operator/v1/webhooks/{webhook_id}/dead"),
                None,
            )
            .await;
        answer.assert_ok();
        let events = answer.body["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !events.is_empty() {
            return events;
        }
        assert!(Instant::now() < deadline, "no event died");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn events_a_receiver_never_takes_die_and_are_redelivered_from_the_list() {
    let app = spawn_app_with(|config| {
        config.delivery.dead_after = Duration::from_secs(2);
    })
    .await;
    let receiver = subscribed_receiver(&app, "crm", json!(["money.moved"])).await;
    receiver.set_down(true);
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;

    let dead = wait_for_dead(&app, "crm").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["event_type"], "money.moved");
    assert_eq!(dead[0]["player_id"], player.id.as_str());
    assert!(dead[0]["last_error"].as_str().unwrap().contains("503"));
    assert_eq!(webhook(&app, "crm").await["stats"]["dead"], 1);
    assert!(receiver.accepted().is_empty());

    receiver.set_down(false);
    let event_id = dead[0]["event_id"].as_str().unwrap().to_owned();
    app.operator()
        .request(
            Method::POST,
            &format!("/operator/v1/webhooks/crm/dead/{event_id}/redeliver"),
            None,
        )
        .await
        .assert_ok();
    let accepted = receiver.wait_for("the redelivery", |a| !a.is_empty()).await;
    assert_eq!(accepted[0].event_id, event_id);
    // The receiver has it; the round that sent it writes the stats just after.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = webhook(&app, "crm").await;
        if view["stats"]["delivered"] == 1 {
            assert_eq!(view["stats"]["dead"], 0, "{view}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery was not counted: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.operator()
        .request(
            Method::POST,
            &format!("/operator/v1/webhooks/crm/dead/{event_id}/redeliver"),
            None,
        )
        .await
        .assert_error("INVALID_TRANSITION");

    // A later movement goes out as usual.
    player.deposit(5).await.assert_ok();
    receiver.wait_for("the next event", |a| a.len() >= 2).await;
}

/// The outbox's rows as `(count, smallest id, largest id)`.
async fn outbox_rows(app: &TestApp) -> (i64, i64, i64) {
    (
        app.query_i64("SELECT COUNT(*) AS n FROM outbox_events")
            .await,
        app.query_i64("SELECT COALESCE(MIN(id), 0) AS n FROM outbox_events")
            .await,
        app.query_i64("SELECT COALESCE(MAX(id), 0) AS n FROM outbox_events")
            .await,
    )
}

/// Waits (up to three pruning passes) until the outbox holds `expected`.
async fn wait_for_outbox(app: &TestApp, what: &str, expected: (i64, i64, i64)) {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let rows = outbox_rows(app).await;
        if rows == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the outbox holds (count, min id, max id) {rows:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn delivered_events_are_pruned_while_dead_ones_and_the_newest_stay() {
    let app = spawn_app_with(|config| {
        config.delivery.dead_after = Duration::from_secs(2);
        config.delivery.outbox_retention = Duration::ZERO;
    })
    .await;
    let receiver = subscribed_receiver(&app, "crm", json!(["money.moved"])).await;
    receiver.set_down(true);
    let provider = TestProvider::new(&app).await;
    let stuck = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let dead = wait_for_dead(&app, "crm").await;
    let dead_id = dead[0]["event_id"].as_str().unwrap().to_owned();
    receiver.set_down(false);

    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    for _ in 0..4 {
        provider.bet(&player.bet(&round, 10)).await.assert_ok();
    }
    let accepted = receiver
        .wait_for("five events", |accepted| accepted.len() >= 5)
        .await;
    let newest = accepted.last().unwrap().event_id.clone();
    let id_of = |event_id: &str| -> i64 { event_id["evt_".len()..].parse().unwrap() };
    // Everything the subscription has is deleted but the dead event (it can still be
    // redelivered) and the newest row (numbering and new subscriptions start from it).
    wait_for_outbox(&app, "after delivery", (2, id_of(&dead_id), id_of(&newest))).await;

    app.operator()
        .request(
            Method::POST,
            &format!("/operator/v1/webhooks/crm/dead/{dead_id}/redeliver"),
            None,
        )
        .await
        .assert_ok();
    let redelivered = receiver
        .wait_for("the redelivery", |a| {
            a.iter().any(|e| e.event_id == dead_id)
        })
        .await;
    let body = &redelivered.iter().find(|e| e.event_id == dead_id).unwrap();
    assert!(body.verified);
    assert_eq!(data(body)["player_id"], stuck.id.as_str());
    wait_for_outbox(
        &app,
        "after the redelivery",
        (1, id_of(&newest), id_of(&newest)),
    )
    .await;

    // Ids go on after the pruned ones, and the next event is delivered as usual.
    player.deposit(5).await.assert_ok();
    let accepted = receiver.wait_for("the next event", |a| a.len() >= 7).await;
    let next = accepted.last().unwrap();
    assert!(id_of(&next.event_id) > id_of(&newest), "{next:?}");
    assert_eq!(data(next)["sequence"], 6, "{next:?}");
    wait_for_outbox(
        &app,
        "after the next event",
        (1, id_of(&next.event_id), id_of(&next.event_id)),
    )
    .await;
}

// ----------------------------------------------------------------------------------
// finding.opened
// ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_critical_finding_reaches_its_subscriber_within_one_run() {
    let app = spawn_app().await;
    let receiver = subscribed_receiver(
        &app,
        "oncall",
        json!(["finding.opened", "finding.resolved"]),
    )
    .await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    // A balance edited behind the ledger's back: a CRITICAL finding.
    shift_balance(&app, &player.id, 7).await;
    let (opened, accepted) = run_until_event(&app, &receiver, "finding.opened").await;
    assert!(opened.verified);
    assert_eq!(data(&opened)["kind"], "BALANCE_MISMATCH");
    assert_eq!(data(&opened)["severity"], "CRITICAL");
    assert_eq!(data(&opened)["subject_id"], player.id.as_str());
    assert!(
        accepted.iter().all(|e| e.event["type"] != "money.moved"),
        "this subscriber did not ask for money.moved"
    );

    // The money put back: the next run resolves it.
    shift_balance(&app, &player.id, -7).await;
    let (resolved, _) = run_until_event(&app, &receiver, "finding.resolved").await;
    assert_eq!(data(&resolved)["finding_id"], data(&opened)["finding_id"]);
    assert_eq!(data(&resolved)["resolved_by"], "reconciliation");
}

async fn shift_balance(app: &TestApp, player_id: &str, minor: i64) {
    use sea_orm::ConnectionTrait;
    let sql = format!(
        "UPDATE players SET balance_minor = balance_minor + ({minor}) WHERE id = {}",
        quote(player_id)
    );
    app.db.execute_unprepared(&sql).await.unwrap();
}

/// Starts a reconciliation run and waits for the first event of `event_type`; returns
/// it and everything acknowledged so far.
async fn run_until_event(
    app: &TestApp,
    receiver: &Receiver,
    event_type: &str,
) -> (Arrival, Vec<Arrival>) {
    app.operator()
        .request(Method::POST, "/operator/v1/reconciliation/runs", None)
        .await
        .assert_ok();
    let accepted = receiver
        .wait_for(event_type, |a| {
            a.iter().any(|e| e.event["type"] == event_type)
        })
        .await;
    let event = accepted
        .iter()
        .find(|e| e.event["type"] == event_type)
        .cloned()
        .unwrap();
    (event, accepted)
}

// ----------------------------------------------------------------------------------
// The kill test
// ----------------------------------------------------------------------------------

/// Kills in the short run.
const KILLS: u32 = 6;
const CLIENTS: usize = 16;

/// Whichever nodes are up now; requests go to one at random.
struct AnyNode(Arc<Mutex<Vec<String>>>);

impl crate::node::Target for AnyNode {
    fn base_url(&self) -> String {
        let urls = self.0.lock().unwrap();
        urls[rand::thread_rng().gen_range(0..urls.len())].clone()
    }
}

/// Retries from 200 ms, so that the drain after the last kill is not a wait on backoff;
/// events pruned as soon as every subscription has them, so that the run also proves that
/// pruning never takes an event a receiver has not acknowledged.
const NODE_ENV: &[(&str, &str)] = &[
    ("WALLET_WEBHOOK_FIRST_RETRY_MS", "200"),
    ("WALLET_OUTBOX_RETENTION_SECS", "0"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_committed_movement_reaches_a_refusing_receiver_once_in_order_across_kills() {
    use crate::node::{Node, Provider, RetryLog, SharedRetryLog, TestDatabase};
    let database = TestDatabase::fresh().await;
    let count = if database.is_sqlite() { 1 } else { 3 };
    let mut nodes = Vec::new();
    for _ in 0..count {
        nodes.push(Node::start(&database.url, NODE_ENV).await);
    }
    let urls = Arc::new(Mutex::new(
        nodes.iter().map(|n| n.base_url.clone()).collect::<Vec<_>>(),
    ));
    let receiver = Receiver::start().await;
    receiver.refuse_percent(33);
    subscribe(
        &nodes[0].base_url,
        crate::node::OPERATOR_TOKEN,
        "crm",
        &receiver.url,
        json!(["money.moved"]),
    )
    .await;
    let provider = Provider::register(&nodes[0].base_url).await;
    let log: SharedRetryLog = Arc::new(Mutex::new(RetryLog::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let target: Arc<dyn crate::node::Target> = Arc::new(AnyNode(Arc::clone(&urls)));
    let clients =
        crate::workload::start_players(&provider, &nodes[0].base_url, CLIENTS, target, &log, &stop)
            .await;

    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(
            rand::thread_rng().gen_range(100..400),
        ))
        .await;
        // The receiver is down for a while in the middle of the run.
        receiver.set_down(kill == 2);
        let victim = rand::thread_rng().gen_range(0..nodes.len());
        nodes[victim].kill().await;
        nodes[victim] = Node::start(&database.url, NODE_ENV).await;
        urls.lock().unwrap()[victim] = nodes[victim].base_url.clone();
    }
    receiver.set_down(false);
    stop.store(true, Ordering::Relaxed);
    let mut models = Vec::new();
    for client in clients {
        models.push(client.await.expect("a client panicked"));
    }

    // Every movement committed, as the database has it: (scope, transaction id).
    let db = database.connect().await;
    let movements: BTreeMap<(String, String), String> = {
        use sea_orm::{ConnectionTrait, Statement};
        let rows = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                "SELECT t.scope, t.transaction_id, t.player_id FROM wallet_transactions t \
                 WHERE EXISTS (SELECT 1 FROM ledger_entries e WHERE e.wallet_transaction_id = t.id)"
                    .to_owned(),
            ))
            .await
            .unwrap();
        rows.into_iter()
            .map(|row| {
                (
                    (
                        row.try_get::<String>("", "scope").unwrap(),
                        row.try_get::<String>("", "transaction_id").unwrap(),
                    ),
                    row.try_get::<String>("", "player_id").unwrap(),
                )
            })
            .collect()
    };
    // Each refusal holds its player's later events back for the retry's backoff (1 s,
    // 2 s, 4 s, …): with a third refused, a player's events go out at about two a second.
    let accepted = receiver
        .wait_within(
            Duration::from_secs(480),
            "an event for every committed movement",
            |a| a.len() >= movements.len(),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let arrivals = receiver.arrivals();
    assert_in_order(&arrivals);

    let mut ids_of: BTreeMap<(String, String), HashSet<String>> = BTreeMap::new();
    for arrival in receiver.accepted() {
        let d = data(&arrival);
        let scope = d["provider_id"].as_str().unwrap_or("@operator").to_owned();
        let transaction = d["transaction_id"].as_str().unwrap().to_owned();
        ids_of
            .entry((scope, transaction))
            .or_default()
            .insert(arrival.event_id.clone());
    }
    let missing: Vec<_> = movements
        .keys()
        .filter(|k| !ids_of.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "movements without an event: {missing:?}"
    );
    let extra: Vec<_> = ids_of
        .keys()
        .filter(|k| !movements.contains_key(*k))
        .collect();
    assert!(extra.is_empty(), "events without a movement: {extra:?}");
    let doubled: Vec<_> = ids_of.iter().filter(|(_, ids)| ids.len() != 1).collect();
    assert!(
        doubled.is_empty(),
        "movements with several event ids: {doubled:?}"
    );
    // Everything acknowledged, so the outbox is pruned down to its newest row, which
    // numbering and new subscriptions start from.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        use sea_orm::{ConnectionTrait, Statement};
        let rows = db
            .query_one(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM outbox_events".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        if rows == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{rows} outbox rows left after every event was acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for node in &mut nodes {
        node.terminate().await;
    }
    let totals = crate::workload::assert_end_state(&db, &database.url, &provider.id, &models).await;
    let refused = arrivals.iter().filter(|a| !a.accepted).count();
    let duplicates =
        arrivals.iter().filter(|a| a.accepted).count() - accepted.len().min(arrivals.len());
    println!(
        "events kill test on {} node(s): {KILLS} kills, {} movements, {} deliveries ({refused} refused, \
         {duplicates} acknowledged twice), lost {}, doubled {}",
        nodes.len(),
        movements.len(),
        arrivals.len(),
        totals.lost,
        totals.doubled
    );
    assert!(
        refused > 0 && movements.len() > 50,
        "the run did too little"
    );
}

// ----------------------------------------------------------------------------------
// The receiver in ops/ that docs/EVENTS.md hands to receivers
// ----------------------------------------------------------------------------------

type ChildLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// The receiver's next line on stdout.
async fn next_line(lines: &mut ChildLines) -> String {
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the receiver prints within 30 s")
        .unwrap()
        .expect("a line")
}

#[tokio::test]
async fn the_example_receiver_takes_the_servers_deliveries_and_refuses_forged_ones() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ops/webhook-receiver/receiver.py"
    );
    let mut child = tokio::process::Command::new("python3")
        .args([script, "--port", "0"])
        .env("WEBHOOK_SECRET", SECRET)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs the example receiver");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = next_line(&mut lines).await;
    let url = listening
        .strip_prefix("listening on ")
        .expect("the receiver says where it listens")
        .to_owned();

    let app = spawn_app().await;
    subscribe(
        &app.base_url,
        &app.operator_token,
        "example",
        &url,
        json!(["*"]),
    )
    .await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_234).await;
    let printed: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(printed["type"], "money.moved");
    assert_eq!(printed["data"]["player_id"], player.id.as_str());
    assert_eq!(printed["data"]["amount"]["value"], "1234");

    let client = reqwest::Client::new();
    let body = serde_json::to_vec(&printed).unwrap();
    let t = chrono::Utc::now().timestamp();
    let forged = client
        .post(&url)
        .header(
            "Oncewallet-Signature",
            format!("t={t},v1={}", "0".repeat(64)),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let stale_t = t - 600;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{stale_t}.").as_bytes());
    mac.update(&body);
    let stale = client
        .post(&url)
        .header(
            "Oncewallet-Signature",
            format!(
                "t={stale_t},v1={}",
                hex::encode(mac.finalize().into_bytes())
            ),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale.status().as_u16(),
        401,
        "a signature older than 5 minutes"
    );
}
