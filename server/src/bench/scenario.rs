//! The four load patterns. Each client is one task with at most one request in flight;
//! in `first` and `mixed` it owns a share of the players, so it knows every balance the
//! wallet must answer, and in `hot` all clients share one player.
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::exchange::{check_first, check_replay, send, send_unchecked, Definitive, Expected};
use super::provision::{PlayerModel, CURRENCY, SCALE};
use super::stats::Recorder;
use crate::simulate::client::{minor_units, UncheckedAnswer, WalletClient};

pub(super) const BET: &str = "/wallet/v1/bet";
const WIN: &str = "/wallet/v1/win";
const ROLLBACK: &str = "/wallet/v1/rollback";
const CLOSE: &str = "/wallet/v1/rounds/close";
/// Executed requests kept for `replay`, across all clients.
const REPLAY_POOL: usize = 50_000;
/// Every bet in `hot` is this much, so the answers' balances form an exact sequence.
pub const HOT_BET_MINOR: i64 = 100;
/// `mixed`: the share of requests sent a second time at once.
const DUPLICATE_SHARE: f64 = 0.05;

/// What every client of a run shares.
pub struct Shared {
    pub wallet: WalletClient,
    pub run_tag: String,
    pub game_id: String,
    /// `--rate`: each client starts an operation at most this often.
    pub pace: Option<Duration>,
    /// `--report-every`: the window every latency is also written to.
    pub window: Option<super::stats::Window>,
}

/// A request that executed, to be sent again in `replay`.
pub struct Executed {
    path: &'static str,
    body: Vec<u8>,
    status: u16,
    transaction: Value,
    player: usize,
}

/// When a client stops starting operations.
#[derive(Clone, Copy)]
pub enum Until {
    Deadline(Instant),
    Operations(u64),
}

/// What one client did, to be merged into the run's state.
#[derive(Default)]
pub struct ClientOutcome {
    pub recorder: Recorder,
    /// The players it owned, with their indexes, as the model now sees them.
    pub players: Vec<(usize, PlayerModel)>,
    pub executed: Vec<Executed>,
    /// The players' net movement against the provider's clearing account.
    pub provider_delta_minor: i64,
    /// Idempotency keys created (first executions).
    pub keys: u64,
    /// `hot`: the balance after each committed bet.
    pub hot_balances: Vec<i64>,
    /// `replay`: each answer with the index of the request it answers in the pool.
    pub unchecked: Vec<(usize, UncheckedAnswer)>,
}

/// Checks `replay`'s answers against the first answers in `pool` and the players'
/// balances now (`None` where the model lost track), into `recorder`.
pub fn check_replays(
    recorder: &mut Recorder,
    key: &crate::simulate::client::ProviderKey,
    pool: &[Executed],
    balances: &[Option<i64>],
    unchecked: Vec<(usize, UncheckedAnswer)>,
) {
    for (index, answer) in unchecked {
        let executed = &pool[index];
        let balance = balances.get(executed.player).copied().flatten();
        if let Some(wrong) = check_replay(
            &answer.checked(key),
            executed.status,
            &executed.transaction,
            balance,
        ) {
            recorder.wrong(wrong);
        }
    }
}

pub struct Client {
    shared: Arc<Shared>,
    /// Which spawn of clients this is in the run: ids stay unique across scenarios.
    epoch: u32,
    index: usize,
    sequence: u64,
    rng: StdRng,
    keep_executed: usize,
    /// The share of requests sent a second time at once.
    duplicate_share: f64,
    /// `--rate`: when the next operation may start.
    next_start: Option<Instant>,
    out: ClientOutcome,
}

