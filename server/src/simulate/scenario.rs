//! What a round of play looks like: the operations a game provider sends for one round,
//! drawn from the player's seeded generator, and how each is delivered (normally, or with
//! one of the faults of [`super::faults`]). Plans are pure data; playing them is
//! [`super::player`]'s job.
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::faults::{Delivery, FaultRates, RoundFault};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetKind {
    Bet,
    FreeBet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinKind {
    Win,
    FreeWin,
    Promo,
    Jackpot,
}

impl WinKind {
    /// WIN and FREE_WIN settle a bet; promo and jackpot wins are paid without one.
    pub fn needs_bet(self) -> bool {
        matches!(self, WinKind::Win | WinKind::FreeWin)
    }

    fn wire(self) -> &'static str {
        match self {
            WinKind::Win => "WIN",
            WinKind::FreeWin => "FREE_WIN",
            WinKind::Promo => "PROMO_WIN",
            WinKind::Jackpot => "JACKPOT_WIN",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Bet {
        kind: BetKind,
        amount_minor: i64,
    },
    Win {
        kind: WinKind,
        amount_minor: i64,
        reference: Option<String>,
    },
    Rollback {
        target: String,
        hint_minor: Option<i64>,
    },
    Close,
}

/// One money operation of one player, before it becomes a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub transaction_id: String,
    /// Promo and jackpot wins may come without a round.
    pub round_id: Option<String>,
    pub round_closed: bool,
    pub action: Action,
}

/// The parts of a request body that belong to the player and provider, not the round.
pub struct BodyParts<'a> {
    pub player_id: &'a str,
    pub game_id: &'a str,
    pub session_token: &'a str,
    pub currency: &'a str,
    pub scale: u32,
}

impl Op {
    pub fn path(&self) -> &'static str {
        match self.action {
            Action::Bet { .. } => "/wallet/v1/bet",
            Action::Win { .. } => "/wallet/v1/win",
            Action::Rollback { .. } => "/wallet/v1/rollback",
            Action::Close => "/wallet/v1/rounds/close",
        }
    }

    /// The statement's name for the operation; round closes are not reported.
    pub fn statement_op(&self) -> Option<&'static str> {
        match self.action {
            Action::Bet { .. } => Some("BET"),
            Action::Win { .. } => Some("WIN"),
            Action::Rollback { .. } => Some("ROLLBACK"),
            Action::Close => None,
        }
    }

    pub fn amount_minor(&self) -> Option<i64> {
        match self.action {
            Action::Bet { amount_minor, .. } | Action::Win { amount_minor, .. } => {
                Some(amount_minor)
            }
            _ => None,
        }
    }

    /// The same key with another amount: what a buggy provider resending "the same"
    /// transaction would send. `None` for operations without an amount.
    pub fn with_other_amount(&self) -> Option<Op> {
        let mut other = self.clone();
        match &mut other.action {
            Action::Bet { amount_minor, .. } | Action::Win { amount_minor, .. } => {
                *amount_minor += 1;
                Some(other)
            }
            _ => None,
        }
    }

    /// The JSON body, serialised once: every attempt of this operation sends these bytes.
    pub fn body(&self, parts: &BodyParts<'_>) -> Vec<u8> {
        let money = |minor: i64| json!({ "value": minor.to_string(), "currency": parts.currency, "scale": parts.scale });
        let mut body = Map::new();
        body.insert("transaction_id".into(), json!(self.transaction_id));
        body.insert("player_id".into(), json!(parts.player_id));
        if let Some(round_id) = &self.round_id {
            body.insert("round_id".into(), json!(round_id));
        }
        body.insert("game_id".into(), json!(parts.game_id));
        match &self.action {
            Action::Bet { kind, amount_minor } => {
                body.insert("session_token".into(), json!(parts.session_token));
                body.insert("amount".into(), money(*amount_minor));
                if *kind == BetKind::FreeBet {
                    body.insert("kind".into(), json!("FREE_BET"));
                }
            }
            Action::Win {
                kind,
                amount_minor,
                reference,
            } => {
                body.insert("amount".into(), money(*amount_minor));
                body.insert("kind".into(), json!(kind.wire()));
                if let Some(reference) = reference {
                    body.insert("reference_transaction_id".into(), json!(reference));
                }
            }
            Action::Rollback { target, hint_minor } => {
                body.insert("target_transaction_id".into(), json!(target));
                if let Some(hint) = hint_minor {
                    body.insert("amount_hint".into(), money(*hint));
                }
                body.insert("reason".into(), json!("provider timeout"));
            }
            Action::Close => {}
        }
        if self.round_closed {
            body.insert("round_closed".into(), json!(true));
        }
        serde_json::to_vec(&Value::Object(body)).expect("a JSON map always serialises")
    }
}

