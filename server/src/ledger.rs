//! The double-entry ledger. Every movement of a player's money posts two entries that sum
//! to zero: the player's account against a counter account (the provider's clearing
//! account per currency, or the operator's cashier account). The player's balance column
//! is updated in the same transaction, so balance = sum of the player's entries.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::db::entities::{ledger_entry, player};
use crate::domain::{AmountError, MinorUnits, MAX_MINOR};
use crate::error::{ApiError, ServiceError};
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

/// Moves `amount` to or from the player's account against `counter_account` and returns
/// the new balance. The player row must have been read (and, on PostgreSQL, locked) in this
/// transaction; callers check funds first, so a debit below zero here is a bug.
pub async fn post(
    txn: &DatabaseTransaction,
    wallet_tx_id: i64,
    player: &player::Model,
    direction: Direction,
    amount: MinorUnits,
    counter_account: &str,
    now: DateTime<Utc>,
) -> Result<MinorUnits, ServiceError> {
    let before = MinorUnits::from_stored(player.balance_minor).map_err(ApiError::from)?;
    if amount.is_zero() {
        return Ok(before);
    }
    let after = match direction {
        Direction::Credit => before.checked_add(amount).map_err(|_| {
            ApiError::from(AmountError::Overflow)
                .with_details(serde_json::json!({ "reason": "the balance would exceed 18 digits" }))
        })?,
        Direction::Debit => before.checked_sub(amount).ok_or_else(|| {
            ServiceError::Db(sea_orm::DbErr::Custom(
                "debit below zero: funds were not checked".into(),
            ))
        })?,
    };
    assert!(
        (0..=MAX_MINOR).contains(&after.get()),
        "balance out of range"
    );
    // Compare-and-set on the old balance: if anything changed the row behind our back the
    // update matches nothing and the whole request fails instead of moving money twice.
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
    let updated = player::Entity::update_many()
        .col_expr(player::Column::BalanceMinor, Expr::value(after.get()))
        .col_expr(player::Column::LedgerHead, Expr::value(chain_hash.as_str()))
        .col_expr(player::Column::UpdatedAt, Expr::value(now))
        .filter(player::Column::Id.eq(player.id.as_str()))
        .filter(player::Column::BalanceMinor.eq(before.get()))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ServiceError::Db(sea_orm::DbErr::Custom(
            "player balance changed concurrently".into(),
        )));
    }
    let entry = |account: String,
                 delta: i64,
                 balance_after: Option<i64>,
                 chain_hash: Option<String>| ledger_entry::ActiveModel {
        wallet_transaction_id: Set(wallet_tx_id),
        account: Set(account),
        currency: Set(player.currency.clone()),
        amount_minor: Set(delta),
        balance_after_minor: Set(balance_after),
        chain_hash: Set(chain_hash),
        created_at: Set(now),
        ..Default::default()
    };
    ledger_entry::Entity::insert_many([
        entry(
            player_account,
            player_delta,
            Some(after.get()),
            Some(chain_hash),
        ),
        entry(counter_account.to_owned(), -player_delta, None, None),
    ])
    .exec(txn)
    .await?;
    Ok(after)
}
