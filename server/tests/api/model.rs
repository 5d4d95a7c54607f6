//! A property test: random sequences of bets, wins, rollbacks, closes, balance reads,
//! blocks and deposits, with exact resends of earlier requests and colliding transaction
//! ids (so rollbacks arrive before their bets, ids get reused with other meanings), run
//! against the server and against an in-memory model of the contract. After every step
//! the HTTP status, error code, replayed flag, transaction state and balance must agree;
//! at the end, every bet's stored state and every balance must too.
//!
//! Where the contract leaves a detail open (whether a declined bet creates its round, for
//! instance) the model accepts either answer and learns which one the server gave, so the
//! test checks everything the contract does say and nothing it does not.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};

use crate::helpers::*;

const PLAYERS: usize = 2;
/// Transaction ids per player: small enough that ids collide with other meanings.
const TX_POOL: usize = 32;
const ROUNDS: usize = 3;
const CURRENCY: &str = "EUR";

#[derive(Debug, Clone)]
enum WinKind {
    Win,
    FreeWin,
    PromoWin,
    JackpotWin,
}

impl WinKind {
    fn wire(&self) -> &'static str {
        match self {
            WinKind::Win => "WIN",
            WinKind::FreeWin => "FREE_WIN",
            WinKind::PromoWin => "PROMO_WIN",
            WinKind::JackpotWin => "JACKPOT_WIN",
        }
    }

    fn needs_bet(&self) -> bool {
        matches!(self, WinKind::Win | WinKind::FreeWin)
    }
}

/// How a step names another transaction: mostly one the world has seen (so rollbacks
/// and wins hit real bets, and late bets hit tombstones), sometimes any id of the pool.
#[derive(Debug, Clone)]
enum Pick {
    Earlier(Index),
    Pool(usize),
}

fn pick(earlier_weight: u32) -> impl Strategy<Value = Pick> {
    prop_oneof![
        earlier_weight => any::<Index>().prop_map(Pick::Earlier),
        1 => (0..TX_POOL).prop_map(Pick::Pool),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Bet {
        player: usize,
        /// `Earlier` picks an id a rollback tombstoned: the late bet.
        tx: Pick,
        round: usize,
        amount: i64,
        free: bool,
        round_closed: bool,
        explicit: bool,
        wrong_currency: bool,
    },
    Win {
        player: usize,
        tx: usize,
        round: Option<usize>,
        amount: i64,
        kind: WinKind,
        reference: Option<Pick>,
        round_closed: bool,
        explicit: bool,
    },
    Rollback {
        player: usize,
        tx: usize,
        target: Pick,
        round: usize,
        hint: Option<i64>,
    },
    Close {
        player: usize,
        tx: usize,
        round: usize,
    },
    Balance {
        player: usize,
    },
    Resend {
        which: Index,
    },
    SetBlocked {
        player: usize,
        blocked: bool,
    },
    Deposit {
        player: usize,
        amount: i64,
    },
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let bet = (
        0..PLAYERS,
        prop_oneof![6 => (0..TX_POOL).prop_map(Pick::Pool), 1 => any::<Index>().prop_map(Pick::Earlier)],
        0..ROUNDS,
        1..=300i64,
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        any::<bool>(),
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |(player, tx, round, amount, free, round_closed, explicit, wrong_currency)| Step::Bet {
                player,
                tx,
                round,
                amount,
                free,
                round_closed,
                explicit,
                wrong_currency,
            },
        );
    let win = (
        0..PLAYERS,
        0..TX_POOL,
        0..ROUNDS,
        0..=300i64,
        0..10u8,
        prop::option::weighted(0.4, pick(4)),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.3),
        any::<bool>(),
    )
        .prop_map(
            |(player, tx, round, amount, kind, reference, round_closed, omit_round, explicit)| {
                let kind = match kind {
                    0..=5 => WinKind::Win,
                    6 => WinKind::FreeWin,
                    7 | 8 => WinKind::PromoWin,
                    _ => WinKind::JackpotWin,
                };
                let round = if omit_round && !kind.needs_bet() {
                    None
                } else {
                    Some(round)
                };
                let reference = if kind.needs_bet() { reference } else { None };
                Step::Win {
                    player,
                    tx,
                    round,
                    amount,
                    kind,
                    reference,
                    round_closed,
                    explicit,
                }
            },
        );
    let rollback = (
        0..PLAYERS,
        0..TX_POOL,
        pick(3),
        0..ROUNDS,
        prop::option::weighted(0.3, 1..=300i64),
    )
        .prop_map(|(player, tx, target, round, hint)| Step::Rollback {
            player,
            tx,
            target,
            round,
            hint,
        });
    prop_oneof![
        6 => bet,
        4 => win,
        4 => rollback,
        1 => (0..PLAYERS, 0..TX_POOL, 0..ROUNDS).prop_map(|(player, tx, round)| Step::Close { player, tx, round }),
        1 => (0..PLAYERS).prop_map(|player| Step::Balance { player }),
        3 => any::<Index>().prop_map(|which| Step::Resend { which }),
        1 => (0..PLAYERS, any::<bool>()).prop_map(|(player, blocked)| Step::SetBlocked { player, blocked }),
        1 => (0..PLAYERS, 1..=500i64).prop_map(|(player, amount)| Step::Deposit { player, amount }),
    ]
}

