//! Indexes for the operator console's queries, so each answers from an
//! index range at a million transactions instead of scanning.
//!
//! - search matches one box against transaction id (any provider), request id, player id
//!   and round id: one single-column index each, so the OR becomes a union of index
//!   lookups on both engines;
//! - a trace finds the rollbacks and wins that name a transaction;
//! - the live feed filtered by provider or outcome walks that index in id order.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index name, table, columns).
const INDEXES: [(&str, &str, &[&str]); 7] = [
    (
        "idx_wtx_console_transaction_id",
        "wallet_transactions",
        &["transaction_id"],
    ),
    (
        "idx_wtx_console_request_id",
        "wallet_transactions",
        &["request_id"],
    ),
    (
        "idx_wtx_console_player",
        "wallet_transactions",
        &["player_id", "id"],
    ),
    (
        "idx_wtx_console_round",
        "wallet_transactions",
        &["round_id"],
    ),
    (
        "idx_wtx_console_target",
        "wallet_transactions",
        &["target_transaction_id"],
    ),
    (
        "idx_attempts_console_provider",
        "attempts",
        &["provider_id", "id"],
    ),
    (
        "idx_attempts_console_outcome",
        "attempts",
        &["outcome", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table));
            for column in columns {
                index.col(Alias::new(*column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
