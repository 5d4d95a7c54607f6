//! What happened: players making deposits and playing rounds at the providers' games, in
//! the proportions a casino sees, spread over the configured days; and a few findings
//! planted on purpose, so reconciliation has something to report.
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::ActiveValue::Set;
use serde_json::{json, Value};

use super::rows::{Batch, FirstIds, Op, Outcome, Rows, SeedPlayer, SeedProvider};
use crate::db::entities::{round, tombstone};
use crate::domain::{PlayerId, ProviderId, RoundState, TxState};
use crate::error::ErrorCode;
use crate::idempotency::OpFields;
use crate::money::Operation;
use crate::wallet::operations::{Bet, CloseRound, Rollback, Win};

/// Players' currencies: mostly euros.
const CURRENCIES: [&str; 10] = [
    "EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "USD", "USD", "JPY",
];
const PROVIDERS: [&str; 5] = [
    "spinworks",
    "lucky-forge",
    "northern-reels",
    "tidal-tables",
    "ember-live",
];
/// A player below this tops up before playing on.
const TOP_UP_BELOW_MINOR: i64 = 3_000;
const TOP_UP_MINOR: i64 = 50_000;
const ADJUSTMENTS: &str = "/operator/v1/players/{player_id}/adjustments";

/// The findings planted on purpose, as reconciliation will report them.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Planted {
    /// Committed bets left in open rounds, 2–20 hours old: `PENDING_ROLLBACK`.
    pub pending_rollbacks: u64,
    /// Of those, rounds open for days: also `STALE_ROUND`.
    pub stale_rounds: u64,
    /// Rollbacks of bets that never came: `UNCLAIMED_TOMBSTONE`.
    pub unclaimed_tombstones: u64,
    /// Rollbacks whose `amount_hint` differed from the bet: `AMOUNT_HINT_MISMATCH`.
    pub hint_mismatches: u64,
}

/// The time of the n-th transaction out of `total`, spread evenly from `start` to a
/// minute ago.
struct Clock {
    start: DateTime<Utc>,
    span_ms: i64,
    total: u64,
}

impl Clock {
    fn at(&self, n: u64) -> DateTime<Utc> {
        let fraction = n.min(self.total) as f64 / self.total.max(1) as f64;
        self.start + Duration::milliseconds((self.span_ms as f64 * fraction) as i64)
    }
}

/// One round being played.
struct RoundPlay {
    provider: usize,
    player: usize,
    round_id: String,
    opened_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
}

/// How a round's bet and its win are sent (see `History::bet_and_win`).
#[derive(Clone, Copy)]
struct BetWin {
    bet: &'static str,
    win: &'static str,
    /// The win names its bet (`bet_transaction_id`).
    names_bet: bool,
    /// The win closes the round.
    closes: bool,
}

impl BetWin {
    const PLAIN: BetWin = BetWin {
        bet: "BET",
        win: "WIN",
        names_bet: true,
        closes: true,
    };
}

pub struct History {
    pub rows: Rows,
    pub providers: Vec<SeedProvider>,
    pub players: Vec<SeedPlayer>,
    pub planted: Planted,
    clock: Clock,
    now: DateTime<Utc>,
    sequence: u64,
}

