//! The trail in the reconciliation job: how far each player's hash chain was verified.
//!
//! - `trail_checkpoints`: per player, the last ledger entry whose link a run verified and
//!   that link, so the next run only reads the entries after it. A player whose chain did
//!   not verify keeps the break here and is verified from the start on every run until the
//!   data is repaired (that is what keeps the finding open between full passes).
//! - `reconciliation_runs` records which trail pass a run made (`FULL` or `INCREMENTAL`),
//!   how many postings it verified, and the highest ledger entry id its snapshot held:
//!   the next incremental pass also looks at players with entries above that id, which
//!   catches an entry inserted behind the wallet's back that left the head alone.
//! - `ledger_entries (account, id)`: a player's entries after a checkpoint are one index
//!   range on PostgreSQL too (SQLite's index on `account` already ends with the rowid).
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
                    .table(TrailCheckpoints::Table)
                    .col(
                        ColumnDef::new(TrailCheckpoints::PlayerId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    // 0 and the genesis link for a player without postings (or broken).
                    .col(
                        ColumnDef::new(TrailCheckpoints::EntryId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TrailCheckpoints::ChainHash)
                            .string()
                            .not_null(),
                    )
                    // Where the chain broke (NULL: at the head) and why; both NULL while
                    // the chain verifies.
                    .col(
                        ColumnDef::new(TrailCheckpoints::BrokenEntryId)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(TrailCheckpoints::BrokenReason).text().null())
                    .col(
                        ColumnDef::new(TrailCheckpoints::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // SQLite alters one column per statement.
        for column in [
            ColumnDef::new(ReconciliationRuns::TrailPass)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(ReconciliationRuns::TrailPostings)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(ReconciliationRuns::TrailLastEntryId)
                .big_integer()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ReconciliationRuns::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_ledger_entries_account_id")
                    .table(LedgerEntries::Table)
                    .col(LedgerEntries::Account)
                    .col(LedgerEntries::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_ledger_entries_account_id")
                    .table(LedgerEntries::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            ReconciliationRuns::TrailLastEntryId,
            ReconciliationRuns::TrailPostings,
            ReconciliationRuns::TrailPass,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ReconciliationRuns::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(TrailCheckpoints::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TrailCheckpoints {
    Table,
    PlayerId,
    EntryId,
    ChainHash,
    BrokenEntryId,
    BrokenReason,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ReconciliationRuns {
    Table,
    TrailPass,
    TrailPostings,
    TrailLastEntryId,
}

#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    Account,
    Id,
}
