//! A batch's view of the database, in memory: the rows its operations need, loaded in a
//! few statements (`load`), changed by the rules in arrival order, and written back in a
//! few statements (`flush`). The rules read and change it only through these methods,
//! so every change they make is also recorded as a write.
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::model::{KeyRow, Player, Round, Session, Tombstone};
use crate::domain::{MinorUnits, OpType, RoundState, TxState};
use crate::error::ServiceError;
use crate::idempotency::{KeyedRequest, Recorded};
use crate::ledger::{self, Direction, NewEntry};

/// `(provider or scope, player, round id)`.
pub type RoundKey = (String, String, String);
/// `(scope, transaction id)`: an idempotency key, or `(provider, transaction id)`.
pub type TxKey = (String, String);

/// What a batch's operations will read; each operation adds its own (`Operation::needs`).
#[derive(Debug, Default)]
pub struct Needs {
    pub players: BTreeSet<String>,
    pub keys: BTreeSet<TxKey>,
    pub sessions: BTreeSet<String>,
    pub rounds: BTreeSet<RoundKey>,
    pub tombstones: BTreeSet<TxKey>,
    /// The bets of a round, for wins that settle a round without naming their bet.
    pub round_bets: BTreeSet<RoundKey>,
}

/// One staff action to audit in the batch's transaction.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub actor: String,
    pub action: &'static str,
    pub subject_type: &'static str,
    pub subject_id: String,
    pub reason: String,
    pub details: serde_json::Value,
}

/// A key claimed by this batch: its row as first written.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: i64,
    pub keyed: KeyedRequest,
    pub recorded: Recorded,
    pub amount_hint_mismatch: bool,
}

/// Everything the batch changed, in the order it happened.
#[derive(Debug, Default, Clone)]
pub struct Writes {
    pub new_keys: Vec<NewKey>,
    pub entries: Vec<NewEntry>,
    /// Rounds opened by the batch; written with their state at the end of the batch.
    pub new_rounds: Vec<RoundKey>,
    /// Rounds that existed and were closed by the batch.
    pub closed_rounds: Vec<RoundKey>,
    /// Transactions that existed and changed state (a bet settled or rolled back).
    pub state_changes: Vec<(i64, TxState)>,
    pub new_tombstones: Vec<TxKey>,
    /// Tombstones that existed and whose late bet arrived now.
    pub late_bets: Vec<TxKey>,
    pub audits: Vec<AuditRecord>,
    /// One `money.moved` event per posting, for the outbox (docs/EVENTS.md).
    pub events: Vec<MoneyEvent>,
}

/// A movement of a player's money, as the outbox records it.
#[derive(Debug, Clone)]
pub struct MoneyEvent {
    pub player_id: String,
    /// The player's event number, from 1, without gaps.
    pub sequence: i64,
    pub wallet_tx_id: i64,
    /// `BET`, `WIN`, `ROLLBACK`, `ADJUSTMENT` or `REFUND` ([`super::Operation::movement_op`]).
    pub op: &'static str,
}

/// Cloned only to decide a group of operations all or none (`money::execute_all`).
#[derive(Debug, Clone)]
pub struct BatchState {
    pub now: DateTime<Utc>,
    pub(super) players: HashMap<String, Player>,
    pub(super) keys: HashMap<TxKey, KeyRow>,
    pub(super) sessions: HashMap<String, Session>,
    pub(super) rounds: HashMap<RoundKey, Round>,
    pub(super) tombstones: HashMap<TxKey, Tombstone>,
    /// Transaction ids of a round's bets (op BET, not declined), oldest first.
    pub(super) round_bets: HashMap<RoundKey, Vec<String>>,
    /// Keys whose rows the batch claimed (ids it wrote), for hint flags.
    pub(super) hint_mismatches: HashSet<i64>,
    pub(super) writes: Writes,
}

impl BatchState {
    pub fn new(now: DateTime<Utc>) -> BatchState {
        BatchState {
            now,
            players: HashMap::new(),
            keys: HashMap::new(),
            sessions: HashMap::new(),
            rounds: HashMap::new(),
            tombstones: HashMap::new(),
            round_bets: HashMap::new(),
            hint_mismatches: HashSet::new(),
            writes: Writes::default(),
        }
    }