impl History {
    pub fn new(
        tag: &str,
        providers: usize,
        players: usize,
        days: u32,
        total: u64,
        seed: u64,
        first_ids: FirstIds,
    ) -> History {
        let mut rng = StdRng::seed_from_u64(seed);
        // Whole microseconds, as the wallet stores its own times (`money::batch`).
        let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
        let providers = PROVIDERS
            .iter()
            .take(providers)
            .map(|slug| SeedProvider {
                id: ProviderId::parse(format!("{tag}-{slug}")).expect("a valid provider id"),
                key_id: format!("{tag}-{slug}-key1"),
                game_id: format!("{slug}-slots"),
            })
            .collect::<Vec<_>>();
        let rows_rng = StdRng::seed_from_u64(rng.gen());
        let events_from = now
            - Duration::from_std(crate::events::delivery::DEFAULT_OUTBOX_RETENTION)
                .expect("a retention in range");
        let mut rows = Rows::new(tag, first_ids, events_from, rows_rng);
        let players = (0..players)
            .map(|index| {
                let code = CURRENCIES[rng.gen_range(0..CURRENCIES.len())];
                SeedPlayer {
                    id: format!("{tag}-p{index:07}"),
                    currency: rows.currencies.currency(code).expect("a known currency"),
                    balance_minor: 0,
                    head: crate::ledger::chain::GENESIS.to_owned(),
                    event_sequence: 0,
                    sessions: (0..providers.len())
                        .map(|_| hex::encode(rng.gen::<[u8; 20]>()))
                        .collect(),
                    dirty: false,
                }
            })
            .collect();
        rows.rng = StdRng::seed_from_u64(rng.gen());
        let start = now - Duration::days(i64::from(days));
        History {
            rows,
            providers,
            players,
            planted: Planted::default(),
            clock: Clock {
                start,
                span_ms: (Duration::days(i64::from(days)) - Duration::minutes(1))
                    .num_milliseconds(),
                total,
            },
            now,
            sequence: 0,
        }
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.clock.start
    }

    fn next_id(&mut self, kind: &str) -> String {
        self.sequence += 1;
        format!("{}-{kind}{:09}", self.rows.tag, self.sequence)
    }

    /// Every player's first deposit, at the start.
    pub fn first_deposits(&mut self, batch: &mut Batch) {
        for player in 0..self.players.len() {
            let amount = self.rows.rng.gen_range(20..500) * 1_000;
            let at = self.clock.start + Duration::seconds(player as i64);
            self.adjustment(batch, player, "CREDIT", amount, "first deposit", at);
        }
    }

    /// One round at a random provider for a random player: mostly a bet and its win
    /// (often zero), some rolled back, some with two bets, some declined, free bets,
    /// jackpots, and rollbacks that arrive before their bet.
    pub fn round(&mut self, batch: &mut Batch, written: u64) {
        let player = self.rows.rng.gen_range(0..self.players.len());
        let provider = self.rows.rng.gen_range(0..self.providers.len());
        let at = self.clock.at(written);
        if self.players[player].balance_minor < TOP_UP_BELOW_MINOR {
            self.adjustment(batch, player, "CREDIT", TOP_UP_MINOR, "deposit", at);
        }
        let mut play = RoundPlay {
            provider,
            player,
            round_id: self.next_id("r"),
            opened_at: None,
            closed_at: None,
        };
        let later = |seconds: i64| at + Duration::seconds(seconds);
        let roll: u32 = self.rows.rng.gen_range(0..1000);
        let amount = self.bet_amount(player);
        match roll {
            0..=599 => {
                self.bet_and_win(batch, &mut play, amount, BetWin::PLAIN, at, later(3));
            }
            600..=699 => {
                let open = BetWin {
                    names_bet: false,
                    closes: false,
                    ..BetWin::PLAIN
                };
                if self.bet_and_win(batch, &mut play, amount, open, at, later(3)) {
                    self.close(batch, &mut play, later(4));
                }
            }
            700..=779 => {
                if let Some(bet) = self.bet(batch, &mut play, amount, "BET", at) {
                    self.rollback(batch, &mut play, &bet, amount, amount, later(30));
                    self.close(batch, &mut play, later(31));
                }
            }
            780..=839 => {
                let second = self
                    .bet_amount(player)
                    .min(self.players[player].balance_minor - amount);
                let first = self.bet(batch, &mut play, amount, "BET", at);
                let other = if second > 0 {
                    self.bet(batch, &mut play, second, "BET", later(1))
                } else {
                    None
                };
                let settles: Vec<usize> = first.iter().chain(other.iter()).map(|b| b.0).collect();
                if !settles.is_empty() {
                    let win = self.win_amount(amount + second.max(0));
                    self.win(batch, &mut play, win, "WIN", None, &settles, true, later(3));
                }
            }
            840..=889 => {
                let too_much =
                    self.players[player].balance_minor + self.rows.rng.gen_range(1..5_000);
                self.bet(batch, &mut play, too_much, "BET", at);
                self.bet_and_win(batch, &mut play, amount, BetWin::PLAIN, later(2), later(5));
            }
            890..=939 => {
                let free = BetWin {
                    bet: "FREE_BET",
                    win: "FREE_WIN",
                    names_bet: false,
                    closes: true,
                };
                self.bet_and_win(batch, &mut play, amount, free, at, later(3));
            }
            940..=969 => {
                if let Some(bet) = self.bet(batch, &mut play, amount, "BET", at) {
                    self.rollback(batch, &mut play, &bet, amount, amount, later(30));
                    self.win_after_rollback(batch, &mut play, &bet, later(40));
                    self.close(batch, &mut play, later(41));
                }
            }
            970..=989 => self.rollback_before_bet(batch, &mut play, amount, at, true),
            _ => {
                let jackpot = self.rows.rng.gen_range(10_000..500_000);
                self.win(
                    batch,
                    &mut play,
                    jackpot,
                    "JACKPOT_WIN",
                    None,
                    &[],
                    false,
                    at,
                );
            }
        }
        self.finish_round(batch, play);
    }

