//! The reliability tests' load: players played by clients that retry every request with
//! the same transaction id until its answer is definitive, and keep a model of what each
//! definitive answer means. At the end the database must hold exactly what the clients
//! were told: every acknowledged transaction once, with its status and final state and
//! exactly its ledger entries, every balance equal to the model, the ledger invariants,
//! and `server reconcile` / `server verify-trail` clean.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{json, Value};

use crate::helpers::{assert_invariants_on, money, quote, run_subcommand, unique_id};
use crate::node::{Definitive, Provider, SharedRetryLog, Target};

/// How long one request may be retried before the test calls it a hang.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(120);
pub const START_BALANCE: i64 = 5_000;

/// What the database must hold for one acknowledged transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub http_status: u16,
    /// The transaction's state once everything after it happened (a bet settles later).
    pub state: String,
    /// Its ledger entries: 2 when it moved money, else 0.
    pub entries: i64,
}

/// One player's model, built from definitive answers only.
#[derive(Debug, Default)]
pub struct PlayerModel {
    pub player_id: String,
    pub balance: i64,
    pub acked: HashMap<String, Expected>,
    /// Definitive answers that were replays (a retry after the first answer was lost).
    pub replays: u64,
    pub attempts: u64,
    /// Contradictions between answers and the model, found while playing.
    pub violations: Vec<String>,
}

impl PlayerModel {
    pub fn ack(&mut self, tx_id: &str, answer: &Definitive, state: &str, entries: i64) {
        let replayed = answer.body["replayed"] == true;
        self.ack_as(
            tx_id,
            answer.status,
            replayed,
            answer.attempts,
            state,
            entries,
        );
    }

    /// An acknowledgement whose key holds `http_status`: what the core answered, which a
    /// PAM answer words its own way (`crate::pam_workload`).
    pub fn ack_as(
        &mut self,
        tx_id: &str,
        http_status: u16,
        replayed: bool,
        attempts: u32,
        state: &str,
        entries: i64,
    ) {
        self.attempts += u64::from(attempts);
        if replayed {
            self.replays += 1;
        }
        self.acked.insert(
            tx_id.to_owned(),
            Expected {
                http_status,
                state: state.to_owned(),
                entries,
            },
        );
    }

    pub fn settle(&mut self, bet_id: &str, state: &str) {
        if let Some(bet) = self.acked.get_mut(bet_id) {
            bet.state = state.to_owned();
        }
    }

    /// The answer's `balance_after` must be the model's balance after applying it: each
    /// player is played by one client, one request at a time.
    fn check_balance_after(&mut self, what: &str, answer: &Definitive) {
        let after = answer.tx()["balance_after"]["value"]
            .as_str()
            .unwrap_or("?");
        if after != self.balance.to_string() {
            self.violations.push(format!(
                "{what}: balance_after {after}, model {}: {}",
                self.balance, answer.body
            ));
        }
    }

    pub fn unexpected(&mut self, what: &str, answer: &Definitive) {
        self.violations.push(format!(
            "{what}: unexpected {} {:?}: {}",
            answer.status,
            answer.code(),
            answer.body
        ));
    }
}

/// A player and the client that plays it.
pub struct Player {
    pub provider: Provider,
    pub player_id: String,
    pub session_token: String,
    pub target: Arc<dyn Target>,
    pub log: SharedRetryLog,
}

impl Player {
    async fn send(&self, path: &str, body: &Value) -> Definitive {
        self.provider
            .until_definitive(
                self.target.as_ref(),
                path,
                body,
                &self.log,
                REQUEST_DEADLINE,
            )
            .await
    }

