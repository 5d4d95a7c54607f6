//! Posting: every movement of a player's money is two entries that sum to zero, the
//! player's account against a counter account (the provider's clearing account per
//! currency, or the operator's cashier account). The player's balance column is written
//! in the same transaction, so balance = sum of the player's entries.
//!
//! Posting is decided in memory: [`posting`] computes the entries and the chain link,
//! [`post`] checks the amounts first. The money path applies the result to its player
//! (`money::state`) and its batch writes the entries and the balances with set-based
//! statements (`money::flush`).
use super::accounts::player_account;
use super::chain;
use crate::domain::{AmountError, MinorUnits, MAX_MINOR};
use crate::error::{ApiError, ServiceError};

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

/// Moves `amount` to or from the player's `account` against `counter_account`, checked:
/// `None` for a zero amount. Callers check funds first, so a debit below zero here is a
/// bug; a credit past 18 digits is the contract's `400 INVALID_AMOUNT`.
pub fn post(
    account: Account<'_>,
    wallet_tx_id: i64,
    direction: Direction,
    amount: MinorUnits,
    counter_account: &str,
) -> Result<Option<Posted>, ServiceError> {
    let before = MinorUnits::from_stored(account.balance_minor).map_err(ApiError::from)?;
    if amount.is_zero() {
        return Ok(None);
    }
    let after = match direction {
        Direction::Credit => before.checked_add(amount).map_err(|_| {
            ApiError::from(AmountError::Overflow)
                .with_details(serde_json::json!({ "reason": "the balance would exceed 18 digits" }))
        })?,
        Direction::Debit => before.checked_sub(amount).ok_or_else(|| {
            ServiceError::Bug(format!(
                "debit of {amount} below zero for player {}: funds were not checked",
                account.player_id
            ))
        })?,
    };
    if !(0..=MAX_MINOR).contains(&after.get()) {
        return Err(ServiceError::Bug(format!(
            "balance {after} out of range for player {}",
            account.player_id
        )));
    }
    let player_delta = match direction {
        Direction::Credit => amount.get(),
        Direction::Debit => -amount.get(),
    };
    let posted = posting(account, wallet_tx_id, player_delta, counter_account);
    debug_assert_eq!(posted.balance_after, after.get());
    Ok(Some(posted))
}

/// A player's account as a posting finds it.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    pub player_id: &'a str,
    pub currency: &'a str,
    pub balance_minor: i64,
    /// The chain's head; `None` before the first posting.
    pub head: Option<&'a str>,
}

/// What one posting produced.
#[derive(Debug, Clone)]
pub struct Posted {
    pub balance_after: i64,
    /// The player's new chain head (the link on the player's entry).
    pub chain_hash: String,
    /// The player's entry, then the counter account's.
    pub entries: [NewEntry; 2],
}

/// Posts `player_delta` (positive: to the player) against `counter_account`: the balance
/// after, the chain's next link and the two entries. No checks: callers make sure the
/// amount is not zero and the balance stays in range ([`post`] does for the wallet).
pub fn posting(
    account: Account<'_>,
    wallet_tx_id: i64,
    player_delta: i64,
    counter_account: &str,
) -> Posted {
    let balance_after = account.balance_minor + player_delta;
    let player_account = player_account(account.player_id);
    let chain_hash = chain::link(
        account.head.unwrap_or(chain::GENESIS),
        &chain::Posting {
            wallet_tx_id,
            player_account: &player_account,
            player_delta,
            balance_after,
            counter_account,
            counter_delta: -player_delta,
            currency: account.currency,
        },
    );
    Posted {
        balance_after,
        chain_hash: chain_hash.clone(),
        entries: [
            NewEntry {
                wallet_tx_id,
                account: player_account,
                currency: account.currency.to_owned(),
                amount_minor: player_delta,
                balance_after_minor: Some(balance_after),
                chain_hash: Some(chain_hash),
            },
            NewEntry {
                wallet_tx_id,
                account: counter_account.to_owned(),
                currency: account.currency.to_owned(),
                amount_minor: -player_delta,
                balance_after_minor: None,
                chain_hash: None,
            },
        ],
    }
}
