//! Several nodes: three server processes on one PostgreSQL database,
//! started at the same moment (their migrations queue on the advisory lock). Clients
//! send every bet to all three at once and race a rollback of it, itself sent twice to
//! two nodes; wins are sprayed the same way. Exactly one copy executes, all copies get
//! the same answer, the outcomes agree with each other (a refunded bet or a voided one,
//! never both or neither), and the end checks of the crash test hold. The console's live
//! feed of every node shows the traffic of all three.
//!
//! SQLite allows one server process per file, so on SQLite the test says so and passes.
//! A longer run: `ONCEWALLET_NODES_ROUNDS=2000 ONCEWALLET_TEST_PG_URL=… cargo test -p
//! server --test api nodes:: -- --nocapture`.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{money, session_cookie_pair, unique_id};
use crate::node::{
    pg_admin_url, runs_from_env, Definitive, Node, Provider, RetryLog, SharedRetryLog,
    TestDatabase, ADMIN_PASSWORD,
};
use crate::workload::{assert_end_state, PlayerModel, REQUEST_DEADLINE, START_BALANCE};

const NODES: usize = 3;
const CLIENTS: usize = 6;
/// Rounds per client in the short run.
const ROUNDS_SHORT: u32 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_on_one_database_execute_each_key_once_and_share_one_feed() {
    if pg_admin_url().is_none() {
        println!("nodes: skipped on SQLite, which supports one server process per database file");
        return;
    }
    let rounds = runs_from_env("ONCEWALLET_NODES_ROUNDS", ROUNDS_SHORT);
    let started = Instant::now();
    let database = TestDatabase::fresh().await;
    let mut nodes = join_all((0..NODES).map(|_| Node::start(&database.url, &[]))).await;
    let urls: Vec<String> = nodes.iter().map(|n| n.base_url.clone()).collect();
    let provider = Provider::register(&urls[0]).await;
    let log: SharedRetryLog = Arc::new(Mutex::new(RetryLog::default()));

    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let player_id = unique_id("pl");
        // Set-up is spread over the nodes too.
        let session = provider
            .player(&urls[i % NODES], &player_id, START_BALANCE)
            .await;
        let client = Client {
            provider: provider.clone(),
            urls: urls.clone(),
            player_id,
            session,
            log: log.clone(),
        };
        clients.push(tokio::spawn(client.play(i as u64, rounds)));
    }
    let mut models = Vec::new();
    for client in clients {
        models.push(client.await.expect("a client panicked"));
    }

    let probes = probe_every_node(&provider, &urls).await;
    for url in &urls {
        assert_feed_shows(url, &provider.id, &probes).await;
    }
    assert_revocation_reaches_every_node(&provider, &urls).await;
    for node in &mut nodes {
        assert!(node.is_running(), "a node died:\n{}", node.output());
        node.terminate().await;
    }
    let db = database.connect().await;
    let totals = assert_end_state(&db, &database.url, &provider.id, &models).await;
    let log = log.lock().unwrap();
    assert!(
        log.violations.is_empty(),
        "answers outside the contract:\n{}",
        log.violations.join("\n")
    );
    println!(
        "nodes: {NODES} processes, {CLIENTS} clients × {rounds} rounds, {} acknowledged \
         transactions, {} definitive answers were replays, {} attempts, retryable answers {:?}; \
         lost {}, doubled {}; {:.1} s",
        totals.acknowledged,
        totals.replays,
        totals.attempts,
        log.retryable,
        totals.lost,
        totals.doubled,
        started.elapsed().as_secs_f64()
    );
}

/// One player, played against all nodes at once.
struct Client {
    provider: Provider,
    urls: Vec<String>,
    player_id: String,
    session: String,
    log: SharedRetryLog,
}

impl Client {
    fn body(&self, round: &str, tx_id: &str) -> Value {
        json!({ "transaction_id": tx_id, "player_id": self.player_id, "round_id": round,
                "game_id": self.provider.game_id })
    }

    /// The same request to each of `urls` at once; every copy's definitive answer.
    async fn spray(&self, urls: &[&String], path: &str, body: &Value) -> Vec<Definitive> {
        join_all(urls.iter().map(|url| {
            self.provider
                .until_definitive(*url, path, body, &self.log, REQUEST_DEADLINE)
        }))
        .await
    }