    /// The findings planted on purpose (see [`Planted`]).
    pub fn plant(&mut self, batch: &mut Batch) {
        for (count, min_h, max_h, stale) in [(5, 2, 20, false), (3, 72, 240, true)] {
            for _ in 0..count {
                let player = self.rows.rng.gen_range(0..self.players.len());
                let hours = self.rows.rng.gen_range(min_h..max_h);
                let at = self.now - Duration::hours(hours);
                let mut play = self.play(player);
                let amount = self
                    .bet_amount(player)
                    .min(self.players[player].balance_minor);
                if amount > 0 && self.bet(batch, &mut play, amount, "BET", at).is_some() {
                    self.planted.pending_rollbacks += 1;
                    self.planted.stale_rounds += u64::from(stale);
                }
                self.finish_round(batch, play);
            }
        }
        for _ in 0..3 {
            let player = self.rows.rng.gen_range(0..self.players.len());
            let at = self.now - Duration::hours(self.rows.rng.gen_range(2..96));
            let mut play = self.play(player);
            let amount = self.bet_amount(player);
            self.rollback_before_bet(batch, &mut play, amount, at, false);
            self.planted.unclaimed_tombstones += 1;
        }
        for _ in 0..3 {
            let player = self.rows.rng.gen_range(0..self.players.len());
            let at = self.now - Duration::hours(self.rows.rng.gen_range(2..96));
            let mut play = self.play(player);
            let amount = self
                .bet_amount(player)
                .min(self.players[player].balance_minor);
            if let Some(bet) = self.bet(batch, &mut play, amount, "BET", at) {
                self.rollback(
                    batch,
                    &mut play,
                    &bet,
                    amount,
                    amount + 100,
                    at + Duration::seconds(30),
                );
                self.close(batch, &mut play, at + Duration::seconds(31));
                self.planted.hint_mismatches += 1;
            }
            self.finish_round(batch, play);
        }
    }

    fn play(&mut self, player: usize) -> RoundPlay {
        RoundPlay {
            provider: self.rows.rng.gen_range(0..self.providers.len()),
            player,
            round_id: self.next_id("r"),
            opened_at: None,
            closed_at: None,
        }
    }

    /// A bet of `amount` at `bet_at` and, if it was accepted, its win (drawn as
    /// [`History::win_amount`] draws it) at `win_at`. Returns whether the bet was accepted.
    fn bet_and_win(
        &mut self,
        batch: &mut Batch,
        play: &mut RoundPlay,
        amount: i64,
        shape: BetWin,
        bet_at: DateTime<Utc>,
        win_at: DateTime<Utc>,
    ) -> bool {
        let Some(bet) = self.bet(batch, play, amount, shape.bet, bet_at) else {
            return false;
        };
        let win = self.win_amount(amount);
        let reference = shape.names_bet.then_some(&bet);
        self.win(
            batch,
            play,
            win,
            shape.win,
            reference,
            &[bet.0],
            shape.closes,
            win_at,
        );
        true
    }

    fn bet_amount(&mut self, player: usize) -> i64 {
        let balance = self.players[player].balance_minor;
        self.rows.rng.gen_range(10..2_000).min(balance.max(1))
    }