    fn body(&self, round: &str, tx_id: &str) -> Value {
        json!({ "transaction_id": tx_id, "player_id": self.player_id, "round_id": round,
                "game_id": self.provider.game_id })
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
        let amount = rng.gen_range(1..=400);
        if rng.gen_bool(0.1) {
            return self.rollback_first(&round, &bet_id, amount, model).await;
        }
        if !self.bet(&round, &bet_id, amount, model).await {
            return;
        }
        let choice: f64 = rng.gen();
        if choice < 0.45 {
            let win_id = unique_id("win");
            let win_minor = rng.gen_range(1..=800);
            let mut win = self.body(&round, &win_id);
            win["amount"] = money(win_minor, "EUR");
            win["reference_transaction_id"] = json!(bet_id);
            let answer = self.send("/wallet/v1/win", &win).await;
            if answer.status == 200 {
                model.balance += win_minor;
                model.check_balance_after("win", &answer);
                model.ack(&win_id, &answer, "COMMITTED", 2);
                model.settle(&bet_id, "SETTLED");
            } else {
                model.unexpected("win", &answer);
            }
        } else if choice < 0.75 {
            let rollback_id = unique_id("rb");
            let mut rollback = self.body(&round, &rollback_id);
            rollback["target_transaction_id"] = json!(bet_id);
            let answer = self.send("/wallet/v1/rollback", &rollback).await;
            if answer.status == 200 && answer.tx()["outcome"] == "REFUNDED" {
                model.balance += amount;
                model.check_balance_after("rollback", &answer);
                model.ack(&rollback_id, &answer, "COMMITTED", 2);
                model.settle(&bet_id, "ROLLED_BACK");
            } else {
                model.unexpected("rollback", &answer);
            }
        }
        if rng.gen_bool(0.3) {
            let close_id = unique_id("close");
            let answer = self
                .send("/wallet/v1/rounds/close", &self.body(&round, &close_id))
                .await;
            if answer.status == 200 && answer.tx()["round_state"] == "CLOSED" {
                model.ack(&close_id, &answer, "COMMITTED", 0);
            } else {
                model.unexpected("close", &answer);
            }
        }
    }

    /// A bet; `true` when it committed.
    async fn bet(&self, round: &str, bet_id: &str, amount: i64, model: &mut PlayerModel) -> bool {
        let mut bet = self.body(round, bet_id);
        bet["session_token"] = json!(self.session_token);
        bet["amount"] = money(amount, "EUR");
        let answer = self.send("/wallet/v1/bet", &bet).await;
        match (answer.status, answer.code()) {
            (200, _) => {
                model.balance -= amount;
                model.check_balance_after("bet", &answer);
                model.ack(bet_id, &answer, "COMMITTED", 2);
                true
            }
            (422, Some("INSUFFICIENT_FUNDS")) if amount > model.balance => {
                model.ack(bet_id, &answer, "DECLINED", 0);
                false
            }
            _ => {
                model.unexpected("bet", &answer);
                false
            }
        }
    }

    /// A rollback that overtakes its bet: a tombstone, then the bet is voided.
    async fn rollback_first(
        &self,
        round: &str,
        bet_id: &str,
        amount: i64,
        model: &mut PlayerModel,
    ) {
        let rollback_id = unique_id("rb");
        let mut rollback = self.body(round, &rollback_id);
        rollback["target_transaction_id"] = json!(bet_id);
        let answer = self.send("/wallet/v1/rollback", &rollback).await;
        if answer.status == 200 && answer.tx()["outcome"] == "TARGET_NOT_FOUND_TOMBSTONED" {
            model.ack(&rollback_id, &answer, "COMMITTED", 0);
        } else {
            return model.unexpected("early rollback", &answer);
        }
        let mut bet = self.body(round, bet_id);
        bet["session_token"] = json!(self.session_token);
        bet["amount"] = money(amount, "EUR");
        let answer = self.send("/wallet/v1/bet", &bet).await;
        if (answer.status, answer.code()) == (409, Some("TRANSACTION_VOIDED")) {
            model.ack(bet_id, &answer, "VOIDED_BY_PRIOR_ROLLBACK", 0);
        } else {
            model.unexpected("voided bet", &answer);
        }
    }
}