    async fn play(self, seed: u64, rounds: u32) -> PlayerModel {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model = PlayerModel {
            player_id: self.player_id.clone(),
            balance: START_BALANCE,
            ..Default::default()
        };
        for _ in 0..rounds {
            self.round(&mut rng, &mut model).await;
        }
        model
    }

    async fn round(&self, rng: &mut StdRng, model: &mut PlayerModel) {
        let round = unique_id("r");
        let bet_id = unique_id("bet");
        let amount = rng.gen_range(1..=600);
        let mut bet = self.body(&round, &bet_id);
        bet["session_token"] = json!(self.session);
        bet["amount"] = money(amount, "EUR");
        let all: Vec<&String> = self.urls.iter().collect();
        let racing = rng.gen_bool(0.5);
        let rollback_id = unique_id("rb");
        let mut rollback = self.body(&round, &rollback_id);
        rollback["target_transaction_id"] = json!(bet_id);
        let first = rng.gen_range(0..NODES);
        let rollback_urls = [&self.urls[first], &self.urls[(first + 1) % NODES]];
        let (bets, rollbacks) = if racing {
            tokio::join!(
                self.spray(&all, "/wallet/v1/bet", &bet),
                self.spray(&rollback_urls, "/wallet/v1/rollback", &rollback)
            )
        } else {
            (self.spray(&all, "/wallet/v1/bet", &bet).await, Vec::new())
        };
        let Some(bet_answer) = agreed("bet", &bets, model) else {
            return;
        };
        let rollback_answer = if racing {
            match agreed("rollback", &rollbacks, model) {
                Some(answer) => Some(answer),
                None => return,
            }
        } else {
            None
        };
        self.settle_race(
            &bet_id,
            amount,
            bet_answer,
            rollback_id,
            rollback_answer,
            model,
        );
        if !racing && bet_answer.status == 200 && rng.gen_bool(0.5) {
            let win_id = unique_id("win");
            let win_minor = rng.gen_range(1..=900);
            let mut win = self.body(&round, &win_id);
            win["amount"] = money(win_minor, "EUR");
            win["reference_transaction_id"] = json!(bet_id);
            let wins = self.spray(&all, "/wallet/v1/win", &win).await;
            if let Some(answer) = agreed("win", &wins, model) {
                if answer.status == 200 {
                    model.balance += win_minor;
                    model.ack(&win_id, answer, "COMMITTED", 2);
                    model.settle(&bet_id, "SETTLED");
                } else {
                    model.unexpected("win", answer);
                }
            }
        }
    }

    /// Applies a bet and the rollback that raced it to the model, checking that the two
    /// answers tell one story.
    fn settle_race(
        &self,
        bet_id: &str,
        amount: i64,
        bet: &Definitive,
        rollback_id: String,
        rollback: Option<&Definitive>,
        model: &mut PlayerModel,
    ) {
        let outcome = rollback.map(|r| {
            (
                r.status,
                r.tx()["outcome"].as_str().unwrap_or("-").to_owned(),
            )
        });
        match (
            bet.status,
            bet.code(),
            outcome.as_ref().map(|(s, o)| (*s, o.as_str())),
        ) {
            (200, _, None) => {
                model.balance -= amount;
                model.ack(bet_id, bet, "COMMITTED", 2);
            }
            (200, _, Some((200, "REFUNDED"))) => {
                model.ack(bet_id, bet, "ROLLED_BACK", 2);
                model.ack(&rollback_id, rollback.expect("rollback"), "COMMITTED", 2);
            }
            (409, Some("TRANSACTION_VOIDED"), Some((200, "TARGET_NOT_FOUND_TOMBSTONED"))) => {
                model.ack(bet_id, bet, "VOIDED_BY_PRIOR_ROLLBACK", 0);
                model.ack(&rollback_id, rollback.expect("rollback"), "COMMITTED", 0);
            }
            (422, Some("INSUFFICIENT_FUNDS"), None) => model.ack(bet_id, bet, "DECLINED", 0),
            (422, Some("INSUFFICIENT_FUNDS"), Some((422, _))) => {
                model.ack(bet_id, bet, "DECLINED", 0);
                model.ack(&rollback_id, rollback.expect("rollback"), "DECLINED", 0);
            }
            _ => model.violations.push(format!(
                "a bet and its racing rollback disagree: bet {} {:?}, rollback {:?}",
                bet.status,
                bet.code(),
                rollback.map(|r| &r.body)
            )),
        }
    }
}

