//! The attempt log: one row per request to the wallet and operator APIs, whatever became
//! of it, for tracing disputes. Written in batches by a background writer, so a crash can
//! lose the last moments of it, never money data (that lives in wallet_transactions).
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Attempts::Table)
                    .col(
                        ColumnDef::new(Attempts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Attempts::RequestId).string().not_null())
                    .col(
                        ColumnDef::new(Attempts::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Attempts::LatencyMs).big_integer().not_null())
                    .col(ColumnDef::new(Attempts::Method).string().not_null())
                    .col(ColumnDef::new(Attempts::Endpoint).string().not_null())
                    .col(ColumnDef::new(Attempts::ProviderId).string().null())
                    .col(ColumnDef::new(Attempts::KeyId).string().null())
                    .col(ColumnDef::new(Attempts::TransactionId).string().null())
                    .col(ColumnDef::new(Attempts::Fingerprint).text().null())
                    // VALID, INVALID, STALE, or NONE for the operator API.
                    .col(ColumnDef::new(Attempts::Signature).string().not_null())
                    // FIRST, REPLAY, CONFLICT, DECLINED, REJECTED or ERROR.
                    .col(ColumnDef::new(Attempts::Outcome).string().not_null())
                    .col(ColumnDef::new(Attempts::HttpStatus).integer().not_null())
                    .col(ColumnDef::new(Attempts::ErrorCode).string().null())
                    // Secrets redacted, capped at 64 KiB.
                    .col(ColumnDef::new(Attempts::RequestBody).text().not_null())
                    .col(ColumnDef::new(Attempts::ResponseBody).text().not_null())
                    .to_owned(),
            )
            .await?;
        // Status lookups count a key's attempts; traces list them.
        manager
            .create_index(
                Index::create()
                    .name("idx_attempts_key")
                    .table(Attempts::Table)
                    .col(Attempts::ProviderId)
                    .col(Attempts::TransactionId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attempts_request_id")
                    .table(Attempts::Table)
                    .col(Attempts::RequestId)
                    .to_owned(),
            )
            .await?;
        // Retention prunes by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_attempts_received_at")
                    .table(Attempts::Table)
                    .col(Attempts::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Attempts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    Id,
    RequestId,
    ReceivedAt,
    LatencyMs,
    Method,
    Endpoint,
    ProviderId,
    KeyId,
    TransactionId,
    Fingerprint,
    Signature,
    Outcome,
    HttpStatus,
    ErrorCode,
    RequestBody,
    ResponseBody,
}