    /// A return to player of about 96 %: most spins lose, some pay a multiple.
    fn win_amount(&mut self, stake: i64) -> i64 {
        if self.rows.rng.gen_bool(0.6) {
            0
        } else {
            (stake as f64 * self.rows.rng.gen_range(0.3..4.5)) as i64
        }
    }

    fn finish_round(&mut self, batch: &mut Batch, play: RoundPlay) {
        let Some(opened_at) = play.opened_at else {
            return;
        };
        let provider = &self.providers[play.provider];
        batch.rounds.push(round::ActiveModel {
            provider_id: Set(provider.id.as_str().to_owned()),
            player_id: Set(self.players[play.player].id.clone()),
            round_id: Set(play.round_id),
            game_id: Set(provider.game_id.clone()),
            state: Set(if play.closed_at.is_some() {
                RoundState::Closed
            } else {
                RoundState::Open
            }
            .as_str()
            .to_owned()),
            opened_at: Set(opened_at),
            closed_at: Set(play.closed_at),
        });
    }

    fn base_body(&mut self, play: &RoundPlay, kind: &str) -> (String, Value) {
        let transaction_id = self.next_id(kind);
        let body = json!({
            "transaction_id": transaction_id,
            "player_id": self.players[play.player].id,
            "round_id": play.round_id,
            "game_id": self.providers[play.provider].game_id,
        });
        (transaction_id, body)
    }

    fn wire(&self, player: usize, minor: i64) -> Value {
        let money = self.rows.money(&self.players[player], minor);
        json!(money.to_wire())
    }

    fn clearing(&self, play: &RoundPlay) -> String {
        crate::ledger::provider_account(
            self.providers[play.provider].id.as_str(),
            self.players[play.player].currency.code(),
        )
    }

    /// A bet; `(row, transaction id)` when it committed, `None` when declined for funds.
    fn bet(
        &mut self,
        batch: &mut Batch,
        play: &mut RoundPlay,
        amount: i64,
        kind: &str,
        at: DateTime<Utc>,
    ) -> Option<(usize, String)> {
        let (transaction_id, mut body) = self.base_body(play, "b");
        body["session_token"] = json!(self.players[play.player].sessions[play.provider]);
        body["amount"] = self.wire(play.player, amount);
        body["kind"] = json!(kind);
        let (keyed, raw_body) = self
            .rows
            .keyed(&self.providers[play.provider], &body, Bet::parse);
        let moves = kind == "BET";
        let funded = !moves || self.players[play.player].balance_minor >= amount;
        let (posting, outcome) = if !funded {
            (
                None,
                Outcome::Declined {
                    code: ErrorCode::InsufficientFunds,
                    message: "balance too low for this bet",
                    state: TxState::Declined,
                },
            )
        } else {
            play.opened_at.get_or_insert(at);
            (
                moves.then(|| (-amount, self.clearing(play))),
                done(OpFields::Bet {}),
            )
        };
        let op = Op {
            provider: Some(&self.providers[play.provider]),
            endpoint: "/wallet/v1/bet",
            keyed,
            raw_body,
            posting,
            outcome,
            at,
        };
        let (row, _) = self.rows.store(batch, &mut self.players[play.player], op);
        funded.then_some((row, transaction_id))
    }