/// All copies of one request got the same answer, and exactly one executed.
fn agreed<'a>(
    what: &str,
    answers: &'a [Definitive],
    model: &mut PlayerModel,
) -> Option<&'a Definitive> {
    let first = answers.first()?;
    let fresh = answers
        .iter()
        .filter(|a| a.body["replayed"] == false)
        .count();
    let same = answers.iter().all(|a| {
        a.status == first.status && a.tx() == first.tx() && a.body["error"] == first.body["error"]
    });
    if fresh != 1 || !same {
        model.violations.push(format!(
            "{what}: {fresh} first executions among {} copies, answers {}: {:?}",
            answers.len(),
            if same { "equal" } else { "differ" },
            answers.iter().map(|a| &a.body).collect::<Vec<_>>()
        ));
        return None;
    }
    for answer in answers {
        model.attempts += u64::from(answer.attempts);
        if answer.body["replayed"] == true {
            model.replays += 1;
        }
    }
    Some(first)
}

/// One balance read per node, each with a request id that names the node.
async fn probe_every_node(provider: &Provider, urls: &[String]) -> Vec<String> {
    let player_id = unique_id("probe");
    provider.player(&urls[0], &player_id, 0).await;
    let body = serde_json::to_vec(&json!({ "player_id": player_id, "currency": "EUR" })).unwrap();
    let mut probes = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let request_id = unique_id(&format!("node{i}"));
        let response = provider
            .attempt(
                url,
                Method::POST,
                "/wallet/v1/balance",
                &body,
                Some(&request_id),
            )
            .await
            .expect("the node answers");
        assert_eq!(response.status, 200, "{}", response.body);
        probes.push(request_id);
    }
    probes
}

