//! The failures the simulator injects, and how often. Delivery faults happen to one
//! request on its way; round faults change what a round's operations are; statement
//! discrepancies are written into the provider's periodic statement.
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

/// Probabilities in `[0, 1]`: per operation for delivery faults and conflicting replays,
/// per round for round faults.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRates {
    pub dropped_response: f64,
    pub duplicate_storm: f64,
    pub conflicting_replay: f64,
    pub bad_signature: f64,
    pub stale_timestamp: f64,
    pub bet_timeout: f64,
    pub rollback_before_bet: f64,
    pub win_after_rollback: f64,
    pub abandoned_round: f64,
    /// Whether each statement carries one deliberate discrepancy of each kind.
    pub statement_discrepancies: bool,
}

impl Default for FaultRates {
    /// Rare enough that most play is ordinary, frequent enough that a minute at a few
    /// rounds per second sees every fault several times.
    fn default() -> FaultRates {
        FaultRates {
            dropped_response: 0.03,
            duplicate_storm: 0.03,
            conflicting_replay: 0.02,
            bad_signature: 0.01,
            stale_timestamp: 0.01,
            bet_timeout: 0.02,
            rollback_before_bet: 0.02,
            win_after_rollback: 0.02,
            abandoned_round: 0.005,
            statement_discrepancies: true,
        }
    }
}

impl FaultRates {
    /// Clean play: no fault of any kind.
    pub fn none() -> FaultRates {
        FaultRates {
            dropped_response: 0.0,
            duplicate_storm: 0.0,
            conflicting_replay: 0.0,
            bad_signature: 0.0,
            stale_timestamp: 0.0,
            bet_timeout: 0.0,
            rollback_before_bet: 0.0,
            win_after_rollback: 0.0,
            abandoned_round: 0.0,
            statement_discrepancies: false,
        }
    }

    /// The probabilities by flag name, for parsing and for printing.
    pub fn fields_mut(&mut self) -> [(&'static str, &mut f64); 9] {
        [
            ("drop", &mut self.dropped_response),
            ("storm", &mut self.duplicate_storm),
            ("conflict", &mut self.conflicting_replay),
            ("bad-signature", &mut self.bad_signature),
            ("stale", &mut self.stale_timestamp),
            ("bet-timeout", &mut self.bet_timeout),
            ("early-rollback", &mut self.rollback_before_bet),
            ("win-after-rollback", &mut self.win_after_rollback),
            ("abandon", &mut self.abandoned_round),
        ]
    }

    /// The round faults' probabilities must leave room for ordinary rounds.
    pub fn validate(&mut self) -> Result<(), String> {
        for (name, rate) in self.fields_mut() {
            if !(0.0..=1.0).contains(rate) {
                return Err(format!("--{name}: a probability between 0 and 1"));
            }
        }
        let per_round = self.bet_timeout
            + self.rollback_before_bet
            + self.win_after_rollback
            + self.abandoned_round;
        if per_round > 1.0 {
            return Err("the round fault probabilities add up to more than 1".to_owned());
        }
        Ok(())
    }
}

/// How one request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Normal,
    /// The answer is lost on the way back: the provider sends the same transaction again
    /// later, with a new request id, and must get the first answer replayed.
    Dropped {
        retry_after: Duration,
    },
    /// The answer is lost and the provider gives up on it (it rolls the bet back).
    Lost,
    /// Several identical requests at once: one executes, the others replay it.
    Storm {
        copies: usize,
    },
    /// First signed with a wrong secret (refused, not recorded), then correctly.
    BadSignatureFirst,
    /// First with a timestamp ten minutes old (refused, not recorded), then fresh.
    StaleFirst,
}

/// Copies in a duplicate storm, the original included.
const STORM_COPIES: std::ops::RangeInclusive<usize> = 3..=6;

impl Delivery {
    /// At most one delivery fault per request, drawn in a fixed order.
    pub fn draw(rng: &mut StdRng, rates: &FaultRates, retry_delay: (Duration, Duration)) -> Self {
        if rng.gen_bool(rates.dropped_response) {
            let (min, max) = retry_delay;
            let retry_after = if max > min {
                rng.gen_range(min..=max)
            } else {
                min
            };
            return Delivery::Dropped { retry_after };
        }
        if rng.gen_bool(rates.duplicate_storm) {
            return Delivery::Storm {
                copies: rng.gen_range(STORM_COPIES),
            };
        }
        if rng.gen_bool(rates.bad_signature) {
            return Delivery::BadSignatureFirst;
        }
        if rng.gen_bool(rates.stale_timestamp) {
            return Delivery::StaleFirst;
        }
        Delivery::Normal
    }

    /// The fault's name in the report, if this is one.
    pub fn fault_name(self) -> Option<&'static str> {
        match self {
            Delivery::Normal | Delivery::Lost => None,
            Delivery::Dropped { .. } => Some("dropped_response"),
            Delivery::Storm { .. } => Some("duplicate_storm"),
            Delivery::BadSignatureFirst => Some("bad_signature"),
            Delivery::StaleFirst => Some("stale_timestamp"),
        }
    }
}

/// Faults that shape a whole round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundFault {
    /// The bet's answer never arrives; the provider rolls the bet back.
    BetTimeout,
    /// The rollback overtakes its bet: tombstone first, then the late bet is voided.
    RollbackBeforeBet,
    /// A win for a bet that was rolled back: refused.
    WinAfterRollback,
    /// A bet nobody settles: an orphan debit for the operator's pending-rollback queue.
    Abandoned,
}

impl RoundFault {
    /// One uniform draw against the cumulative probabilities.
    pub fn draw(rng: &mut StdRng, rates: &FaultRates) -> Option<RoundFault> {
        let roll: f64 = rng.gen();
        let mut bound = 0.0;
        for (fault, rate) in [
            (RoundFault::BetTimeout, rates.bet_timeout),
            (RoundFault::RollbackBeforeBet, rates.rollback_before_bet),
            (RoundFault::WinAfterRollback, rates.win_after_rollback),
            (RoundFault::Abandoned, rates.abandoned_round),
        ] {
            bound += rate;
            if roll < bound {
                return Some(fault);
            }
        }
        None
    }

    pub fn name(self) -> &'static str {
        match self {
            RoundFault::BetTimeout => "bet_timeout_rollback",
            RoundFault::RollbackBeforeBet => "rollback_before_bet",
            RoundFault::WinAfterRollback => "win_after_rollback",
            RoundFault::Abandoned => "abandoned_round",
        }
    }
}
