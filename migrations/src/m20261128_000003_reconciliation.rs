//! Reconciliation: the findings of the internal checks and of provider statements
//! (`discrepancies`), a record of every run (`reconciliation_runs`), and every statement a
//! provider uploaded with the result it got (`provider_reports`).
//!
//! Also a flag on `wallet_transactions` for rollbacks whose `amount_hint` differed from the
//! bet, and indexes that let the set-based checks avoid scanning what they do not need.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per finding. The unique key (kind, subject) is what makes a re-run update
        // the existing row instead of adding another: a finding is never duplicated.
        manager
            .create_table(
                Table::create()
                    .table(Discrepancies::Table)
                    .col(
                        ColumnDef::new(Discrepancies::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    // BALANCE_MISMATCH, UNBALANCED_TRANSACTION, CLEARING_MISMATCH, …
                    .col(ColumnDef::new(Discrepancies::Kind).string().not_null())
                    // CRITICAL (money), WARNING (needs a person), INFO.
                    .col(ColumnDef::new(Discrepancies::Severity).string().not_null())
                    // PLAYER, TRANSACTION, ROUND or REPORT.
                    .col(
                        ColumnDef::new(Discrepancies::SubjectType)
                            .string()
                            .not_null(),
                    )
                    // Provider-scoped subjects join their parts with '/', which is outside
                    // the id alphabet, so two subjects never collide.
                    .col(ColumnDef::new(Discrepancies::SubjectId).string().not_null())
                    .col(ColumnDef::new(Discrepancies::ProviderId).string().null())
                    // What was seen, as JSON, for the dashboard.
                    .col(ColumnDef::new(Discrepancies::Details).text().not_null())
                    .col(timestamp(Discrepancies::FirstSeenAt))
                    .col(timestamp(Discrepancies::LastSeenAt))
                    // OPEN, ACKNOWLEDGED or RESOLVED.
                    .col(ColumnDef::new(Discrepancies::Status).string().not_null())
                    .col(
                        ColumnDef::new(Discrepancies::AcknowledgedBy)
                            .string()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Discrepancies::AcknowledgedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    // A person, or "reconciliation" when the condition cleared by itself.
                    .col(ColumnDef::new(Discrepancies::ResolvedBy).string().null())
                    .col(
                        ColumnDef::new(Discrepancies::ResolvedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Discrepancies::ResolutionNote).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_discrepancies_subject")
                    .table(Discrepancies::Table)
                    .col(Discrepancies::Kind)
                    .col(Discrepancies::SubjectType)
                    .col(Discrepancies::SubjectId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The dashboard lists open findings by kind; auto-resolution looks them up the same way.
        manager
            .create_index(
                Index::create()
                    .name("idx_discrepancies_status_kind")
                    .table(Discrepancies::Table)
                    .col(Discrepancies::Status)
                    .col(Discrepancies::Kind)
                    .to_owned(),
            )
            .await?;

        // One row per run of the internal checks, for the dashboard and for operators
        // asking "when did this last run and what did it find".
        manager
            .create_table(
                Table::create()
                    .table(ReconciliationRuns::Table)
                    .col(
                        ColumnDef::new(ReconciliationRuns::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(timestamp(ReconciliationRuns::StartedAt))
                    .col(
                        ColumnDef::new(ReconciliationRuns::FinishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    // SCHEDULE, MANUAL or CLI.
                    .col(
                        ColumnDef::new(ReconciliationRuns::Trigger)
                            .string()
                            .not_null(),
                    )
                    .col(count(ReconciliationRuns::Findings))
                    .col(count(ReconciliationRuns::Opened))
                    .col(count(ReconciliationRuns::AutoResolved))
                    .col(count(ReconciliationRuns::CriticalOpen))
                    .col(count(ReconciliationRuns::DurationMs))
                    .to_owned(),
            )
            .await?;

        // A provider's statement and the answer it got. The primary key makes a re-upload
        // of a report id find the stored answer instead of computing another.
        manager
            .create_table(
                Table::create()
                    .table(ProviderReports::Table)
                    .col(
                        ColumnDef::new(ProviderReports::ProviderId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ProviderReports::ReportId)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(ProviderReports::PeriodStart))
                    .col(timestamp(ProviderReports::PeriodEnd))
                    .col(timestamp(ProviderReports::UploadedAt))
                    .col(count(ProviderReports::Rows))
                    .col(count(ProviderReports::Matched))
                    // The response's `report_id`, `matched` and `discrepancies`, as JSON.
                    .col(ColumnDef::new(ProviderReports::Result).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(ProviderReports::ProviderId)
                            .col(ProviderReports::ReportId),
                    )
                    .to_owned(),
            )
            .await?;

        // Set by the rollback that saw a differing hint, so the check reads a flag instead
        // of parsing every stored answer.
        manager
            .alter_table(
                Table::alter()
                    .table(WalletTransactions::Table)
                    .add_column(
                        ColumnDef::new(WalletTransactions::AmountHintMismatch)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        // Orphan debits (op BET, state COMMITTED, older than a cut-off) and hint mismatches
        // are found through this index rather than a scan of every transaction.
        manager
            .create_index(
                Index::create()
                    .name("idx_wtx_reconcile_op_state")
                    .table(WalletTransactions::Table)
                    .col(WalletTransactions::Op)
                    .col(WalletTransactions::State)
                    .col(WalletTransactions::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_wtx_reconcile_hint")
                    .table(WalletTransactions::Table)
                    .col(WalletTransactions::AmountHintMismatch)
                    .to_owned(),
            )
            .await?;
        // A statement covers one provider's period.
        manager
            .create_index(
                Index::create()
                    .name("idx_wtx_reconcile_period")
                    .table(WalletTransactions::Table)
                    .col(WalletTransactions::Scope)
                    .col(WalletTransactions::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // Stale rounds: open ones by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_rounds_reconcile_open")
                    .table(Rounds::Table)
                    .col(Rounds::State)
                    .col(Rounds::OpenedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_rounds_reconcile_open", Rounds::Table.into_iden()),
            (
                "idx_wtx_reconcile_period",
                WalletTransactions::Table.into_iden(),
            ),
            (
                "idx_wtx_reconcile_hint",
                WalletTransactions::Table.into_iden(),
            ),
            (
                "idx_wtx_reconcile_op_state",
                WalletTransactions::Table.into_iden(),
            ),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(WalletTransactions::Table)
                    .drop_column(WalletTransactions::AmountHintMismatch)
                    .to_owned(),
            )
            .await?;
        for table in [
            ProviderReports::Table.into_iden(),
            ReconciliationRuns::Table.into_iden(),
            Discrepancies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn count(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

#[derive(DeriveIden)]
enum Discrepancies {
    Table,
    Id,
    Kind,
    Severity,
    SubjectType,
    SubjectId,
    ProviderId,
    Details,
    FirstSeenAt,
    LastSeenAt,
    Status,
    AcknowledgedBy,
    AcknowledgedAt,
    ResolvedBy,
    ResolvedAt,
    ResolutionNote,
}

#[derive(DeriveIden)]
enum ReconciliationRuns {
    Table,
    Id,
    StartedAt,
    FinishedAt,
    Trigger,
    Findings,
    Opened,
    AutoResolved,
    CriticalOpen,
    DurationMs,
}

#[derive(DeriveIden)]
enum ProviderReports {
    Table,
    ProviderId,
    ReportId,
    PeriodStart,
    PeriodEnd,
    UploadedAt,
    Rows,
    Matched,
    Result,
}

#[derive(DeriveIden)]
enum WalletTransactions {
    Table,
    Op,
    State,
    Scope,
    CreatedAt,
    AmountHintMismatch,
}

#[derive(DeriveIden)]
enum Rounds {
    Table,
    State,
    OpenedAt,
}
