//! The double-entry ledger. Every movement of a player's money posts two entries that sum
//! to zero: the player's account against a counter account (the provider's clearing
//! account per currency, or the operator's cashier account). The player's balance column
//! is written in the same transaction, so balance = sum of the player's entries.
//!
//! Posting is decided in memory ([`post`]); the money path's batch writes the entries
//! and the balances it produced with set-based statements (`money::flush`).
use crate::domain::{AmountError, MinorUnits, MAX_MINOR};
use crate::error::{ApiError, ServiceError};
use crate::money::model::Player;
use crate::trail;

pub fn player_account(player_id: &str) -> String {
    format!("player:{player_id}")
}

pub fn provider_account(provider_id: &str, currency: &str) -> String {
    format!("provider:{provider_id}:{currency}")
}

pub fn cashier_account(currency: &str) -> String {
    format!("operator:cashier:{currency}")
}

/// Which way the money goes, seen from the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Credit,
    Debit,
}

/// One ledger row to insert.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub wallet_tx_id: i64,
    pub account: String,
    pub currency: String,
    pub amount_minor: i64,
    /// Only on the player's entry: the balance after it.
    pub balance_after_minor: Option<i64>,
    /// Only on the player's entry: its link in the player's hash chain.
    pub chain_hash: Option<String>,
}

/// Moves `amount` to or from `player` against `counter_account`: updates the player's
/// balance and chain head in memory and returns the two entries (none for a zero
/// amount). Callers check funds first, so a debit below zero here is a bug; a credit past
/// 18 digits is the contract's `400 INVALID_AMOUNT`. Nothing changes on an error.
pub fn post(
    player: &mut Player,
    wallet_tx_id: i64,
    direction: Direction,
    amount: MinorUnits,
    counter_account: &str,
) -> Result<Vec<NewEntry>, ServiceError> {
    let before = MinorUnits::from_stored(player.balance_minor).map_err(ApiError::from)?;
    if amount.is_zero() {
        return Ok(Vec::new());
    }
    let after = match direction {
        Direction::Credit => before.checked_add(amount).map_err(|_| {
            ApiError::from(AmountError::Overflow)
                .with_details(serde_json::json!({ "reason": "the balance would exceed 18 digits" }))
        })?,
        Direction::Debit => before.checked_sub(amount).ok_or_else(|| {
            ServiceError::Bug(format!(
                "debit of {amount} below zero for player {}: funds were not checked",
                player.id
            ))
        })?,
    };
    if !(0..=MAX_MINOR).contains(&after.get()) {
        return Err(ServiceError::Bug(format!(
            "balance {after} out of range for player {}",
            player.id
        )));
    }
    let player_delta = match direction {
        Direction::Credit => amount.get(),
        Direction::Debit => -amount.get(),
    };
    let player_account = player_account(&player.id);
    let previous = player.ledger_head.as_deref().unwrap_or(trail::GENESIS);
    let chain_hash = trail::link(
        previous,
        &trail::Posting {
            wallet_tx_id,
            player_account: &player_account,
            player_delta,
            balance_after: after.get(),
            counter_account,
            counter_delta: -player_delta,
            currency: &player.currency,
        },
    );
    player.balance_minor = after.get();
    player.ledger_head = Some(chain_hash.clone());
    player.posted = true;
    Ok(vec![
        NewEntry {
            wallet_tx_id,
            account: player_account,
            currency: player.currency.clone(),
            amount_minor: player_delta,
            balance_after_minor: Some(after.get()),
            chain_hash: Some(chain_hash),
        },
        NewEntry {
            wallet_tx_id,
            account: counter_account.to_owned(),
            currency: player.currency.clone(),
            amount_minor: -player_delta,
            balance_after_minor: None,
            chain_hash: None,
        },
    ])
}
