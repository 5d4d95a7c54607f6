//! Events out (docs/EVENTS.md): the outbox written with the money, and webhook
//! subscriptions with what their delivery remembers.
//!
//! - `players.event_sequence`: how many `money.moved` events the player has had; the
//!   batch that moves the player's money bumps it in the same UPDATE as the balance.
//! - `outbox_events`: one narrow row per event, written in the transaction of the change
//!   it describes. A money event keeps only what names the movement (its body is built
//!   from the transaction and its ledger entries when delivered); a finding event keeps
//!   its `data` as it was when the finding changed. `position` is the order receivers see:
//!   on SQLite it stays NULL and the id is the order (one writer, so ids are handed out in
//!   commit order); on PostgreSQL concurrent transactions commit out of id order, so one
//!   node at a time numbers committed rows in the order they became visible.
//! - `webhooks`: the subscriptions, with each one's cursor (every event at or below it has
//!   been delivered or is held in `webhook_deliveries`) and the lease of the node that
//!   delivers for it.
//! - `webhook_deliveries`: events a subscriber has not acknowledged yet (being retried, or
//!   waiting behind an earlier event of the same player) and the dead ones.
//!
//! The delivery's clocks (`*_ms`) are Unix milliseconds: compared in SQL on both engines
//! without depending on how each stores a timestamp.
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
                    .table(Players::Table)
                    .add_column(
                        ColumnDef::new(Players::EventSequence)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboxEvents::Table)
                    .col(
                        ColumnDef::new(OutboxEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OutboxEvents::EventType).string().not_null())
                    .col(ColumnDef::new(OutboxEvents::PlayerId).string().null())
                    .col(ColumnDef::new(OutboxEvents::Sequence).big_integer().null())
                    .col(
                        ColumnDef::new(OutboxEvents::WalletTransactionId)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(OutboxEvents::Op).string().null())
                    .col(ColumnDef::new(OutboxEvents::Data).text().null())
                    .col(
                        ColumnDef::new(OutboxEvents::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OutboxEvents::Position).big_integer().null())
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "CREATE UNIQUE INDEX idx_outbox_position ON outbox_events (position) \
                 WHERE position IS NOT NULL",
            )
            .await?;
            db.execute_unprepared(
                "CREATE INDEX idx_outbox_unnumbered ON outbox_events (id) WHERE position IS NULL",
            )
            .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(
                        ColumnDef::new(Webhooks::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Webhooks::Url).text().not_null())
                    .col(ColumnDef::new(Webhooks::Secret).text().not_null())
                    .col(ColumnDef::new(Webhooks::Types).text().not_null())
                    .col(ColumnDef::new(Webhooks::Enabled).boolean().not_null())
                    .col(
                        ColumnDef::new(Webhooks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Webhooks::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Webhooks::DispatchedTo)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Webhooks::Delivered)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Webhooks::LeaseOwner).string().null())
                    .col(ColumnDef::new(Webhooks::LeaseUntilMs).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::WebhookId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EventId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Position)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::PlayerId).string().null())
                    .col(ColumnDef::new(WebhookDeliveries::State).string().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::FirstAttemptMs)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::NextAttemptMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::LastError).text().null())
                    .primary_key(
                        Index::create()
                            .col(WebhookDeliveries::WebhookId)
                            .col(WebhookDeliveries::EventId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_order")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::WebhookId)
                    .col(WebhookDeliveries::State)
                    .col(WebhookDeliveries::Position)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookDeliveries::Table.into_iden(),
            Webhooks::Table.into_iden(),
            OutboxEvents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Players::Table)
                    .drop_column(Players::EventSequence)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Players {
    Table,
    EventSequence,
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    EventType,
    PlayerId,
    Sequence,
    WalletTransactionId,
    Op,
    Data,
    OccurredAt,
    Position,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    Url,
    Secret,
    Types,
    Enabled,
    CreatedAt,
    UpdatedAt,
    DispatchedTo,
    Delivered,
    LeaseOwner,
    LeaseUntilMs,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    WebhookId,
    EventId,
    Position,
    PlayerId,
    State,
    Attempts,
    FirstAttemptMs,
    NextAttemptMs,
    LastError,
}