/// One operation of a round and how it travels.
#[derive(Debug, Clone)]
pub struct Step {
    pub op: Op,
    pub delivery: Delivery,
    /// After the answer, resend the key with another amount: must be a conflict.
    pub probe_conflict: bool,
}

/// The kinds of round a player plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One bet, then a win (possibly of zero: a loss) that closes the round.
    Simple,
    /// Two to four bets settled by one win for the whole round.
    MultiBet,
    /// A free bet and its free win: no money staked.
    FreeSpin,
    /// A promotional credit outside any round.
    Promo,
    /// A bet above the balance: the wallet must decline it.
    OverBet,
    /// A round with one of the faults of the seed.
    Faulty(RoundFault),
}

pub struct RoundPlan {
    pub shape: Shape,
    /// Which of the run's providers hosts the round.
    pub provider: usize,
    pub round_id: Option<String>,
    pub steps: Vec<Step>,
}

/// Transaction and round ids for one player: the player id (which carries the run tag)
/// and a counter, so they are unique within the run and across runs.
pub struct IdSource {
    prefix: String,
    next: u64,
}

impl IdSource {
    pub fn new(player_id: &str) -> IdSource {
        IdSource {
            prefix: player_id.to_owned(),
            next: 0,
        }
    }

    pub fn next(&mut self, what: &str) -> String {
        self.next += 1;
        format!("{}-{what}{}", self.prefix, self.next)
    }
}

/// Stakes in minor units; the same numbers serve every currency of the simulation.
const STAKES_MINOR: [i64; 6] = [10, 20, 50, 100, 200, 500];

/// What the planner needs to know about the player.
pub struct PlanInput<'a> {
    pub balance_minor: i64,
    pub providers: usize,
    pub faults: &'a FaultRates,
    pub retry_delay: (Duration, Duration),
}

/// Draws the next round. Every choice comes from `rng`, in a fixed order, so a player's
/// rounds are the same for the same seed whatever the timing.
pub fn plan_round(rng: &mut StdRng, ids: &mut IdSource, input: &PlanInput<'_>) -> RoundPlan {
    let provider = rng.gen_range(0..input.providers.max(1));
    let shape = choose_shape(rng, input.faults);
    let round_id = (shape != Shape::Promo).then(|| ids.next("r"));
    let round = round_id.clone().unwrap_or_default();
    let ops = match shape {
        Shape::Simple => simple_round(rng, ids, &round),
        Shape::MultiBet => multi_bet_round(rng, ids, &round),
        Shape::FreeSpin => free_spin_round(rng, ids, &round),
        Shape::Promo => vec![promo_win(rng, ids)],
        Shape::OverBet => vec![bet_op(ids, &round, input.balance_minor + stake(rng))],
        Shape::Faulty(fault) => faulty_round(rng, ids, &round, fault),
    };
    let steps = ops
        .into_iter()
        .enumerate()
        .map(|(index, op)| {
            let delivery = match shape {
                // The provider never saw this bet's answer: it rolls it back next.
                Shape::Faulty(RoundFault::BetTimeout) if index == 0 => Delivery::Lost,
                _ => Delivery::draw(rng, input.faults, input.retry_delay),
            };
            let probe_conflict =
                op.amount_minor().is_some() && rng.gen_bool(input.faults.conflicting_replay);
            Step {
                op,
                delivery,
                probe_conflict,
            }
        })
        .collect();
    RoundPlan {
        shape,
        provider,
        round_id,
        steps,
    }
}