/// Creates `count` funded players of `provider` through `base_url` and starts each one's
/// client, playing until `stop`; each task ends with the player's model.
pub async fn start_players(
    provider: &Provider,
    base_url: &str,
    count: usize,
    target: Arc<dyn Target>,
    log: &SharedRetryLog,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<PlayerModel>> {
    let mut players = Vec::with_capacity(count);
    for _ in 0..count {
        let player_id = unique_id("pl");
        let session_token = provider.player(base_url, &player_id, START_BALANCE).await;
        players.push(Player {
            provider: provider.clone(),
            player_id,
            session_token,
            target: target.clone(),
            log: log.clone(),
        });
    }
    // Every player is funded before any plays, so all start under the same conditions.
    players
        .into_iter()
        .enumerate()
        .map(|(i, player)| tokio::spawn(player.play(i as u64, stop.clone())))
        .collect()
}

/// The totals of a run, for the report.
#[derive(Debug, Default)]
pub struct Totals {
    pub acknowledged: usize,
    pub replays: u64,
    pub attempts: u64,
    pub lost: usize,
    pub doubled: usize,
}

/// Everything the clients were told is in the database exactly once, and nothing else.
/// Panics with every discrepancy found; returns the totals.
pub async fn assert_end_state(
    db: &DatabaseConnection,
    database_url: &str,
    provider_id: &str,
    models: &[PlayerModel],
) -> Totals {
    let mut problems: Vec<String> = models
        .iter()
        .flat_map(|m| m.violations.iter().cloned())
        .collect();
    let stored = stored_transactions(db, provider_id).await;
    let mut totals = Totals::default();
    for model in models {
        totals.replays += model.replays;
        totals.attempts += model.attempts;
        for (tx_id, expected) in &model.acked {
            totals.acknowledged += 1;
            match stored.get(tx_id) {
                None => {
                    totals.lost += 1;
                    problems.push(format!("acknowledged {tx_id} is not stored: {expected:?}"));
                }
                Some(actual) if actual.entries > expected.entries => {
                    totals.doubled += 1;
                    problems.push(format!("{tx_id}: {actual:?}, expected {expected:?}"));
                }
                Some(actual) if actual != expected => {
                    problems.push(format!("{tx_id}: {actual:?}, expected {expected:?}"));
                }
                Some(_) => {}
            }
        }
    }
    let acked: usize = models.iter().map(|m| m.acked.len()).sum();
    if stored.len() != acked {
        let unknown: Vec<&String> = stored
            .keys()
            .filter(|id| !models.iter().any(|m| m.acked.contains_key(*id)))
            .take(10)
            .collect();
        problems.push(format!(
            "{} transactions stored, {acked} acknowledged; never acknowledged: {unknown:?}",
            stored.len()
        ));
    }
    let balances = balances(db, models).await;
    for model in models {
        let stored = balances.get(&model.player_id).copied();
        if stored != Some(model.balance) {
            problems.push(format!(
                "player {}: balance {stored:?}, model {}",
                model.player_id, model.balance
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems (lost {}, doubled {}):\n{}",
        problems.len(),
        totals.lost,
        totals.doubled,
        problems.join("\n")
    );
    assert_invariants_on(db).await;
    for subcommand in ["reconcile", "verify-trail"] {
        let output = run_subcommand(subcommand, database_url).await;
        assert!(
            output.status.success(),
            "`server {subcommand}` after the run: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    totals
}

/// Every key of the provider: (http status, state, ledger entries), and no key twice.
async fn stored_transactions(
    db: &DatabaseConnection,
    provider_id: &str,
) -> HashMap<String, Expected> {
    let sql = format!(
        "SELECT t.transaction_id AS transaction_id, t.http_status AS http_status, t.state AS state, \
                CAST((SELECT COUNT(*) FROM ledger_entries e WHERE e.wallet_transaction_id = t.id) AS BIGINT) AS entries \
         FROM wallet_transactions t WHERE t.scope = {}",
        quote(provider_id)
    );
    let rows = db
        .query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("read the stored transactions");
    let mut stored = HashMap::new();
    for row in rows {
        let tx_id: String = row.try_get("", "transaction_id").expect("transaction_id");
        let http_status: i32 = row.try_get("", "http_status").expect("http_status");
        let expected = Expected {
            http_status: u16::try_from(http_status).unwrap_or(0),
            state: row.try_get("", "state").expect("state"),
            entries: row.try_get("", "entries").expect("entries"),
        };
        assert!(
            stored.insert(tx_id.clone(), expected).is_none(),
            "key {tx_id} stored twice"
        );
    }
    stored
}

async fn balances(db: &DatabaseConnection, models: &[PlayerModel]) -> HashMap<String, i64> {
    let ids: Vec<String> = models.iter().map(|m| quote(&m.player_id)).collect();
    if ids.is_empty() {
        return HashMap::new();
    }
    let sql = format!(
        "SELECT id, balance_minor FROM players WHERE id IN ({})",
        ids.join(", ")
    );
    db.query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("read balances")
        .into_iter()
        .map(|row| {
            (
                row.try_get::<String>("", "id").expect("id"),
                row.try_get::<i64>("", "balance_minor").expect("balance"),
            )
        })
        .collect()
}
