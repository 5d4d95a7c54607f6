//! The reliability tests' load spoken in the PAM (docs/PAM.md), as Valkyrie would send it:
//! players whose clients retry every transaction with the same `providerTransactionId`
//! until the answer is definitive, and keep the same model as the wallet API's clients
//! (`crate::workload`), so the same end check holds them to what they were told.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::helpers::unique_id;
use crate::node::{Provider, SharedRetryLog, Target, PAM_API_KEY};
use crate::workload::{PlayerModel, REQUEST_DEADLINE, START_BALANCE};

/// A PAM answer the client stops retrying at.
struct PamAnswer {
    status: u16,
    body: Value,
    text: String,
    attempts: u32,
}

impl PamAnswer {
    fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    fn ok(&self) -> bool {
        self.status == 200 && self.body["status"] == "OK"
    }

    /// The cash balance the answer carried, in cents (the PAM writes `49.95`).
    fn cash_minor(&self) -> Option<i64> {
        let start = self.text.find("\"cashAmount\":")? + "\"cashAmount\":".len();
        let number: String = self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let (whole, cents) = number.split_once('.')?;
        Some(whole.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
    }
}

/// A player played through the PAM.
pub struct PamPlayer {
    provider: Provider,
    player_id: String,
    session_token: String,
    target: Arc<dyn Target>,
    log: SharedRetryLog,
    client: reqwest::Client,
}

/// Cents as a PAM amount, with Valkyrie's six decimals.
fn pam_amount(minor: i64) -> String {
    format!("{}.{:02}0000", minor / 100, minor % 100)
}

impl PamPlayer {
    fn transaction(
        &self,
        kind: &str,
        id: &str,
        round: &str,
        minor: i64,
        game_over: bool,
    ) -> String {
        format!(
            r#"{{"currency":"EUR","provider":"{name}","transactionType":"{kind}","cashAmount":{cash},"bonusAmount":0.000000,"promoAmount":0.000000,"transactionDateTime":"2026-12-07T10:00:00Z","providerTransactionId":"{id}","providerGameId":"{game}","providerRoundId":"{round}","isGameOver":{game_over}}}"#,
            name = self.provider.name,
            cash = pam_amount(minor),
            game = self.provider.game_id,
        )
    }