fn choose_shape(rng: &mut StdRng, faults: &FaultRates) -> Shape {
    if let Some(fault) = RoundFault::draw(rng, faults) {
        return Shape::Faulty(fault);
    }
    match rng.gen_range(0..100) {
        0..=67 => Shape::Simple,
        68..=82 => Shape::MultiBet,
        83..=92 => Shape::FreeSpin,
        93..=96 => Shape::Promo,
        _ => Shape::OverBet,
    }
}

fn stake(rng: &mut StdRng) -> i64 {
    STAKES_MINOR[rng.gen_range(0..STAKES_MINOR.len())]
}

/// A payout for `staked` minor units: most rounds lose, a few pay well, and on average
/// about 96% of the stake comes back, as in a real slot.
fn payout(rng: &mut StdRng, staked: i64) -> i64 {
    match rng.gen_range(0..100) {
        0..=59 => 0,
        60..=84 => staked * rng.gen_range(10..=20) / 10,
        85..=96 => staked * rng.gen_range(2..=4),
        _ => staked * rng.gen_range(5..=10),
    }
}

fn bet_op(ids: &mut IdSource, round: &str, amount_minor: i64) -> Op {
    Op {
        transaction_id: ids.next("bet"),
        round_id: Some(round.to_owned()),
        round_closed: false,
        action: Action::Bet {
            kind: BetKind::Bet,
            amount_minor,
        },
    }
}

fn win_op(ids: &mut IdSource, round: &str, amount_minor: i64, reference: Option<String>) -> Op {
    Op {
        transaction_id: ids.next("win"),
        round_id: Some(round.to_owned()),
        round_closed: false,
        action: Action::Win {
            kind: WinKind::Win,
            amount_minor,
            reference,
        },
    }
}

fn rollback_op(ids: &mut IdSource, round: &str, target: &str, hint_minor: Option<i64>) -> Op {
    Op {
        transaction_id: ids.next("rb"),
        round_id: Some(round.to_owned()),
        round_closed: false,
        action: Action::Rollback {
            target: target.to_owned(),
            hint_minor,
        },
    }
}

fn close_op(ids: &mut IdSource, round: &str) -> Op {
    Op {
        transaction_id: ids.next("close"),
        round_id: Some(round.to_owned()),
        round_closed: false,
        action: Action::Close,
    }
}

/// Ends a round the way providers differ: a flag on the last operation, or a separate
/// close.
fn finish(rng: &mut StdRng, ids: &mut IdSource, round: &str, mut ops: Vec<Op>) -> Vec<Op> {
    if rng.gen_bool(0.7) {
        if let Some(last) = ops.last_mut() {
            last.round_closed = true;
        }
    } else {
        ops.push(close_op(ids, round));
    }
    ops
}

fn simple_round(rng: &mut StdRng, ids: &mut IdSource, round: &str) -> Vec<Op> {
    let amount = stake(rng);
    let bet = bet_op(ids, round, amount);
    let reference = rng.gen_bool(0.5).then(|| bet.transaction_id.clone());
    let win = win_op(ids, round, payout(rng, amount), reference);
    let mut ops = vec![bet, win];
    if rng.gen_bool(0.05) {
        // A jackpot on top, paid into the same round.
        let jackpot = stake(rng) * 100;
        let mut extra = win_op(ids, round, jackpot, None);
        extra.action = Action::Win {
            kind: WinKind::Jackpot,
            amount_minor: jackpot,
            reference: None,
        };
        ops.push(extra);
    }
    finish(rng, ids, round, ops)
}