    pub fn player(&self, player_id: &str) -> Option<&Player> {
        self.players.get(player_id)
    }

    /// Posts a movement of the player's money (see [`ledger::post`]) and returns the new
    /// balance. Nothing changes on an error.
    pub fn post(
        &mut self,
        player_id: &str,
        wallet_tx_id: i64,
        direction: Direction,
        amount: MinorUnits,
        counter_account: &str,
    ) -> Result<MinorUnits, ServiceError> {
        let player = self
            .players
            .get_mut(player_id)
            .ok_or_else(|| ServiceError::Bug(format!("player {player_id} was not loaded")))?;
        let account = ledger::Account {
            player_id: &player.id,
            currency: &player.currency,
            balance_minor: player.balance_minor,
            head: player.ledger_head.as_deref(),
        };
        let posted = ledger::post(account, wallet_tx_id, direction, amount, counter_account)?;
        if let Some(posted) = posted {
            player.balance_minor = posted.balance_after;
            player.ledger_head = Some(posted.chain_hash);
            player.posted = true;
            self.writes.entries.extend(posted.entries);
            player.event_sequence += 1;
            self.writes.events.push(MoneyEvent {
                player_id: player.id.clone(),
                sequence: player.event_sequence,
                wallet_tx_id,
                op: "",
            });
        }
        MinorUnits::from_stored(player.balance_minor)
            .map_err(|_| ServiceError::Bug("balance out of range after posting".into()))
    }

    pub fn session(&self, token: &str) -> Option<&Session> {
        self.sessions.get(token)
    }

    pub fn round(&self, provider_id: &str, player_id: &str, round_id: &str) -> Option<&Round> {
        self.rounds
            .get(&round_key(provider_id, player_id, round_id))
    }

    pub fn is_round_closed(&self, provider_id: &str, player_id: &str, round_id: &str) -> bool {
        self.round(provider_id, player_id, round_id)
            .is_some_and(|round| round.state == RoundState::Closed)
    }

    /// Opens the round if it does not exist.
    pub fn open_round(
        &mut self,
        provider_id: &str,
        player_id: &str,
        round_id: &str,
        game_id: &str,
    ) {
        let key = round_key(provider_id, player_id, round_id);
        if self.rounds.contains_key(&key) {
            return;
        }
        self.rounds.insert(
            key.clone(),
            Round {
                game_id: game_id.to_owned(),
                state: RoundState::Open,
                opened_at: self.now,
                closed_at: None,
            },
        );
        self.writes.new_rounds.push(key);
    }

    /// Closes an existing round; an unknown round is not created. Returns whether it
    /// exists.
    pub fn close_round(&mut self, provider_id: &str, player_id: &str, round_id: &str) -> bool {
        let key = round_key(provider_id, player_id, round_id);
        let Some(round) = self.rounds.get_mut(&key) else {
            return false;
        };
        if round.state != RoundState::Closed {
            round.state = RoundState::Closed;
            round.closed_at = Some(self.now);
            if !self.writes.new_rounds.contains(&key) {
                self.writes.closed_rounds.push(key);
            }
        }
        true
    }

    pub fn tombstone(&self, provider_id: &str, transaction_id: &str) -> Option<&Tombstone> {
        self.tombstones
            .get(&(provider_id.to_owned(), transaction_id.to_owned()))
    }

    /// Leaves a tombstone for a bet that has not arrived.
    pub fn add_tombstone(
        &mut self,
        provider_id: &str,
        transaction_id: &str,
        player_id: &str,
        rollback_transaction_id: &str,
    ) {
        let key = (provider_id.to_owned(), transaction_id.to_owned());
        self.tombstones.insert(
            key.clone(),
            Tombstone {
                player_id: player_id.to_owned(),
                rollback_transaction_id: rollback_transaction_id.to_owned(),
                created_at: self.now,
                late_bet_at: None,
            },
        );
        self.writes.new_tombstones.push(key);
    }

