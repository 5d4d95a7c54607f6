//! The money in the reconciliation job's checkpoints (docs/API.md, "Incremental runs").
//!
//! - `trail_checkpoints.balance_minor`: the sum of the player's ledger entries up to the
//!   checkpointed entry, as the walk that moved the checkpoint added them up. An
//!   incremental run starts the player's running sum from it, and compares the balance of
//!   a player who did not post since with it. `NULL` (every checkpoint written before this
//!   column existed) means the money up to the checkpoint was never checked that way: the
//!   next run walks that player from the first posting.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TrailCheckpoints::Table)
                    .add_column(
                        ColumnDef::new(TrailCheckpoints::BalanceMinor)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TrailCheckpoints::Table)
                    .drop_column(TrailCheckpoints::BalanceMinor)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum TrailCheckpoints {
    Table,
    BalanceMinor,
}
