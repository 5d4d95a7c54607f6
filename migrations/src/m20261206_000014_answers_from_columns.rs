//! Answers rebuilt from columns instead of stored (docs/PERFORMANCE.md, bytes per
//! transaction):
//!
//! - `wallet_transactions.balance_after_minor`, the player's balance after the operation:
//!   with it a bet's or win's first answer is rebuilt from the key's columns and its row
//!   keeps no copy of the body (`idempotency::AnswerColumns`);
//! - `attempts.balance_minor` and `balance_currency`, the balance a replay answered: with
//!   them and the key's first answer a replay's body is rebuilt, and its attempt row keeps
//!   none (`trace::stored_once`).
//!
//! Rows written before keep their bodies and nulls here.
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

#[derive(DeriveIden)]
enum Attempts {
    Table,
    BalanceMinor,
    BalanceCurrency,
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
            .await?;
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Attempts::Table)
                    .add_column(ColumnDef::new(Attempts::BalanceMinor).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Attempts::Table)
                    .add_column(ColumnDef::new(Attempts::BalanceCurrency).string().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Attempts::BalanceMinor, Attempts::BalanceCurrency] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Attempts::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
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
