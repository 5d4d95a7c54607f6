//! The states and kinds the money path stores as text, as enums: parsed once when a row is
//! read, written with `as_str`, so that no rule compares a state with a string literal.

/// A stored value that none of the enums below knows: the database holds something the
/// code never writes, which is a bug (or an edit behind the wallet's back), never a reason
/// to tell a provider to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} in the database")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

fn unknown(what: &'static str, value: &str) -> UnknownValue {
    UnknownValue {
        what,
        value: value.to_owned(),
    }
}

/// The operation a key was used for (`wallet_transactions.op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpType {
    Bet,
    Win,
    Rollback,
    CloseRound,
    /// A cashier deposit, withdrawal or bonus grant (operator API).
    Adjustment,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Bet => "BET",
            OpType::Win => "WIN",
            OpType::Rollback => "ROLLBACK",
            OpType::CloseRound => "CLOSE_ROUND",
            OpType::Adjustment => "ADJUSTMENT",
        }
    }

    pub fn parse(value: &str) -> Result<OpType, UnknownValue> {
        Ok(match value {
            "BET" => OpType::Bet,
            "WIN" => OpType::Win,
            "ROLLBACK" => OpType::Rollback,
            "CLOSE_ROUND" => OpType::CloseRound,
            "ADJUSTMENT" => OpType::Adjustment,
            other => return Err(unknown("operation", other)),
        })
    }
}

/// A transaction's state (docs/API.md, transaction states). A bet moves on from
/// `Committed` to `Settled` or `RolledBack`; everything else keeps its first state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    /// Written by versions that claimed a key before deciding; never committed so.
    InProgress,
    Committed,
    Settled,
    RolledBack,
    Declined,
    VoidedByPriorRollback,
}

impl TxState {
    pub fn as_str(self) -> &'static str {
        match self {
            TxState::InProgress => "IN_PROGRESS",
            TxState::Committed => "COMMITTED",
            TxState::Settled => "SETTLED",
            TxState::RolledBack => "ROLLED_BACK",
            TxState::Declined => "DECLINED",
            TxState::VoidedByPriorRollback => "VOIDED_BY_PRIOR_ROLLBACK",
        }
    }

    pub fn parse(value: &str) -> Result<TxState, UnknownValue> {
        Ok(match value {
            "IN_PROGRESS" => TxState::InProgress,
            "COMMITTED" => TxState::Committed,
            "SETTLED" => TxState::Settled,
            "ROLLED_BACK" => TxState::RolledBack,
            "DECLINED" => TxState::Declined,
            "VOIDED_BY_PRIOR_ROLLBACK" => TxState::VoidedByPriorRollback,
            other => return Err(unknown("transaction state", other)),
        })
    }

    /// A bet in this state no longer takes a win, and a rollback of it changes nothing.
    pub fn is_cancelled(self) -> bool {
        matches!(self, TxState::RolledBack | TxState::VoidedByPriorRollback)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundState {
    Open,
    Closed,
}

impl RoundState {
    pub fn as_str(self) -> &'static str {
        match self {
            RoundState::Open => "OPEN",
            RoundState::Closed => "CLOSED",
        }
    }

    pub fn parse(value: &str) -> Result<RoundState, UnknownValue> {
        match value {
            "OPEN" => Ok(RoundState::Open),
            "CLOSED" => Ok(RoundState::Closed),
            other => Err(unknown("round state", other)),
        }
    }
}

/// Whether a player may bet: one type with the console's pages (`app::model`), which show
/// and change it.
pub use app::model::PlayerStatus;

/// A stored player status.
pub fn player_status(value: &str) -> Result<PlayerStatus, UnknownValue> {
    PlayerStatus::parse(value).ok_or_else(|| unknown("player status", value))
}