// ----------------------------------------------------------------------------------
// The model
// ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BetState {
    Committed,
    Settled,
    RolledBack,
    Voided,
    Declined,
}

impl BetState {
    fn wire(self) -> &'static str {
        match self {
            BetState::Committed => "COMMITTED",
            BetState::Settled => "SETTLED",
            BetState::RolledBack => "ROLLED_BACK",
            BetState::Voided => "VOIDED_BY_PRIOR_ROLLBACK",
            BetState::Declined => "DECLINED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoundState {
    /// The model cannot tell whether the server created the round (a declined bet or
    /// a promo win in an unknown round); it is open either way.
    Ambiguous,
    Open,
    Closed,
}

/// The fingerprint of section 4, read off a request body.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    op: &'static str,
    fields: Vec<(&'static str, Value)>,
}

fn fingerprint(path: &str, body: &Value) -> Fingerprint {
    let (op, default_kind) = match path {
        "/wallet/v1/bet" => ("BET", Some("BET")),
        "/wallet/v1/win" => ("WIN", Some("WIN")),
        "/wallet/v1/rollback" => ("ROLLBACK", None),
        "/wallet/v1/rounds/close" => ("CLOSE_ROUND", None),
        other => panic!("no fingerprint for {other}"),
    };
    let kind = match (&body["kind"], default_kind) {
        (Value::Null, Some(default)) => json!(default),
        (kind, _) => kind.clone(),
    };
    let round_closed = if body["round_closed"].is_null() {
        json!(false)
    } else {
        body["round_closed"].clone()
    };
    Fingerprint {
        op,
        fields: vec![
            ("player_id", body["player_id"].clone()),
            ("round_id", body["round_id"].clone()),
            ("game_id", body["game_id"].clone()),
            ("kind", kind),
            ("amount.value", body["amount"]["value"].clone()),
            ("amount.currency", body["amount"]["currency"].clone()),
            ("amount.scale", body["amount"]["scale"].clone()),
            (
                "reference_transaction_id",
                body["reference_transaction_id"].clone(),
            ),
            (
                "target_transaction_id",
                body["target_transaction_id"].clone(),
            ),
            ("round_closed", round_closed),
        ],
    }
}

/// The first answer of a key and what the model knows about the transaction.
struct Record {
    player: usize,
    fingerprint: Fingerprint,
    first: ApiResponse,
    bet: Option<BetRecord>,
}

struct BetRecord {
    round: String,
    /// What a rollback refunds: the amount for a BET, zero for a FREE_BET.
    debited: i64,
    nominal: i64,
    free: bool,
    state: BetState,
}

struct ModelPlayer {
    handle: TestPlayer,
    balance: i64,
    blocked: bool,
}

/// What the model expects of a new key's first answer.
struct Expected {
    /// Acceptable error codes; empty for a success.
    codes: Vec<&'static str>,
    state: &'static str,
}

impl Expected {
    fn ok() -> Self {
        Self {
            codes: Vec::new(),
            state: "COMMITTED",
        }
    }