/// Replacing a provider's key set through one node stops the old key on every node at
/// once (docs/API.md: "keys not listed stop working immediately"), whatever a node keeps
/// in memory.
async fn assert_revocation_reaches_every_node(provider: &Provider, urls: &[String]) {
    let player_id = unique_id("rot");
    provider.player(&urls[0], &player_id, 0).await;
    let body = serde_json::to_vec(&json!({ "player_id": player_id, "currency": "EUR" })).unwrap();
    for url in urls {
        let before = provider
            .attempt(url, Method::POST, "/wallet/v1/balance", &body, None)
            .await
            .expect("the node answers");
        assert_eq!(
            before.status, 200,
            "the key works on {url} before: {}",
            before.body
        );
    }
    let new_key = json!({ "name": "reliability", "keys": [ { "key_id": unique_id("key"), "secret": crate::helpers::fresh_secret() } ] });
    let replaced = crate::node::operator(
        &urls[0],
        Method::PUT,
        &format!("/operator/v1/providers/{}", provider.id),
        &new_key,
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    for url in urls {
        let after = provider
            .attempt(url, Method::POST, "/wallet/v1/balance", &body, None)
            .await
            .expect("the node answers");
        assert_eq!(
            (after.status, after.code()),
            (401, Some("INVALID_SIGNATURE")),
            "the revoked key still works on {url}: {}",
            after.body
        );
    }
}

/// Signs in to the console of `url` and waits (the attempt log is written in batches)
/// until its live feed lists every probe.
async fn assert_feed_shows(url: &str, provider_id: &str, probes: &[String]) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .post(format!("{url}/auth/login"))
        .header(ORIGIN, url)
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(
        login.headers().get(LOCATION).map(|v| v.as_bytes()),
        Some(&b"/"[..])
    );
    let cookie = session_cookie_pair(login.headers()).expect("session cookie");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let feed: Value = client
            .post(format!("{url}/api/get_feed"))
            .header(COOKIE, &cookie)
            .header(ORIGIN, url)
            .form(&[
                ("filter[provider_id]", provider_id),
                ("filter[endpoint]", "/wallet/v1/balance"),
                ("filter[outcome]", ""),
                ("filter[player_id]", ""),
            ])
            .send()
            .await
            .expect("the feed answers")
            .json()
            .await
            .expect("the feed is JSON");
        let shown: Vec<&str> = feed["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r["request_id"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if probes.iter().all(|p| shown.contains(&p.as_str())) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the live feed of {url} does not show every node's traffic: {probes:?}, feed {feed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A money operation on PostgreSQL is verified with a cached key that its first read
/// confirms (docs/PERFORMANCE.md): a key replaced through one node must still stop
/// bets and replays on another that cached it a moment ago, with nothing executed, and
/// a new secret given to the same key id through one node must work on the other at once.
#[tokio::test]
async fn a_key_replaced_through_one_node_stops_money_operations_on_another_at_once() {
    if pg_admin_url().is_none() {
        println!("nodes: skipped on SQLite, which supports one server process per database file");
        return;
    }
    let database = TestDatabase::fresh().await;
    let mut nodes = join_all((0..2).map(|_| Node::start(&database.url, &[]))).await;
    let (a, b) = (nodes[0].base_url.clone(), nodes[1].base_url.clone());
    let provider = Provider::register(&a).await;
    let player_id = unique_id("cache");
    let session = provider.player(&a, &player_id, 10_000).await;
    let bet = |tx_id: &str| {
        serde_json::to_vec(&json!({ "transaction_id": tx_id, "player_id": player_id,
            "round_id": unique_id("r"), "game_id": provider.game_id, "session_token": session,
            "amount": money(100, "EUR") }))
        .unwrap()
    };
    let first = bet(&unique_id("bet"));
    let send = |provider: &Provider, url: &String, body: &[u8]| {
        let (provider, url, body) = (provider.clone(), url.clone(), body.to_vec());
        async move {
            provider
                .attempt(&url, Method::POST, "/wallet/v1/bet", &body, None)
                .await
                .expect("the node answers")
        }
    };
    // Node b caches the key on the money path.
    for _ in 0..2 {
        let answer = send(&provider, &b, &first).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }

    // A new secret for the same key id, through node a: node b's cached copy is stale.
    // The provider's whole key set becomes `to`'s one key, through node a.
    let replace_keys = |to: &Provider| {
        let body = json!({ "name": "reliability", "keys": [ { "key_id": to.key_id, "secret": to.secret } ] });
        let path = format!("/operator/v1/providers/{}", provider.id);
        let a = a.clone();
        async move {
            let put = crate::node::operator(&a, Method::PUT, &path, &body).await;
            assert_eq!(put.status, 200, "{}", put.body);
        }
    };
    let rotated = provider.with_key(&provider.key_id, &crate::helpers::fresh_secret());
    replace_keys(&rotated).await;
    let replay = send(&rotated, &b, &first).await;
    assert_eq!(
        (replay.status, replay.body["replayed"].as_bool()),
        (200, Some(true)),
        "the new secret works on the other node at once: {}",
        replay.body
    );
    let old_secret = send(&provider, &b, &first).await;
    assert_eq!(
        (old_secret.status, old_secret.code()),
        (401, Some("INVALID_SIGNATURE")),
        "the old secret stops at once: {}",
        old_secret.body
    );

    // Node b caches the rotated key again, then the key is replaced by another id.
    assert_eq!(send(&rotated, &b, &first).await.status, 200);
    let replacement = provider.with_key(&unique_id("key"), &crate::helpers::fresh_secret());
    replace_keys(&replacement).await;
    let new_tx = unique_id("bet");
    for body in [first.clone(), bet(&new_tx)] {
        let refused = send(&rotated, &b, &body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (401, Some("INVALID_SIGNATURE")),
            "a withdrawn key stops money operations on the other node at once: {}",
            refused.body
        );
        assert!(
            refused.header("X-Wallet-Signature").is_none(),
            "the refusal is not signed with the withdrawn key"
        );
    }
    let lookup = replacement
        .attempt(
            &b,
            Method::GET,
            &format!("/wallet/v1/transactions/{new_tx}"),
            b"",
            None,
        )
        .await
        .expect("the node answers");
    assert_eq!(
        lookup.body["lookup"]["state"], "NOT_FOUND",
        "the refused bet was not executed: {}",
        lookup.body
    );
    assert_eq!(send(&replacement, &b, &first).await.status, 200);
    for node in &mut nodes {
        node.terminate().await;
    }
}