    #[allow(clippy::too_many_arguments)]
    fn win(
        &mut self,
        batch: &mut Batch,
        play: &mut RoundPlay,
        amount: i64,
        kind: &str,
        reference: Option<&(usize, String)>,
        settles: &[usize],
        round_closed: bool,
        at: DateTime<Utc>,
    ) {
        let (_, mut body) = self.base_body(play, "w");
        body["amount"] = self.wire(play.player, amount);
        body["kind"] = json!(kind);
        if let Some((_, reference)) = reference {
            body["reference_transaction_id"] = json!(reference);
        }
        let fields = OpFields::Win {
            reference_transaction_id: reference.map(|(_, reference)| reference.to_owned()),
        };
        if round_closed {
            body["round_closed"] = json!(true);
        }
        if kind == "JACKPOT_WIN" {
            body.as_object_mut().map(|b| b.remove("round_id"));
        }
        let (keyed, raw_body) = self
            .rows
            .keyed(&self.providers[play.provider], &body, Win::parse);
        let op = Op {
            provider: Some(&self.providers[play.provider]),
            endpoint: "/wallet/v1/win",
            keyed,
            raw_body,
            posting: Some((amount, self.clearing(play))),
            outcome: done(fields),
            at,
        };
        self.rows.store(batch, &mut self.players[play.player], op);
        for row in settles {
            let bet = &mut batch.transactions[*row];
            if bet.state.as_ref() == TxState::Committed.as_str() {
                bet.state = Set(TxState::Settled.as_str().to_owned());
                bet.updated_at = Set(at);
            }
        }
        if round_closed && play.opened_at.is_some() {
            play.closed_at = Some(at);
        }
    }

    /// A win for a bet that was rolled back: declined, recorded.
    fn win_after_rollback(
        &mut self,
        batch: &mut Batch,
        play: &mut RoundPlay,
        bet: &(usize, String),
        at: DateTime<Utc>,
    ) {
        let (_, mut body) = self.base_body(play, "w");
        body["amount"] = self.wire(play.player, 100);
        body["kind"] = json!("WIN");
        body["reference_transaction_id"] = json!(bet.1);
        let (keyed, raw_body) = self
            .rows
            .keyed(&self.providers[play.provider], &body, Win::parse);
        let op = Op {
            provider: Some(&self.providers[play.provider]),
            endpoint: "/wallet/v1/win",
            keyed,
            raw_body,
            posting: None,
            outcome: Outcome::Declined {
                code: ErrorCode::TransactionRolledBack,
                message: "the bet this win settles was rolled back",
                state: TxState::Declined,
            },
            at,
        };
        self.rows.store(batch, &mut self.players[play.player], op);
    }

    fn rollback(
        &mut self,
        batch: &mut Batch,
        play: &mut RoundPlay,
        bet: &(usize, String),
        amount: i64,
        hint: i64,
        at: DateTime<Utc>,
    ) {
        let (_, mut body) = self.base_body(play, "rb");
        body["target_transaction_id"] = json!(bet.1);
        body["amount_hint"] = self.wire(play.player, hint);
        body["reason"] = json!("provider timeout");
        let (keyed, raw_body) =
            self.rows
                .keyed(&self.providers[play.provider], &body, Rollback::parse);
        let mismatch = hint != amount;
        let fields = OpFields::Rollback {
            target_transaction_id: bet.1.clone(),
            outcome: "REFUNDED",
            refunded: self
                .rows
                .money(&self.players[play.player], amount)
                .to_wire(),
            amount_hint_mismatch: mismatch,
        };
        let op = Op {
            provider: Some(&self.providers[play.provider]),
            endpoint: "/wallet/v1/rollback",
            keyed,
            raw_body,
            posting: Some((amount, self.clearing(play))),
            outcome: done(fields),
            at,
        };
        let (_, id) = self.rows.store(batch, &mut self.players[play.player], op);
        let target = &mut batch.transactions[bet.0];
        target.state = Set(TxState::RolledBack.as_str().to_owned());
        target.updated_at = Set(at);
        if mismatch {
            batch.hint_mismatches.push(id);
        }
    }