    /// Sends until the answer is definitive: anything but no answer, a 5xx (the outcome
    /// unknown, or the wallet busy) or `PAM_ERR_TIMEOUT`; the key makes every retry safe.
    async fn send(&self, body: &str) -> PamAnswer {
        let started = Instant::now();
        let mut attempts = 0;
        let mut pause_ms = 10;
        loop {
            assert!(
                started.elapsed() < REQUEST_DEADLINE,
                "no definitive PAM answer to {body} within {REQUEST_DEADLINE:?}"
            );
            attempts += 1;
            let url = format!(
                "{}/pam/valkyrie/players/{}/transactions",
                self.target.base_url(),
                self.player_id
            );
            let sent = self
                .client
                .post(url)
                .query(&[("provider", self.provider.name.as_str())])
                .bearer_auth(PAM_API_KEY)
                .header("X-Player-Token", &self.session_token)
                .header("X-Correlation-ID", unique_id("corr"))
                .header("content-type", "application/json")
                .body(body.to_owned())
                .send()
                .await;
            let answer = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.text().await.ok().map(|text| (status, text))
                }
                Err(_) => None,
            };
            let Some((status, text)) = answer else {
                self.log.lock().unwrap().transport_errors += 1;
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                pause_ms = (pause_ms * 2).min(200);
                continue;
            };
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if status >= 500 || code == "PAM_ERR_TIMEOUT" {
                *self
                    .log
                    .lock()
                    .unwrap()
                    .retryable
                    .entry(format!("PAM {status} {code}"))
                    .or_default() += 1;
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                pause_ms = (pause_ms * 2).min(200);
                continue;
            }
            return PamAnswer {
                status,
                body,
                text,
                attempts,
            };
        }
    }

    fn check_balance(&self, model: &mut PlayerModel, what: &str, answer: &PamAnswer) {
        if answer.cash_minor() != Some(model.balance) {
            model.violations.push(format!(
                "PAM {what}: balance {:?}, model {}: {}",
                answer.cash_minor(),
                model.balance,
                answer.text
            ));
        }
    }

    fn unexpected(model: &mut PlayerModel, what: &str, answer: &PamAnswer) {
        model.violations.push(format!(
            "PAM {what}: unexpected {} {:?}: {}",
            answer.status,
            answer.code(),
            answer.text
        ));
    }

    /// Plays rounds until `stop`, finishing the round in hand; returns the model.
    pub async fn play(self, seed: u64, stop: Arc<AtomicBool>) -> PlayerModel {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model = PlayerModel {
            player_id: self.player_id.clone(),
            balance: START_BALANCE,
            ..Default::default()
        };
        while !stop.load(Ordering::Relaxed) {
            self.round(&mut rng, &mut model).await;
        }
        model
    }

    async fn round(&self, rng: &mut StdRng, model: &mut PlayerModel) {
        let round = unique_id("r");
        let bet_id = unique_id("bet");
        let cancel_key = format!("{bet_id}:cancel");
        let amount = rng.gen_range(1..=400);
        if rng.gen_bool(0.1) {
            return self.cancel_first(&round, &bet_id, amount, model).await;
        }
        let answer = self
            .send(&self.transaction("WITHDRAW", &bet_id, &round, amount, false))
            .await;
        if answer.ok() {
            model.balance -= amount;
            self.check_balance(model, "withdraw", &answer);
            model.ack_as(&bet_id, 200, false, answer.attempts, "COMMITTED", 2);
        } else if answer.code() == Some("PAM_ERR_CASH_OVERDRAFT") && amount > model.balance {
            model.ack_as(&bet_id, 422, false, answer.attempts, "DECLINED", 0);
            return;
        } else {
            return Self::unexpected(model, "withdraw", &answer);
        }
        let choice: f64 = rng.gen();
        if choice < 0.45 {
            let win_id = unique_id("win");
            let win = rng.gen_range(1..=800);
            let over = rng.gen_bool(0.3);
            let answer = self
                .send(&self.transaction("DEPOSIT", &win_id, &round, win, over))
                .await;
            if answer.ok() {
                model.balance += win;
                self.check_balance(model, "deposit", &answer);
                model.ack_as(&win_id, 200, false, answer.attempts, "COMMITTED", 2);
                model.settle(&bet_id, "SETTLED");
            } else {
                Self::unexpected(model, "deposit", &answer);
            }
        } else if choice < 0.75 {
            let answer = self
                .send(&self.transaction("CANCEL", &bet_id, &round, amount, false))
                .await;
            if answer.ok() {
                model.balance += amount;
                self.check_balance(model, "cancel", &answer);
                model.ack_as(&cancel_key, 200, false, answer.attempts, "COMMITTED", 2);
                model.settle(&bet_id, "ROLLED_BACK");
            } else {
                Self::unexpected(model, "cancel", &answer);
            }
        }
    }

    /// A cancel that overtakes its withdraw: the PAM's "not found", and the withdraw is
    /// voided when it comes.
    async fn cancel_first(&self, round: &str, bet_id: &str, amount: i64, model: &mut PlayerModel) {
        let answer = self
            .send(&self.transaction("CANCEL", bet_id, round, amount, false))
            .await;
        if answer.code() == Some("PAM_ERR_CANCEL_NOT_FOUND") {
            self.check_balance(model, "early cancel", &answer);
            let key = format!("{bet_id}:cancel");
            model.ack_as(&key, 200, false, answer.attempts, "COMMITTED", 0);
        } else {
            return Self::unexpected(model, "early cancel", &answer);
        }
        let answer = self
            .send(&self.transaction("WITHDRAW", bet_id, round, amount, false))
            .await;
        if answer.code() == Some("PAM_ERR_TRANS_ALREADY_CANCELLED") {
            model.ack_as(
                bet_id,
                409,
                false,
                answer.attempts,
                "VOIDED_BY_PRIOR_ROLLBACK",
                0,
            );
        } else {
            Self::unexpected(model, "voided withdraw", &answer);
        }
    }
}

/// Creates `count` funded players of `provider` and starts each one's PAM client, playing
/// until `stop`; each task ends with the player's model.
pub async fn start_pam_players(
    provider: &Provider,
    base_url: &str,
    count: usize,
    target: Arc<dyn Target>,
    log: &SharedRetryLog,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<PlayerModel>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut players = Vec::with_capacity(count);
    for _ in 0..count {
        let player_id = unique_id("pam");
        let session_token = provider.player(base_url, &player_id, START_BALANCE).await;
        players.push(PamPlayer {
            provider: provider.clone(),
            player_id,
            session_token,
            target: target.clone(),
            log: log.clone(),
            client: client.clone(),
        });
    }
    players
        .into_iter()
        .enumerate()
        .map(|(i, player)| tokio::spawn(player.play(1_000 + i as u64, stop.clone())))
        .collect()
}