fn multi_bet_round(rng: &mut StdRng, ids: &mut IdSource, round: &str) -> Vec<Op> {
    let count = rng.gen_range(2..=4);
    let mut staked = 0;
    let mut ops = Vec::with_capacity(count + 2);
    for _ in 0..count {
        let amount = stake(rng);
        staked += amount;
        ops.push(bet_op(ids, round, amount));
    }
    ops.push(win_op(ids, round, payout(rng, staked), None));
    finish(rng, ids, round, ops)
}

fn free_spin_round(rng: &mut StdRng, ids: &mut IdSource, round: &str) -> Vec<Op> {
    let amount = stake(rng);
    let mut bet = bet_op(ids, round, amount);
    bet.action = Action::Bet {
        kind: BetKind::FreeBet,
        amount_minor: amount,
    };
    let mut win = win_op(ids, round, payout(rng, amount), None);
    if let Action::Win { amount_minor, .. } = win.action {
        win.action = Action::Win {
            kind: WinKind::FreeWin,
            amount_minor,
            reference: None,
        };
    }
    finish(rng, ids, round, vec![bet, win])
}

fn promo_win(rng: &mut StdRng, ids: &mut IdSource) -> Op {
    Op {
        transaction_id: ids.next("promo"),
        round_id: None,
        round_closed: false,
        action: Action::Win {
            kind: WinKind::Promo,
            amount_minor: stake(rng) * 5,
            reference: None,
        },
    }
}

fn faulty_round(rng: &mut StdRng, ids: &mut IdSource, round: &str, fault: RoundFault) -> Vec<Op> {
    let amount = stake(rng);
    match fault {
        // The bet's answer never came back; the provider rolls it back and ends the round.
        RoundFault::BetTimeout => {
            let bet = bet_op(ids, round, amount);
            let rollback = rollback_op(ids, round, &bet.transaction_id, Some(amount));
            vec![bet, rollback, close_op(ids, round)]
        }
        // The rollback overtakes its bet: a tombstone, then the late bet is voided.
        RoundFault::RollbackBeforeBet => {
            let bet = bet_op(ids, round, amount);
            let rollback = rollback_op(ids, round, &bet.transaction_id, Some(amount));
            vec![rollback, bet, close_op(ids, round)]
        }
        // The game pays a bet it had already cancelled: the wallet must refuse the win.
        RoundFault::WinAfterRollback => {
            let bet = bet_op(ids, round, amount);
            let rollback = rollback_op(ids, round, &bet.transaction_id, None);
            let win = win_op(
                ids,
                round,
                payout(rng, amount).max(amount),
                Some(bet.transaction_id.clone()),
            );
            vec![bet, rollback, win, close_op(ids, round)]
        }
        // The game crashed after the bet: nothing settles it, the operator must.
        RoundFault::Abandoned => vec![bet_op(ids, round, amount)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn plans(seed: u64) -> Vec<(Shape, Vec<Op>)> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut ids = IdSource::new("p1");
        let faults = FaultRates::default();
        let input = PlanInput {
            balance_minor: 10_000,
            providers: 3,
            faults: &faults,
            retry_delay: (Duration::from_secs(1), Duration::from_secs(5)),
        };
        (0..200)
            .map(|_| {
                let plan = plan_round(&mut rng, &mut ids, &input);
                (plan.shape, plan.steps.into_iter().map(|s| s.op).collect())
            })
            .collect()
    }

    #[test]
    fn the_same_seed_plans_the_same_rounds() {
        assert_eq!(plans(7), plans(7));
        assert_ne!(plans(7), plans(8));
    }

    #[test]
    fn every_transaction_id_of_a_player_is_new() {
        let mut seen = std::collections::HashSet::new();
        for (_, ops) in plans(11) {
            for op in ops {
                assert!(seen.insert(op.transaction_id.clone()), "{op:?}");
            }
        }
    }
}