impl Client {
    pub fn new(shared: Arc<Shared>, epoch: u32, index: usize, clients: usize, seed: u64) -> Client {
        let mut out = ClientOutcome::default();
        out.recorder.window.clone_from(&shared.window);
        Client {
            shared,
            epoch,
            index,
            sequence: 0,
            rng: StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9)),
            keep_executed: REPLAY_POOL / clients.max(1),
            duplicate_share: 0.0,
            next_start: None,
            out,
        }
    }

    /// `--rate`: waits for this client's next slot. Slots follow each other at the pace
    /// whatever the answers' latency, so the load stays open-ended; a client that fell
    /// behind starts at once rather than bursting to catch up.
    async fn pace(&mut self) {
        let Some(pace) = self.shared.pace else {
            return;
        };
        let now = Instant::now();
        let start = self
            .next_start
            .unwrap_or_else(|| now + pace.mul_f64(self.rng.gen::<f64>()));
        if start > now {
            tokio::time::sleep_until(start.into()).await;
        }
        self.next_start = Some(start.max(now) + pace);
    }

    fn next_id(&mut self, kind: &str) -> String {
        self.sequence += 1;
        format!(
            "{}-{kind}{}.{}-{}",
            self.shared.run_tag, self.epoch, self.index, self.sequence
        )
    }

    fn running(&self, until: Until) -> bool {
        match until {
            Until::Deadline(deadline) => Instant::now() < deadline,
            Until::Operations(n) => self.out.recorder.operations < n,
        }
    }

    /// `first`: one bet after another, each in a new round, round-robin over the players.
    pub async fn first(
        mut self,
        mut players: Vec<(usize, PlayerModel)>,
        until: Until,
    ) -> ClientOutcome {
        let mut next = 0;
        while self.running(until) && !players.is_empty() {
            let slot = next % players.len();
            let (index, player) = &mut players[slot];
            next += 1;
            let round_id = self.next_id("r");
            let amount = self.rng.gen_range(100..1_000);
            self.bet(*index, player, &round_id, amount, false).await;
        }
        self.out.players = players;
        self.out
    }

    /// `replay`: executed requests again, in random order. The answers come back
    /// unchecked (`ClientOutcome::unchecked`), to be checked once every client has
    /// stopped ([`check_replays`]): a replay's own cost is small, and a client that
    /// checked each answer before sending the next would measure itself as much as the
    /// wallet (docs/PERFORMANCE.md, "The bench's own connections").
    pub async fn replay(mut self, pool: Arc<Vec<Executed>>, until: Until) -> ClientOutcome {
        while self.running(until) && !pool.is_empty() {
            let index = self.rng.gen_range(0..pool.len());
            let executed = &pool[index];
            if let Some((answer, _)) = send_unchecked(
                &self.shared.wallet,
                executed.path,
                &executed.body,
                &mut self.out.recorder,
            )
            .await
            {
                self.out.unchecked.push((index, answer));
            }
        }
        self.out.recorder.stopped = Some(Instant::now());
        self.out
    }

    /// `hot`: bets of [`HOT_BET_MINOR`] on the one hot player, each in a new round.
    pub async fn hot(
        mut self,
        session_token: Arc<(String, String)>,
        until: Until,
    ) -> ClientOutcome {
        let (player_id, session) = session_token.as_ref();
        while self.running(until) {
            let transaction_id = self.next_id("h");
            let round_id = self.next_id("r");
            let body = bet_body(
                &transaction_id,
                player_id,
                session,
                &self.shared.game_id,
                &round_id,
                HOT_BET_MINOR,
                false,
            );
            let Some(definitive) =
                send(&self.shared.wallet, BET, &body, &mut self.out.recorder).await
            else {
                continue;
            };
            self.out.keys += 1;
            let answer = &definitive.answer;
            let balance_after = minor_units(&answer.body["transaction"]["balance_after"]);
            match (answer.status, balance_after, answer.signature_valid) {
                (200, Some(balance_after), Some(true)) => {
                    self.out.hot_balances.push(balance_after);
                    self.out.provider_delta_minor -= HOT_BET_MINOR;
                }
                _ => self
                    .out
                    .recorder
                    .wrong(format!("hot bet: {} {}", answer.status, answer.body)),
            }
        }
        self.out
    }

    /// `mixed`: rounds of bets, wins, rollbacks and closes over the client's players.
    pub async fn mixed(
        mut self,
        mut players: Vec<(usize, PlayerModel)>,
        until: Until,
    ) -> ClientOutcome {
        let mut next = 0;
        while self.running(until) && !players.is_empty() {
            let slot = next % players.len();
            let (index, player) = &mut players[slot];
            next += 1;
            self.round(*index, player).await;
        }
        self.out.players = players;
        self.out
    }

    /// One round, in proportions a slot provider sends: mostly a bet and its win (often
    /// zero), some rolled back, some with two bets, some closed by a separate call.
    async fn round(&mut self, index: usize, player: &mut PlayerModel) {
        let round_id = self.next_id("r");
        let amount = self.rng.gen_range(100..1_000);
        let roll: f64 = self.rng.gen();
        let Some(bet_id) = self.bet(index, player, &round_id, amount, false).await else {
            return;
        };
        let win = if self.rng.gen_bool(0.4) {
            0
        } else {
            self.rng.gen_range(0..3 * amount)
        };
        if roll < 0.55 {
            self.win(index, player, &round_id, win, Some(&bet_id), true)
                .await;
        } else if roll < 0.70 {
            self.win(index, player, &round_id, win, None, false).await;
            self.close(index, player, &round_id).await;
        } else if roll < 0.85 {
            self.rollback(index, player, &round_id, &bet_id, amount)
                .await;
            self.close(index, player, &round_id).await;
        } else {
            let second = self.rng.gen_range(100..1_000);
            if self
                .bet(index, player, &round_id, second, false)
                .await
                .is_some()
            {
                self.win(index, player, &round_id, win, None, true).await;
            }
        }
    }

    /// A bet; its transaction id when it committed.
    async fn bet(
        &mut self,
        index: usize,
        player: &mut PlayerModel,
        round_id: &str,
        amount: i64,
        round_closed: bool,
    ) -> Option<String> {
        let transaction_id = self.next_id("b");
        let body = bet_body(
            &transaction_id,
            &player.id,
            &player.session_token,
            &self.shared.game_id,
            round_id,
            amount,
            round_closed,
        );
        self.money(BET, body, index, player, -amount, None)
            .await
            .then_some(transaction_id)
    }

    async fn win(
        &mut self,
        index: usize,
        player: &mut PlayerModel,
        round_id: &str,
        amount: i64,
        reference: Option<&str>,
        round_closed: bool,
    ) {
        let transaction_id = self.next_id("w");
        let mut body = json!({
            "transaction_id": transaction_id, "player_id": player.id,
            "round_id": round_id, "game_id": self.shared.game_id,
            "amount": money(amount), "round_closed": round_closed,
        });
        if let Some(reference) = reference {
            body["reference_transaction_id"] = json!(reference);
        }
        self.money(
            WIN,
            body.to_string().into_bytes(),
            index,
            player,
            amount,
            None,
        )
        .await;
    }

    async fn rollback(
        &mut self,
        index: usize,
        player: &mut PlayerModel,
        round_id: &str,
        target: &str,
        amount: i64,
    ) {
        let transaction_id = self.next_id("rb");
        let body = json!({
            "transaction_id": transaction_id, "player_id": player.id,
            "round_id": round_id, "game_id": self.shared.game_id,
            "target_transaction_id": target, "amount_hint": money(amount),
        });
        self.money(
            ROLLBACK,
            body.to_string().into_bytes(),
            index,
            player,
            amount,
            Some("REFUNDED"),
        )
        .await;
    }

    async fn close(&mut self, index: usize, player: &mut PlayerModel, round_id: &str) {
        let transaction_id = self.next_id("c");
        let body = json!({
            "transaction_id": transaction_id, "player_id": player.id,
            "round_id": round_id, "game_id": self.shared.game_id,
        });
        self.money(CLOSE, body.to_string().into_bytes(), index, player, 0, None)
            .await;
    }

    /// Sends an operation that must execute and move the player's balance by `delta`;
    /// in `mixed`, 5 % are sent a second time and must be answered as replays. `true`
    /// when it committed.
    async fn money(
        &mut self,
        path: &'static str,
        body: Vec<u8>,
        index: usize,
        player: &mut PlayerModel,
        delta: i64,
        outcome: Option<&str>,
    ) -> bool {
        self.pace().await;
        let Some(definitive) = send(&self.shared.wallet, path, &body, &mut self.out.recorder).await
        else {
            player.uncertain = true;
            return false;
        };
        self.out.keys += 1;
        let expected = Expected {
            what: path.trim_start_matches("/wallet/v1/"),
            balance_after: player.balance_minor + delta,
            outcome,
        };
        if let Some(wrong) = check_first(&definitive, &expected) {
            self.out.recorder.wrong(wrong);
        }
        let committed = definitive.answer.status == 200;
        if committed {
            player.balance_minor += delta;
            self.out.provider_delta_minor += delta;
        }
        if self.duplicate_share > 0.0 && self.rng.gen_bool(self.duplicate_share) {
            self.duplicate(path, &body, &definitive, player.balance_minor)
                .await;
        }
        if committed && self.out.executed.len() < self.keep_executed {
            self.out.executed.push(Executed {
                path,
                body,
                status: definitive.answer.status,
                transaction: definitive.answer.body["transaction"].clone(),
                player: index,
            });
        }
        committed
    }

    async fn duplicate(&mut self, path: &str, body: &[u8], first: &Definitive, balance: i64) {
        let Some(again) = send(&self.shared.wallet, path, body, &mut self.out.recorder).await
        else {
            return;
        };
        if let Some(wrong) = check_replay(
            &again.answer,
            first.answer.status,
            &first.answer.body["transaction"],
            Some(balance),
        ) {
            self.out.recorder.wrong(format!("duplicate {wrong}"));
        }
    }

    /// Sends 5 % of the requests twice, as `mixed` does.
    pub fn with_duplicates(mut self) -> Client {
        self.duplicate_share = DUPLICATE_SHARE;
        self
    }
}

