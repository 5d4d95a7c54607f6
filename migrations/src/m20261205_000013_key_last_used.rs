//! `provider_keys.last_used_at`: when a key last signed a request that verified, so an
//! operator rotating keys can see that the old one has gone quiet before retiring it.
//! Written in the background a few seconds late (`wallet::keys`), never on the request path.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProviderKeys {
    Table,
    LastUsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ProviderKeys::Table)
                    .add_column(
                        ColumnDef::new(ProviderKeys::LastUsedAt)
                            .timestamp_with_time_zone()
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
                    .table(ProviderKeys::Table)
                    .drop_column(ProviderKeys::LastUsedAt)
                    .to_owned(),
            )
            .await
    }
}
