//! Two fewer indexes on `wallet_transactions`, each an entry every bet wrote at a random
//! place (docs/PERFORMANCE.md, "Indexes, and the query each one serves"):
//!
//! - the console's search by transaction id across providers uses the unique key
//!   (scope, transaction_id) once per scope (`console::key_scopes`), so
//!   `idx_wtx_console_transaction_id` goes;
//! - the round index leads with the round, (scope, round_id, player_id): a win's lookup
//!   of its round's bets names all three, and the console's search by round id uses it
//!   once per scope, so `idx_wtx_console_round` goes too.
//!
//! Plain SQL: both engines take the same `CREATE INDEX` and `DROP INDEX`.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

use crate::plain_sql::execute_all;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 4] = [
    "DROP INDEX idx_wtx_console_transaction_id",
    "DROP INDEX idx_wtx_console_round",
    "DROP INDEX idx_wallet_transactions_round",
    "CREATE INDEX idx_wallet_transactions_round ON wallet_transactions \
     (scope, round_id, player_id)",
];

const DOWN: [&str; 4] = [
    "DROP INDEX idx_wallet_transactions_round",
    "CREATE INDEX idx_wallet_transactions_round ON wallet_transactions \
     (scope, player_id, round_id)",
    "CREATE INDEX idx_wtx_console_round ON wallet_transactions (round_id)",
    "CREATE INDEX idx_wtx_console_transaction_id ON wallet_transactions (transaction_id)",
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
