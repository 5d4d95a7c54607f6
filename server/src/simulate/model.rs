//! What the simulator believes about one player: the balance, the rounds in play, the bets
//! in them and the ids a rollback named before their bet arrived. It follows the contract's
//! rules (docs/API.md, "Operations and their checks") on its own, without asking the
//! wallet, so every answer can be checked against it: a correct wallet never differs.
use std::collections::HashMap;

use super::scenario::{Action, BetKind, Op, WinKind};

/// What the wallet must answer to one operation, and what that changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub status: u16,
    pub code: Option<&'static str>,
    /// `transaction.state` of the answer.
    pub state: &'static str,
    /// A rollback's `transaction.outcome`.
    pub outcome: Option<&'static str>,
    /// A round close's `transaction.round_state`.
    pub round_state: Option<&'static str>,
    /// A rollback's `transaction.refunded`, in minor units.
    pub refunded: Option<i64>,
    pub balance_after: i64,
    /// Bets whose state this operation moved on, for the provider's statement.
    pub changed_bets: Vec<(String, &'static str)>,
}

impl Expected {
    fn committed(balance_after: i64) -> Expected {
        Expected {
            status: 200,
            code: None,
            state: "COMMITTED",
            outcome: None,
            round_state: None,
            refunded: None,
            balance_after,
            changed_bets: Vec::new(),
        }
    }

    fn declined(status: u16, code: &'static str, balance: i64) -> Expected {
        Expected {
            status,
            code: Some(code),
            state: "DECLINED",
            ..Expected::committed(balance)
        }
    }