    /// A rollback of a bet the wallet has not seen leaves a tombstone; when the bet comes
    /// (if `bet_arrives`), it is voided.
    fn rollback_before_bet(
        &mut self,
        batch: &mut Batch,
        play: &mut RoundPlay,
        amount: i64,
        at: DateTime<Utc>,
        bet_arrives: bool,
    ) {
        let (bet_id, mut bet_body) = self.base_body(play, "b");
        let (rollback_id, mut body) = self.base_body(play, "rb");
        body["target_transaction_id"] = json!(bet_id);
        body["reason"] = json!("bet timed out at the provider");
        let (keyed, raw_body) =
            self.rows
                .keyed(&self.providers[play.provider], &body, Rollback::parse);
        let fields = OpFields::Rollback {
            target_transaction_id: bet_id.clone(),
            outcome: "TARGET_NOT_FOUND_TOMBSTONED",
            refunded: self.rows.money(&self.players[play.player], 0).to_wire(),
            amount_hint_mismatch: false,
        };
        let op = Op {
            provider: Some(&self.providers[play.provider]),
            endpoint: "/wallet/v1/rollback",
            keyed,
            raw_body,
            posting: None,
            outcome: done(fields),
            at,
        };
        self.rows.store(batch, &mut self.players[play.player], op);
        let late_at = at + Duration::seconds(5);
        batch.tombstones.push(tombstone::ActiveModel {
            provider_id: Set(self.providers[play.provider].id.as_str().to_owned()),
            transaction_id: Set(bet_id),
            player_id: Set(self.players[play.player].id.clone()),
            rollback_transaction_id: Set(rollback_id),
            created_at: Set(at),
            late_bet_at: Set(bet_arrives.then_some(late_at)),
        });
        if !bet_arrives {
            return;
        }
        bet_body["session_token"] = json!(self.players[play.player].sessions[play.provider]);
        bet_body["amount"] = self.wire(play.player, amount);
        let (keyed, raw_body) =
            self.rows
                .keyed(&self.providers[play.provider], &bet_body, Bet::parse);
        let op = Op {
            provider: Some(&self.providers[play.provider]),
            endpoint: "/wallet/v1/bet",
            keyed,
            raw_body,
            posting: None,
            outcome: Outcome::Declined {
                code: ErrorCode::TransactionVoided,
                message: "an earlier rollback cancelled this bet",
                state: TxState::VoidedByPriorRollback,
            },
            at: late_at,
        };
        self.rows.store(batch, &mut self.players[play.player], op);
    }

    fn close(&mut self, batch: &mut Batch, play: &mut RoundPlay, at: DateTime<Utc>) {
        let (_, body) = self.base_body(play, "c");
        let (keyed, raw_body) =
            self.rows
                .keyed(&self.providers[play.provider], &body, CloseRound::parse);
        let exists = play.opened_at.is_some();
        let fields = OpFields::CloseRound {
            round_state: if exists { "CLOSED" } else { "NOT_FOUND" },
        };
        let op = Op {
            provider: Some(&self.providers[play.provider]),
            endpoint: "/wallet/v1/rounds/close",
            keyed,
            raw_body,
            posting: None,
            outcome: done(fields),
            at,
        };
        self.rows.store(batch, &mut self.players[play.player], op);
        if exists {
            play.closed_at = Some(at);
        }
    }

    /// A cashier deposit or withdrawal through the operator API.
    fn adjustment(
        &mut self,
        batch: &mut Batch,
        player: usize,
        direction: &str,
        amount: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) {
        let adjustment_id = self.next_id("a");
        let body = json!({
            "adjustment_id": adjustment_id,
            "direction": direction,
            "amount": self.wire(player, amount),
            "reason": reason,
        });
        let raw_body = body.to_string().into_bytes();
        let request = serde_json::from_slice(&raw_body).expect("a well-formed adjustment");
        let player_id =
            PlayerId::parse(self.players[player].id.clone()).expect("a valid player id");
        let request_id = self.rows.request_id();
        let adjustment = crate::operator::adjustment::Adjustment::parse(
            player_id,
            request,
            &raw_body,
            std::sync::Arc::clone(&self.rows.currencies),
            &request_id,
        )
        .expect("a valid adjustment");
        let delta = if direction == "CREDIT" {
            amount
        } else {
            -amount
        };
        let fields = OpFields::Adjustment {
            reason: Some(reason.to_owned()),
        };
        let op = Op {
            provider: None,
            endpoint: ADJUSTMENTS,
            keyed: adjustment.keyed().clone(),
            raw_body,
            posting: Some((
                delta,
                crate::ledger::cashier_account(self.players[player].currency.code()),
            )),
            outcome: done(fields),
            at,
        };
        self.rows.store(batch, &mut self.players[player], op);
    }
}

fn done(fields: OpFields) -> Outcome {
    Outcome::Done {
        state: TxState::Committed,
        fields,
    }
}
