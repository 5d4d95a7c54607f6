//! `wallet_transactions.balance_after_minor`: the player's balance after the operation.
//! With it, a bet's or win's first answer is rebuilt from the key's columns and its row
//! keeps no copy of the body (`idempotency::AnswerColumns`; docs/PERFORMANCE.md, bytes
//! per transaction). Rows written before keep their bodies and a null here.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WalletTransactions {
    Table,
    BalanceAfterMinor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WalletTransactions::Table)
                    .add_column(
                        ColumnDef::new(WalletTransactions::BalanceAfterMinor)
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
                    .table(WalletTransactions::Table)
                    .drop_column(WalletTransactions::BalanceAfterMinor)
                    .to_owned(),
            )
            .await
    }
}