    fn declined(code: &'static str) -> Self {
        Self {
            codes: vec![code],
            state: "DECLINED",
        }
    }
}

struct World<'a> {
    provider: &'a TestProvider,
    prefix: String,
    players: Vec<ModelPlayer>,
    records: HashMap<String, Record>,
    tombstones: HashSet<String>,
    rounds: HashMap<(usize, String), RoundState>,
    sent: Vec<(&'static str, Value)>,
    /// Per player, the ids of bets sent and of ids tombstoned, in order, for `Pick`.
    bet_keys: Vec<Vec<String>>,
    tombstone_keys: Vec<Vec<String>>,
}

impl<'a> World<'a> {
    async fn new(provider: &'a TestProvider, balances: &[i64]) -> World<'a> {
        let mut players = Vec::new();
        for balance in balances {
            let handle = TestPlayer::with_balance(provider, CURRENCY, *balance).await;
            players.push(ModelPlayer {
                handle,
                balance: *balance,
                blocked: false,
            });
        }
        World {
            provider,
            prefix: unique_id("m")[..10].to_owned(),
            players,
            records: HashMap::new(),
            tombstones: HashSet::new(),
            rounds: HashMap::new(),
            sent: Vec::new(),
            bet_keys: vec![Vec::new(); balances.len()],
            tombstone_keys: vec![Vec::new(); balances.len()],
        }
    }

    /// The id a `Pick` names: one of `earlier` when there are any, else one of the pool.
    fn resolve(&self, player: usize, pick: &Pick, earlier: &[String]) -> String {
        match pick {
            Pick::Earlier(index) if !earlier.is_empty() => {
                earlier[index.index(earlier.len())].clone()
            }
            Pick::Earlier(index) => self.tx_key(player, index.index(TX_POOL)),
            Pick::Pool(tx) => self.tx_key(player, *tx),
        }
    }

    /// Like `resolve`, but never the operation's own id.
    fn resolve_other(&self, player: usize, pick: &Pick, earlier: &[String], own: usize) -> String {
        let key = self.resolve(player, pick, earlier);
        if key == self.tx_key(player, own) {
            self.tx_key(player, (own + 1) % TX_POOL)
        } else {
            key
        }
    }

    fn tx_key(&self, player: usize, tx: usize) -> String {
        format!("{}-p{player}-t{tx}", self.prefix)
    }

    fn round_id(&self, round: usize) -> String {
        format!("{}-r{round}", self.prefix)
    }

    fn round_state(&self, player: usize, round: &str) -> Option<RoundState> {
        self.rounds.get(&(player, round.to_owned())).copied()
    }

    /// A recorded operation touched a round the model had not seen: it may exist now.
    fn touch_round(&mut self, player: usize, round: Option<&str>) {
        if let Some(round) = round {
            self.rounds
                .entry((player, round.to_owned()))
                .or_insert(RoundState::Ambiguous);
        }
    }

    fn bet_of(&self, key: &str) -> Option<&BetRecord> {
        self.records.get(key).and_then(|record| record.bet.as_ref())
    }

    async fn run(&mut self, step: &Step) {
        match step {
            Step::Bet { .. } => self.bet(step).await,
            Step::Win { .. } => self.win(step).await,
            Step::Rollback { .. } => self.rollback(step).await,
            Step::Close { player, tx, round } => self.close(*player, *tx, *round).await,
            Step::Balance { player } => {
                let balance = self
                    .provider
                    .balance_of(&self.players[*player].handle)
                    .await;
                assert_eq!(
                    balance, self.players[*player].balance,
                    "balance of player {player}"
                );
            }
            Step::Resend { which } => {
                if !self.sent.is_empty() {
                    let (path, body) = self.sent[which.index(self.sent.len())].clone();
                    let key = tx_id(&body);
                    self.existing_key(path, &body, &key).await;
                }
            }
            Step::SetBlocked { player, blocked } => {
                let status = if *blocked { "BLOCKED" } else { "ACTIVE" };
                self.players[*player].handle.set_status(status).await;
                self.players[*player].blocked = *blocked;
            }
            Step::Deposit { player, amount } => {
                let response = self.players[*player].handle.deposit(*amount).await;
                self.players[*player].balance += amount;
                assert_eq!(
                    response.balance_minor(),
                    self.players[*player].balance,
                    "balance after a deposit"
                );
            }
        }
    }

    /// Sends a request whose key exists: the stored answer, or a conflict.
    async fn existing_key(&mut self, path: &'static str, body: &Value, key: &str) {
        let response = self.provider.post(path, body).await;
        self.sent.push((path, body.clone()));
        let record = &self.records[key];
        let incoming = fingerprint(path, body);
        if incoming == record.fingerprint {
            response.assert_replay_of(&record.first);
            if !response.body["balance"].is_null() {
                assert_eq!(
                    response.balance_minor(),
                    self.players[record.player].balance,
                    "replay balance"
                );
            }
        } else {
            response.assert_error("IDEMPOTENCY_CONFLICT");
            let fields = response.conflict_fields();
            if incoming.op == record.fingerprint.op {
                let mut expected: Vec<String> = incoming
                    .fields
                    .iter()
                    .zip(&record.fingerprint.fields)
                    .filter(|(a, b)| a != b)
                    .map(|((name, _), _)| (*name).to_owned())
                    .collect();
                expected.sort();
                assert_eq!(fields, expected, "conflict fields for {body}");
            } else {
                assert!(
                    fields.contains(&"op".to_owned()),
                    "conflict of {} with {}: {fields:?}",
                    incoming.op,
                    record.fingerprint.op
                );
            }
        }
    }

    /// Sends a new key's request, checks the first answer against the expectation and
    /// records it. Returns the answer and the error code it carried.
    async fn first_attempt(
        &mut self,
        path: &'static str,
        body: &Value,
        player: usize,
        expected: &Expected,
        balance_after: i64,
        bet: Option<BetRecord>,
    ) -> ApiResponse {
        let key = tx_id(body);
        let response = self.provider.post(path, body).await;
        self.sent.push((path, body.clone()));
        if expected.codes.is_empty() {
            response.assert_ok().assert_fresh();
            assert_eq!(
                response.tx()["balance_after"],
                money(balance_after, CURRENCY),
                "balance_after: {}",
                response.body
            );
        } else {
            let code = response.code().unwrap_or_else(|| {
                panic!("expected one of {:?}: {}", expected.codes, response.body)
            });
            assert!(
                expected.codes.contains(&code),
                "expected one of {:?}: {}",
                expected.codes,
                response.body
            );
            response.assert_error(code).assert_fresh();
        }
        assert_eq!(response.tx()["transaction_id"], key.as_str());
        assert_eq!(
            response.tx()["state"],
            expected.state,
            "state: {}",
            response.body
        );
        assert_eq!(
            response.balance_minor(),
            balance_after,
            "balance: {}",
            response.body
        );
        self.records.insert(
            key,
            Record {
                player,
                fingerprint: fingerprint(path, body),
                first: response.clone(),
                bet,
            },
        );
        response
    }

    fn base_body(&self, player: usize, key: &str, round: Option<&str>) -> Value {
        let handle = &self.players[player].handle;
        let mut body = json!({
            "transaction_id": key,
            "player_id": handle.id,
            "game_id": handle.game_id,
        });
        if let Some(round) = round {
            body["round_id"] = json!(round);
        }
        body
    }

    /// Sets `round_closed` to false the way the body already spells its defaults.
    fn clear_round_closed(body: &mut Value) {
        if body.get("round_closed").is_some() {
            body["round_closed"] = json!(false);
        }
    }

    async fn bet(&mut self, step: &Step) {
        let Step::Bet {
            player,
            ref tx,
            round,
            amount,
            free,
            round_closed,
            explicit,
            wrong_currency,
        } = *step
        else {
            unreachable!()
        };
        let round = self.round_id(round);
        let handle = &self.players[player].handle;
        let key = self.resolve(player, tx, &self.tombstone_keys[player]);
        let mut body = self.base_body(player, &key, Some(&round));
        body["session_token"] = json!(handle.session_token);
        body["amount"] = if wrong_currency {
            money(amount, "USD")
        } else {
            money(amount, CURRENCY)
        };
        if free {
            body["kind"] = json!("FREE_BET");
        } else if explicit {
            body["kind"] = json!("BET");
        }
        if round_closed || explicit {
            body["round_closed"] = json!(round_closed);
        }
        let key = tx_id(&body);
        if self.records.contains_key(&key) {
            return self.existing_key("/wallet/v1/bet", &body, &key).await;
        }

        let balance = self.players[player].balance;
        let round_state = self.round_state(player, &round);
        let debit = if free { 0 } else { amount };
        let (expected, state) = if self.players[player].blocked {
            (Expected::declined("PLAYER_BLOCKED"), BetState::Declined)
        } else if wrong_currency {
            (Expected::declined("CURRENCY_MISMATCH"), BetState::Declined)
        } else if round_state == Some(RoundState::Closed) {
            (Expected::declined("ROUND_CLOSED"), BetState::Declined)
        } else if self.tombstones.contains(&key) {
            (
                Expected {
                    codes: vec!["TRANSACTION_VOIDED"],
                    state: "VOIDED_BY_PRIOR_ROLLBACK",
                },
                BetState::Voided,
            )
        } else if debit > balance {
            (Expected::declined("INSUFFICIENT_FUNDS"), BetState::Declined)
        } else {
            (Expected::ok(), BetState::Committed)
        };
        let committed = state == BetState::Committed;
        if !committed {
            Self::clear_round_closed(&mut body);
        }
        let balance_after = if committed { balance - debit } else { balance };
        let bet = BetRecord {
            round: round.clone(),
            debited: debit,
            nominal: amount,
            free,
            state,
        };
        self.first_attempt(
            "/wallet/v1/bet",
            &body,
            player,
            &expected,
            balance_after,
            Some(bet),
        )
        .await;
        self.bet_keys[player].push(key);

        if committed {
            self.players[player].balance = balance_after;
            let next = if round_closed {
                RoundState::Closed
            } else {
                RoundState::Open
            };
            self.rounds.insert((player, round), next);
        } else {
            self.touch_round(player, Some(&round));
        }
    }

    /// The answer a WIN or FREE_WIN gets from its reference checks (None: they pass).
    fn win_reference_check(
        &self,
        player: usize,
        round: &str,
        reference: Option<&str>,
    ) -> Option<Expected> {
        match reference {
            Some(reference) => match self.bet_of(reference) {
                Some(bet) if bet.state != BetState::Declined => match bet.state {
                    BetState::RolledBack | BetState::Voided => {
                        Some(Expected::declined("TRANSACTION_ROLLED_BACK"))
                    }
                    _ => None,
                },
                _ if !self.records.contains_key(reference) => {
                    if self.tombstones.contains(reference) {
                        Some(Expected::declined("TRANSACTION_ROLLED_BACK"))
                    } else {
                        Some(Expected::declined("REFERENCE_NOT_FOUND"))
                    }
                }
                // A declined bet or another operation under a tombstoned id: the contract
                // does not say which of the two checks wins.
                _ if self.tombstones.contains(reference) => Some(Expected {
                    codes: vec!["REFERENCE_NOT_FOUND", "TRANSACTION_ROLLED_BACK"],
                    state: "DECLINED",
                }),
                _ => Some(Expected::declined("REFERENCE_NOT_FOUND")),
            },
            None => {
                let bets: Vec<BetState> = self
                    .records
                    .values()
                    .filter(|record| record.player == player)
                    .filter_map(|record| record.bet.as_ref())
                    .filter(|bet| bet.round == round && bet.state != BetState::Declined)
                    .map(|bet| bet.state)
                    .collect();
                if bets.is_empty() {
                    Some(Expected::declined("REFERENCE_NOT_FOUND"))
                } else if bets
                    .iter()
                    .all(|s| matches!(s, BetState::RolledBack | BetState::Voided))
                {
                    Some(Expected::declined("TRANSACTION_ROLLED_BACK"))
                } else {
                    None
                }
            }
        }
    }

    async fn win(&mut self, step: &Step) {
        let Step::Win {
            player,
            tx,
            round,
            amount,
            kind,
            reference,
            round_closed,
            explicit,
        } = step
        else {
            unreachable!()
        };
        let (player, tx, amount, round_closed, explicit) =
            (*player, *tx, *amount, *round_closed, *explicit);
        let round = round.map(|r| self.round_id(r));
        let reference = reference
            .as_ref()
            .map(|r| self.resolve_other(player, r, &self.bet_keys[player], tx));
        let mut body = self.base_body(player, &self.tx_key(player, tx), round.as_deref());
        body["amount"] = money(amount, CURRENCY);
        if !matches!(kind, WinKind::Win) || explicit {
            body["kind"] = json!(kind.wire());
        }
        if let Some(reference) = &reference {
            body["reference_transaction_id"] = json!(reference);
        }
        if round_closed || explicit {
            body["round_closed"] = json!(round_closed);
        }
        let key = tx_id(&body);
        if self.records.contains_key(&key) {
            return self.existing_key("/wallet/v1/win", &body, &key).await;
        }

        let round_state = round.as_deref().and_then(|r| self.round_state(player, r));
        let reference_check = if kind.needs_bet() {
            self.win_reference_check(
                player,
                round.as_deref().expect("a WIN has a round"),
                reference.as_deref(),
            )
        } else {
            None
        };
        let expected = match reference_check {
            Some(declined) => declined,
            None if kind.needs_bet() && round_state == Some(RoundState::Closed) => {
                Expected::declined("ROUND_CLOSED")
            }
            None => Expected::ok(),
        };
        let success = expected.codes.is_empty();
        // Closing a round the model is unsure exists would make its later state a guess.
        if !success || !matches!(round_state, Some(RoundState::Open | RoundState::Closed)) {
            Self::clear_round_closed(&mut body);
        }
        let closes = body["round_closed"] == json!(true);
        let balance = self.players[player].balance;
        let balance_after = if success { balance + amount } else { balance };
        self.first_attempt(
            "/wallet/v1/win",
            &body,
            player,
            &expected,
            balance_after,
            None,
        )
        .await;

        if success {
            self.players[player].balance = balance_after;
            self.settle(player, round.as_deref(), reference.as_deref(), kind);
        }
        if closes {
            self.rounds
                .insert((player, round.clone().expect("round")), RoundState::Closed);
        }
        self.touch_round(player, round.as_deref());
    }

    /// A WIN settles its referenced bet, or every committed bet of its round.
    fn settle(
        &mut self,
        player: usize,
        round: Option<&str>,
        reference: Option<&str>,
        kind: &WinKind,
    ) {
        if !kind.needs_bet() {
            return;
        }
        for (key, record) in self
            .records
            .iter_mut()
            .filter(|(_, record)| record.player == player)
        {
            if let Some(bet) = record.bet.as_mut() {
                let targeted = match reference {
                    Some(reference) => key == reference,
                    None => Some(bet.round.as_str()) == round,
                };
                if targeted && bet.state == BetState::Committed {
                    bet.state = BetState::Settled;
                }
            }
        }
    }

    async fn rollback(&mut self, step: &Step) {
        let Step::Rollback {
            player,
            tx,
            target,
            round,
            hint,
        } = step
        else {
            unreachable!()
        };
        let (player, tx, round, hint) = (*player, *tx, *round, *hint);
        let target = self.resolve_other(player, target, &self.bet_keys[player], tx);
        // A provider sends the bet's round when it knows the bet.
        let round = match self.bet_of(&target) {
            Some(bet) => bet.round.clone(),
            None => self.round_id(round),
        };
        let mut body = self.base_body(player, &self.tx_key(player, tx), Some(&round));
        body["target_transaction_id"] = json!(target);
        if let Some(hint) = hint {
            body["amount_hint"] = money(hint, CURRENCY);
        }
        let key = tx_id(&body);
        if self.records.contains_key(&key) {
            return self.existing_key("/wallet/v1/rollback", &body, &key).await;
        }

        let balance = self.players[player].balance;
        let (expected, outcome, refund) = match self.records.get(&target) {
            Some(record) => match &record.bet {
                None => (Expected::declined("NOT_REVERSIBLE"), None, 0),
                Some(bet) => match bet.state {
                    BetState::Declined => (Expected::declined("NOT_REVERSIBLE"), None, 0),
                    BetState::Committed => (Expected::ok(), Some("REFUNDED"), bet.debited),
                    BetState::RolledBack | BetState::Voided => {
                        (Expected::ok(), Some("ALREADY_ROLLED_BACK"), 0)
                    }
                    BetState::Settled => (Expected::declined("BET_ALREADY_SETTLED"), None, 0),
                },
            },
            None if self.tombstones.contains(&target) => {
                (Expected::ok(), Some("ALREADY_ROLLED_BACK"), 0)
            }
            None => (Expected::ok(), Some("TARGET_NOT_FOUND_TOMBSTONED"), 0),
        };
        let refunded_bet = self.bet_of(&target).filter(|_| outcome == Some("REFUNDED"));
        let hint_mismatch = refunded_bet
            .filter(|bet| !bet.free)
            .map(|bet| hint.is_some_and(|hint| hint != bet.nominal));
        let balance_after = balance + refund;
        let response = self
            .first_attempt(
                "/wallet/v1/rollback",
                &body,
                player,
                &expected,
                balance_after,
                None,
            )
            .await;

        if let Some(outcome) = outcome {
            assert_eq!(
                response.tx()["outcome"],
                outcome,
                "rollback outcome: {}",
                response.body
            );
            assert_eq!(
                response.tx()["refunded"],
                money(refund, CURRENCY),
                "refunded: {}",
                response.body
            );
            assert_eq!(response.tx()["target_transaction_id"], target.as_str());
            if let Some(mismatch) = hint_mismatch {
                assert_eq!(
                    response.tx()["amount_hint_mismatch"],
                    mismatch,
                    "hint mismatch: {}",
                    response.body
                );
            }
        }
        match outcome {
            Some("REFUNDED") => {
                self.players[player].balance = balance_after;
                if let Some(bet) = self.records.get_mut(&target).and_then(|r| r.bet.as_mut()) {
                    bet.state = BetState::RolledBack;
                }
            }
            Some("TARGET_NOT_FOUND_TOMBSTONED") => {
                self.tombstone_keys[player].push(target.clone());
                self.tombstones.insert(target);
            }
            _ => {}
        }
        self.touch_round(player, Some(&round));
    }

    async fn close(&mut self, player: usize, tx: usize, round: usize) {
        let round = self.round_id(round);
        let body = self.base_body(player, &self.tx_key(player, tx), Some(&round));
        let key = tx_id(&body);
        if self.records.contains_key(&key) {
            return self
                .existing_key("/wallet/v1/rounds/close", &body, &key)
                .await;
        }
        let balance = self.players[player].balance;
        let response = self
            .first_attempt(
                "/wallet/v1/rounds/close",
                &body,
                player,
                &Expected::ok(),
                balance,
                None,
            )
            .await;
        let answered = response.tx()["round_state"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match self.round_state(player, &round) {
            None => assert_eq!(
                answered, "NOT_FOUND",
                "close of a round nobody played: {}",
                response.body
            ),
            Some(RoundState::Open | RoundState::Closed) => {
                assert_eq!(
                    answered, "CLOSED",
                    "close of a played round: {}",
                    response.body
                );
            }
            Some(RoundState::Ambiguous) => {
                assert!(
                    matches!(answered.as_str(), "CLOSED" | "NOT_FOUND"),
                    "close: {}",
                    response.body
                );
            }
        }
        if answered == "CLOSED" {
            self.rounds.insert((player, round), RoundState::Closed);
        } else {
            self.rounds.remove(&(player, round));
        }
    }

    /// Every balance and every bet's stored state agree with the model.
    async fn assert_final_state(&self, app: &TestApp) {
        for (index, player) in self.players.iter().enumerate() {
            self.provider
                .assert_balance(&player.handle, player.balance)
                .await;
            assert!(player.balance >= 0, "player {index}");
        }
        for (key, record) in &self.records {
            if let Some(bet) = &record.bet {
                let stored = app.stored_state(self.provider, key).await;
                assert_eq!(
                    stored.as_deref(),
                    Some(bet.state.wire()),
                    "stored state of bet {key}"
                );
            }
        }
    }
}

#[test]
fn random_operation_sequences_agree_with_the_model_of_the_contract() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (app, provider) = rt.block_on(async {
        let app = spawn_app().await;
        let provider = TestProvider::new(&app).await;
        (app, provider)
    });
    let strategy = (
        prop::collection::vec(100..=2_000i64, PLAYERS),
        prop::collection::vec(step_strategy(), 5..45),
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 24,
        max_shrink_iters: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    });

    runner
        .run(&strategy, |(balances, steps)| {
            rt.block_on(async {
                let mut world = World::new(&provider, &balances).await;
                for step in &steps {
                    world.run(step).await;
                }
                world.assert_final_state(&app).await;
            });
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));

    rt.block_on(async move {
        assert_invariants(&app).await;
    });
}