fn money(amount: i64) -> Value {
    json!({ "value": amount.to_string(), "currency": CURRENCY, "scale": SCALE })
}

pub(super) fn bet_body(
    transaction_id: &str,
    player_id: &str,
    session_token: &str,
    game_id: &str,
    round_id: &str,
    amount: i64,
    round_closed: bool,
) -> Vec<u8> {
    json!({
        "transaction_id": transaction_id, "player_id": player_id,
        "session_token": session_token, "round_id": round_id, "game_id": game_id,
        "amount": money(amount), "kind": "BET", "round_closed": round_closed,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::client::ProviderKey;
    use crate::wallet::signing;

    fn signed(key: &ProviderKey, body: &Value) -> UncheckedAnswer {
        let raw = body.to_string().into_bytes();
        let timestamp = "1765000000000";
        let signature = signing::sign(
            &key.secret,
            &signing::response_canonical(200, timestamp, &raw),
        );
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("X-Wallet-Timestamp", timestamp.parse().unwrap());
        headers.insert("X-Wallet-Signature", signature.parse().unwrap());
        UncheckedAnswer::new(200, &headers, raw)
    }

    #[test]
    fn replays_checked_after_the_clock_still_catch_a_wrong_answer() {
        let key = ProviderKey {
            provider_id: "p".to_owned(),
            key_id: "k".to_owned(),
            secret: "a-secret-long-enough-for-the-test".to_owned(),
        };
        let transaction = json!({ "transaction_id": "t1", "balance_after": "9.00" });
        let pool = vec![Executed {
            path: BET,
            body: Vec::new(),
            status: 200,
            transaction: transaction.clone(),
            player: 0,
        }];
        let balance = json!({ "value": "900", "currency": CURRENCY, "scale": SCALE });
        let right = json!({ "replayed": true, "transaction": transaction, "balance": balance });
        let mut not_a_replay = right.clone();
        not_a_replay["replayed"] = json!(false);
        let mut recorder = Recorder::default();
        let unchecked = vec![(0, signed(&key, &right)), (0, signed(&key, &not_a_replay))];
        check_replays(&mut recorder, &key, &pool, &[Some(900)], unchecked);
        let figures = recorder.figures("replay", 1, Duration::from_secs(1));
        assert_eq!(figures.wrong_answers, 1, "{figures:?}");
    }
}
