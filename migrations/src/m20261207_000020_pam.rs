//! The PAM adapter (docs/PAM.md):
//!
//! - `players.country` and `players.language`: what a PAM session answer carries; NULL
//!   means the server's default (`WALLET_DEFAULT_COUNTRY`, `WALLET_DEFAULT_LANGUAGE`).
//! - `attempts.traceparent`: the W3C trace context a request came with, so that an attempt
//!   can be matched with the aggregator's own traces.
//! - `pam_bet_refs`: which keys a studio grouped under one bet reference
//!   (`providerBetRef`), for the PAM's lookup by it. Written before the operation runs,
//!   read joined with the keys, so a reference whose operation never committed names
//!   nothing.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds them one at a time.
        for column in [Players::Country, Players::Language] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Players::Table)
                        .add_column(ColumnDef::new(column).string().null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Attempts::Table)
                    .add_column(ColumnDef::new(Attempts::Traceparent).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PamBetRefs::Table)
                    .col(ColumnDef::new(PamBetRefs::ProviderId).string().not_null())
                    .col(ColumnDef::new(PamBetRefs::BetRef).string().not_null())
                    .col(
                        ColumnDef::new(PamBetRefs::TransactionId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(PamBetRefs::PlayerId).string().not_null())
                    .col(
                        ColumnDef::new(PamBetRefs::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(PamBetRefs::ProviderId)
                            .col(PamBetRefs::BetRef)
                            .col(PamBetRefs::TransactionId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PamBetRefs::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Attempts::Table)
                    .drop_column(Attempts::Traceparent)
                    .to_owned(),
            )
            .await?;
        for column in [Players::Country, Players::Language] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Players::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Players {
    Table,
    Country,
    Language,
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    Traceparent,
}

#[derive(DeriveIden)]
enum PamBetRefs {
    Table,
    ProviderId,
    BetRef,
    TransactionId,
    PlayerId,
    CreatedAt,
}