    /// Notes that the bet a tombstone was waiting for arrived (for reconciliation).
    pub fn mark_late_bet(&mut self, provider_id: &str, transaction_id: &str) {
        let key = (provider_id.to_owned(), transaction_id.to_owned());
        let Some(tombstone) = self.tombstones.get_mut(&key) else {
            return;
        };
        if tombstone.late_bet_at.is_none() {
            tombstone.late_bet_at = Some(self.now);
            if !self.writes.new_tombstones.contains(&key) {
                self.writes.late_bets.push(key);
            }
        }
    }

    /// The row of a key (or of a bet named by a win or a rollback), claimed before this
    /// batch or by an earlier operation of it.
    pub fn key(&self, scope: &str, transaction_id: &str) -> Option<&KeyRow> {
        self.keys
            .get(&(scope.to_owned(), transaction_id.to_owned()))
    }

    /// The bets of a round (op BET, not declined), oldest first: transaction ids and rows.
    pub fn round_bets(&self, scope: &str, player_id: &str, round_id: &str) -> Vec<(&str, &KeyRow)> {
        self.round_bets
            .get(&round_key(scope, player_id, round_id))
            .into_iter()
            .flatten()
            .filter_map(|transaction_id| {
                self.key(scope, transaction_id)
                    .map(|row| (transaction_id.as_str(), row))
            })
            .collect()
    }

    /// Moves a transaction on (a bet settled or rolled back).
    pub fn set_state(&mut self, scope: &str, transaction_id: &str, state: TxState) {
        let key = (scope.to_owned(), transaction_id.to_owned());
        let Some(row) = self.keys.get_mut(&key) else {
            return;
        };
        row.state = state;
        let claimed_here = self.writes.new_keys.iter().any(|new| new.id == row.id);
        if !claimed_here {
            self.writes.state_changes.push((row.id, state));
        }
    }

    /// Marks the key being decided as a rollback whose amount hint differed from its bet.
    pub fn flag_hint_mismatch(&mut self, wallet_tx_id: i64) {
        self.hint_mismatches.insert(wallet_tx_id);
    }

    /// Names the movements the operation decided under `wallet_tx_id` (their events' `op`).
    pub fn name_movements(&mut self, wallet_tx_id: i64, op: &'static str) {
        for event in self.writes.events.iter_mut().rev() {
            if event.wallet_tx_id != wallet_tx_id {
                break;
            }
            event.op = op;
        }
    }

    pub fn audit(&mut self, record: AuditRecord) {
        self.writes.audits.push(record);
    }

    /// Records the key's first answer: from now on the batch answers it as a replay.
    pub fn claim(&mut self, keyed: &KeyedRequest, id: i64, recorded: Recorded) {
        let scope = keyed.scope.clone();
        let transaction_id = keyed.transaction_id.as_str().to_owned();
        let state = recorded.state;
        let row = KeyRow {
            id,
            player_id: keyed.player_id.clone(),
            op: keyed.op,
            kind: keyed.kind.map(str::to_owned),
            round_id: keyed.round_id.clone(),
            amount_minor: keyed.amount.as_ref().map(|m| m.minor.get()),
            state,
            http_status: i32::from(recorded.answer.http_status),
            fingerprint: keyed.fingerprint.as_stored().to_owned(),
            response_body: recorded.answer.first_body.clone(),
            columns: None,
        };
        if keyed.op == OpType::Bet && state != TxState::Declined {
            if let Some(round_id) = &keyed.round_id {
                let round = round_key(&scope, &keyed.player_id, round_id);
                if let Some(bets) = self.round_bets.get_mut(&round) {
                    bets.push(transaction_id.clone());
                }
            }
        }
        self.keys.insert((scope, transaction_id), row);
        self.writes.new_keys.push(NewKey {
            id,
            keyed: keyed.clone(),
            recorded,
            amount_hint_mismatch: self.hint_mismatches.contains(&id),
        });
    }
}

pub fn round_key(provider_id: &str, player_id: &str, round_id: &str) -> RoundKey {
    (
        provider_id.to_owned(),
        player_id.to_owned(),
        round_id.to_owned(),
    )
}