    pub fn is_success(&self) -> bool {
        self.status == 200
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BetState {
    Committed,
    Settled,
    RolledBack,
    Voided,
    Declined,
}

impl BetState {
    /// Rolled back or voided: no win may pay for it any more.
    fn cancelled(self) -> bool {
        matches!(self, BetState::RolledBack | BetState::Voided)
    }
}

#[derive(Debug, Clone)]
struct BetRecord {
    amount_minor: i64,
    kind: BetKind,
    round_id: String,
    state: BetState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoundState {
    Open,
    Closed,
}

/// One player's money and play as the wallet should see them. Ids are unique within a
/// run, so one map per kind is enough; a finished round is forgotten to bound memory.
#[derive(Debug, Default)]
pub struct PlayerModel {
    balance_minor: i64,
    bets: HashMap<String, BetRecord>,
    rounds: HashMap<String, RoundState>,
    /// Ids a rollback named before any bet had them, with the round of that rollback.
    tombstones: HashMap<String, String>,
}

impl PlayerModel {
    pub fn with_balance(balance_minor: i64) -> PlayerModel {
        PlayerModel {
            balance_minor,
            ..PlayerModel::default()
        }
    }

    pub fn balance_minor(&self) -> i64 {
        self.balance_minor
    }

    /// Takes the wallet's balance after a difference was recorded, so one fault is
    /// reported once rather than in every later comparison.
    pub fn resync_balance(&mut self, balance_minor: i64) {
        self.balance_minor = balance_minor;
    }

    /// A cashier credit or debit.
    pub fn adjust(&mut self, delta_minor: i64) {
        self.balance_minor += delta_minor;
    }

    /// Applies `op` as the wallet must, and says what it must answer.
    pub fn execute(&mut self, op: &Op) -> Expected {
        match &op.action {
            Action::Bet { kind, amount_minor } => self.bet(op, *kind, *amount_minor),
            Action::Win {
                kind,
                amount_minor,
                reference,
            } => self.win(op, *kind, *amount_minor, reference.as_deref()),
            Action::Rollback { target, .. } => self.rollback(op, target),
            Action::Close => self.close(op),
        }
    }

    /// Forgets a finished round: nothing will name its bets again.
    pub fn forget_round(&mut self, round_id: &str) {
        self.bets.retain(|_, bet| bet.round_id != round_id);
        self.tombstones.retain(|_, round| round != round_id);
        self.rounds.remove(round_id);
    }

    fn round_of(op: &Op) -> &str {
        op.round_id.as_deref().unwrap_or_default()
    }

    /// docs/API.md "Bet": checks in the contract's order (player, session and currency are
    /// always right in a simulation).
    fn bet(&mut self, op: &Op, kind: BetKind, amount_minor: i64) -> Expected {
        let round_id = Self::round_of(op).to_owned();
        let record = |state| BetRecord {
            amount_minor,
            kind,
            round_id: round_id.clone(),
            state,
        };
        if self.rounds.get(&round_id) == Some(&RoundState::Closed) {
            return Expected::declined(409, "ROUND_CLOSED", self.balance_minor);
        }
        if self.tombstones.contains_key(&op.transaction_id) {
            self.bets
                .insert(op.transaction_id.clone(), record(BetState::Voided));
            return Expected {
                state: "VOIDED_BY_PRIOR_ROLLBACK",
                ..Expected::declined(409, "TRANSACTION_VOIDED", self.balance_minor)
            };
        }
        let debit = if kind == BetKind::Bet {
            amount_minor
        } else {
            0
        };
        if self.balance_minor < debit {
            self.bets
                .insert(op.transaction_id.clone(), record(BetState::Declined));
            return Expected::declined(422, "INSUFFICIENT_FUNDS", self.balance_minor);
        }
        self.rounds
            .entry(round_id.clone())
            .or_insert(RoundState::Open);
        self.balance_minor -= debit;
        self.bets
            .insert(op.transaction_id.clone(), record(BetState::Committed));
        self.close_if_asked(op);
        Expected::committed(self.balance_minor)
    }

    /// docs/API.md "Win": a WIN or FREE_WIN settles the referenced bet or the round's bets;
    /// promo and jackpot wins need none.
    fn win(
        &mut self,
        op: &Op,
        kind: WinKind,
        amount_minor: i64,
        reference: Option<&str>,
    ) -> Expected {
        let mut changed = Vec::new();
        if kind.needs_bet() {
            let bets = self.bets_to_settle(op, reference);
            if bets.is_empty() {
                let cancelled = reference.is_some_and(|r| self.tombstones.contains_key(r));
                let code = if cancelled {
                    "TRANSACTION_ROLLED_BACK"
                } else {
                    "REFERENCE_NOT_FOUND"
                };
                let status = if cancelled { 409 } else { 404 };
                return Expected::declined(status, code, self.balance_minor);
            }
            if bets.iter().all(|id| self.bets[id].state.cancelled()) {
                return Expected::declined(409, "TRANSACTION_ROLLED_BACK", self.balance_minor);
            }
            if self.rounds.get(Self::round_of(op)) == Some(&RoundState::Closed) {
                return Expected::declined(409, "ROUND_CLOSED", self.balance_minor);
            }
            for id in bets {
                let bet = self.bets.get_mut(&id).expect("listed from the map");
                if bet.state == BetState::Committed {
                    bet.state = BetState::Settled;
                    changed.push((id, "SETTLED"));
                }
            }
        }
        self.balance_minor += amount_minor;
        self.close_if_asked(op);
        Expected {
            changed_bets: changed,
            ..Expected::committed(self.balance_minor)
        }
    }

    /// The bets a win would settle: the referenced one, or every bet of its round;
    /// declined bets never count.
    fn bets_to_settle(&self, op: &Op, reference: Option<&str>) -> Vec<String> {
        let round_id = Self::round_of(op);
        let mut ids: Vec<String> = self
            .bets
            .iter()
            .filter(|(id, bet)| match reference {
                Some(reference) => id.as_str() == reference,
                None => bet.round_id == round_id,
            })
            .filter(|(_, bet)| bet.state != BetState::Declined)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// docs/API.md "Rollback".
    fn rollback(&mut self, op: &Op, target: &str) -> Expected {
        let Some(bet) = self.bets.get_mut(target) else {
            let outcome = if self.tombstones.contains_key(target) {
                "ALREADY_ROLLED_BACK"
            } else {
                self.tombstones
                    .insert(target.to_owned(), Self::round_of(op).to_owned());
                "TARGET_NOT_FOUND_TOMBSTONED"
            };
            self.close_if_asked(op);
            return self.rolled_back(outcome, 0, Vec::new());
        };
        match bet.state {
            BetState::Declined => Expected::declined(422, "NOT_REVERSIBLE", self.balance_minor),
            BetState::Settled => Expected::declined(409, "BET_ALREADY_SETTLED", self.balance_minor),
            BetState::RolledBack | BetState::Voided => {
                self.close_if_asked(op);
                self.rolled_back("ALREADY_ROLLED_BACK", 0, Vec::new())
            }
            BetState::Committed => {
                bet.state = BetState::RolledBack;
                let refund = match bet.kind {
                    BetKind::Bet => bet.amount_minor,
                    BetKind::FreeBet => 0,
                };
                self.balance_minor += refund;
                self.close_if_asked(op);
                self.rolled_back("REFUNDED", refund, vec![(target.to_owned(), "ROLLED_BACK")])
            }
        }
    }

    fn rolled_back(
        &self,
        outcome: &'static str,
        refunded: i64,
        changed_bets: Vec<(String, &'static str)>,
    ) -> Expected {
        Expected {
            outcome: Some(outcome),
            refunded: Some(refunded),
            changed_bets,
            ..Expected::committed(self.balance_minor)
        }
    }

    /// docs/API.md "Round close": an unknown round is not created.
    fn close(&mut self, op: &Op) -> Expected {
        let existed = self.close_round(Self::round_of(op));
        Expected {
            round_state: Some(if existed { "CLOSED" } else { "NOT_FOUND" }),
            ..Expected::committed(self.balance_minor)
        }
    }

    fn close_if_asked(&mut self, op: &Op) {
        if op.round_closed {
            self.close_round(Self::round_of(op));
        }
    }

    fn close_round(&mut self, round_id: &str) -> bool {
        match self.rounds.get_mut(round_id) {
            Some(state) => {
                *state = RoundState::Closed;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str, round: &str, action: Action) -> Op {
        Op {
            transaction_id: id.to_owned(),
            round_id: Some(round.to_owned()),
            round_closed: false,
            action,
        }
    }

    fn bet(id: &str, amount_minor: i64) -> Op {
        op(
            id,
            "r1",
            Action::Bet {
                kind: BetKind::Bet,
                amount_minor,
            },
        )
    }

    fn win(id: &str, amount_minor: i64, reference: Option<&str>) -> Op {
        op(
            id,
            "r1",
            Action::Win {
                kind: WinKind::Win,
                amount_minor,
                reference: reference.map(str::to_owned),
            },
        )
    }

    fn rollback(id: &str, target: &str) -> Op {
        op(
            id,
            "r1",
            Action::Rollback {
                target: target.to_owned(),
                hint_minor: None,
            },
        )
    }

    #[test]
    fn a_bet_and_its_win_move_the_balance_and_settle_the_bet() {
        let mut model = PlayerModel::with_balance(1_000);
        assert_eq!(model.execute(&bet("b1", 300)).balance_after, 700);
        let paid = model.execute(&win("w1", 500, None));
        assert_eq!(paid.balance_after, 1_200);
        assert_eq!(paid.changed_bets, vec![("b1".to_owned(), "SETTLED")]);
        let late = model.execute(&rollback("rb1", "b1"));
        assert_eq!(late.code, Some("BET_ALREADY_SETTLED"));
    }

    #[test]
    fn a_rollback_before_its_bet_voids_the_bet_and_refuses_its_win() {
        let mut model = PlayerModel::with_balance(1_000);
        let early = model.execute(&rollback("rb1", "b1"));
        assert_eq!(early.outcome, Some("TARGET_NOT_FOUND_TOMBSTONED"));
        let late = model.execute(&bet("b1", 300));
        assert_eq!(
            (late.status, late.code, late.state),
            (409, Some("TRANSACTION_VOIDED"), "VOIDED_BY_PRIOR_ROLLBACK")
        );
        assert_eq!(late.balance_after, 1_000);
        let win = model.execute(&win("w1", 500, Some("b1")));
        assert_eq!(win.code, Some("TRANSACTION_ROLLED_BACK"));
    }

    #[test]
    fn a_refunded_bet_cannot_be_won_and_a_second_rollback_moves_nothing() {
        let mut model = PlayerModel::with_balance(1_000);
        model.execute(&bet("b1", 300));
        let refund = model.execute(&rollback("rb1", "b1"));
        assert_eq!(
            (refund.outcome, refund.refunded, refund.balance_after),
            (Some("REFUNDED"), Some(300), 1_000)
        );
        assert_eq!(
            model.execute(&win("w1", 500, Some("b1"))).code,
            Some("TRANSACTION_ROLLED_BACK")
        );
        assert_eq!(
            model.execute(&rollback("rb2", "b1")).outcome,
            Some("ALREADY_ROLLED_BACK")
        );
    }

    #[test]
    fn a_bet_beyond_the_balance_is_declined_and_opens_no_round() {
        let mut model = PlayerModel::with_balance(100);
        let declined = model.execute(&bet("b1", 300));
        assert_eq!(declined.code, Some("INSUFFICIENT_FUNDS"));
        assert_eq!(
            model.execute(&op("c1", "r1", Action::Close)).round_state,
            Some("NOT_FOUND")
        );
    }
}
