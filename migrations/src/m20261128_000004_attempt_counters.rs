//! Attempt counters: the dashboard's overview and charts, kept incrementally. The attempt
//! log writer folds each batch into one row per (minute, provider, endpoint, outcome,
//! status, error code, currency) and adds it to the stored row in the same transaction as
//! the batch's insert, so the counters always equal the log (both are written, or
//! neither) and reading an overview never scans the log.
//!
//! Latency is kept as fixed histogram buckets (not cumulative: each counts the latencies
//! above the previous bound up to its own), from which percentiles are estimated as the
//! bucket's upper bound. Several server processes may add to one row: every update is
//! `count = count + excluded.count`, never a read-modify-write.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The upper bounds of the latency buckets, in milliseconds; one more bucket takes the rest.
const BUCKET_COLUMNS: [AttemptCounters; 13] = [
    AttemptCounters::LatencyLe1Ms,
    AttemptCounters::LatencyLe2Ms,
    AttemptCounters::LatencyLe5Ms,
    AttemptCounters::LatencyLe10Ms,
    AttemptCounters::LatencyLe20Ms,
    AttemptCounters::LatencyLe50Ms,
    AttemptCounters::LatencyLe100Ms,
    AttemptCounters::LatencyLe200Ms,
    AttemptCounters::LatencyLe500Ms,
    AttemptCounters::LatencyLe1000Ms,
    AttemptCounters::LatencyLe2000Ms,
    AttemptCounters::LatencyLe5000Ms,
    AttemptCounters::LatencyOver5000Ms,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(AttemptCounters::Table)
            // The minute, as Unix seconds of its start (UTC). An integer compares and
            // ranges the same way on both engines.
            .col(
                ColumnDef::new(AttemptCounters::MinuteUnixS)
                    .big_integer()
                    .not_null(),
            )
            // '' when the request was refused before a provider was known: a primary key
            // column cannot be NULL, and '' is no provider id.
            .col(
                ColumnDef::new(AttemptCounters::ProviderId)
                    .string()
                    .not_null(),
            )
            // The route as matched (`/wallet/v1/rounds/{round_id}`), never the raw path.
            .col(
                ColumnDef::new(AttemptCounters::Endpoint)
                    .string()
                    .not_null(),
            )
            // FIRST, REPLAY, CONFLICT, DECLINED, REJECTED or ERROR, as in `attempts`.
            .col(ColumnDef::new(AttemptCounters::Outcome).string().not_null())
            .col(
                ColumnDef::new(AttemptCounters::HttpStatus)
                    .integer()
                    .not_null(),
            )
            // '' for successes.
            .col(
                ColumnDef::new(AttemptCounters::ErrorCode)
                    .string()
                    .not_null(),
            )
            // The request's `amount.currency`; '' when the request carried no amount (or
            // never reached its key). In the key so that amounts are only ever summed
            // within one currency.
            .col(
                ColumnDef::new(AttemptCounters::Currency)
                    .string()
                    .not_null(),
            )
            .col(
                ColumnDef::new(AttemptCounters::Count)
                    .big_integer()
                    .not_null(),
            )
            // Sum of the requests' `amount.value` in minor units. On REPLAY rows this is
            // the money the replays would have moved a second time without idempotency.
            // Saturates at the largest BIGINT rather than failing the batch.
            .col(
                ColumnDef::new(AttemptCounters::AmountMinorSum)
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(AttemptCounters::LatencyMsSum)
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(AttemptCounters::LatencyMsMax)
                    .big_integer()
                    .not_null(),
            );
        for column in BUCKET_COLUMNS {
            table.col(ColumnDef::new(column).big_integer().not_null());
        }
        // The minute leads the key: windows, charts and retention all range over it.
        table.primary_key(
            Index::create()
                .name("pk_attempt_counters")
                .col(AttemptCounters::MinuteUnixS)
                .col(AttemptCounters::ProviderId)
                .col(AttemptCounters::Endpoint)
                .col(AttemptCounters::Outcome)
                .col(AttemptCounters::HttpStatus)
                .col(AttemptCounters::ErrorCode)
                .col(AttemptCounters::Currency),
        );
        manager.create_table(table.to_owned()).await?;
        // The per-provider overview ranges over one provider's minutes.
        manager
            .create_index(
                Index::create()
                    .name("idx_attempt_counters_provider_minute")
                    .table(AttemptCounters::Table)
                    .col(AttemptCounters::ProviderId)
                    .col(AttemptCounters::MinuteUnixS)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AttemptCounters::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AttemptCounters {
    Table,
    MinuteUnixS,
    ProviderId,
    Endpoint,
    Outcome,
    HttpStatus,
    ErrorCode,
    Currency,
    Count,
    AmountMinorSum,
    LatencyMsSum,
    LatencyMsMax,
    LatencyLe1Ms,
    LatencyLe2Ms,
    LatencyLe5Ms,
    LatencyLe10Ms,
    LatencyLe20Ms,
    LatencyLe50Ms,
    LatencyLe100Ms,
    LatencyLe200Ms,
    LatencyLe500Ms,
    LatencyLe1000Ms,
    LatencyLe2000Ms,
    LatencyLe5000Ms,
    LatencyOver5000Ms,
}
