//! `wallet_transactions.request_packed`: a key's first request compressed, read only for
//! disputes (`idempotency::packed_request`; docs/PERFORMANCE.md, bytes per transaction).
//! A row with it keeps `request_body` empty; rows written before keep their text.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WalletTransactions {
    Table,
    RequestPacked,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WalletTransactions::Table)
                    .add_column(
                        ColumnDef::new(WalletTransactions::RequestPacked)
                            .binary()
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
                    .drop_column(WalletTransactions::RequestPacked)
                    .to_owned(),
            )
            .await
    }
}
