//! Fewer index entries per money operation (docs/PERFORMANCE.md, "Indexes"). Every bet,
//! win and rollback inserts a `wallet_transactions` row and two `ledger_entries` rows;
//! each index on them is one more b-tree insert in the money path's critical section.
//!
//! - `idx_ledger_entries_account` is dropped: `idx_ledger_entries_account_id`
//!   (account, id) answers every lookup by account, in id order too.
//! - Indexes that serve rows of one kind only become partial, so the other rows never
//!   enter them: orphan and bet-state checks read bets only (`op = 'BET'`), the hint
//!   check reads flagged rollbacks only, and only wins and rollbacks name a target.
//!
//! Plain SQL: both engines take the same `CREATE INDEX … WHERE …` and `DROP INDEX`.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

use crate::plain_sql::execute_all;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 7] = [
    "DROP INDEX idx_ledger_entries_account",
    "DROP INDEX idx_wtx_reconcile_op_state",
    "CREATE INDEX idx_wtx_bets_by_state ON wallet_transactions (state, created_at) \
     WHERE op = 'BET'",
    "DROP INDEX idx_wtx_reconcile_hint",
    "CREATE INDEX idx_wtx_hint_mismatch ON wallet_transactions (id) \
     WHERE amount_hint_mismatch = TRUE",
    "DROP INDEX idx_wtx_console_target",
    "CREATE INDEX idx_wtx_console_target ON wallet_transactions (target_transaction_id) \
     WHERE target_transaction_id IS NOT NULL",
];

const DOWN: [&str; 7] = [
    "DROP INDEX idx_wtx_console_target",
    "CREATE INDEX idx_wtx_console_target ON wallet_transactions (target_transaction_id)",
    "DROP INDEX idx_wtx_hint_mismatch",
    "CREATE INDEX idx_wtx_reconcile_hint ON wallet_transactions (amount_hint_mismatch)",
    "DROP INDEX idx_wtx_bets_by_state",
    "CREATE INDEX idx_wtx_reconcile_op_state ON wallet_transactions (op, state, created_at)",
    "CREATE INDEX idx_ledger_entries_account ON ledger_entries (account)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, &UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, &DOWN).await
    }
}
