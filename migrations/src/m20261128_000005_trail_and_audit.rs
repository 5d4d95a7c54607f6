//! The tamper-evident trail and the staff audit log.
//!
//! Each player's ledger postings form a hash chain in commit order: the player entry of a
//! posting stores `chain_hash = SHA-256(previous hash, the posting's content)`, and the
//! player row keeps the chain's head, updated in the same statement as the balance. The
//! player row is already locked for every posting, so the chain costs no extra hot row.
//! Editing or deleting a committed entry directly in the database breaks the chain.
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
                    .table(LedgerEntries::Table)
                    .add_column(ColumnDef::new(LedgerEntries::ChainHash).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Players::Table)
                    .add_column(ColumnDef::new(Players::LedgerHead).string().null())
                    .to_owned(),
            )
            .await?;
        // Who did what to whom, and why: staff actions that change money or findings.
        manager
            .create_table(
                Table::create()
                    .table(StaffAudit::Table)
                    .col(
                        ColumnDef::new(StaffAudit::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(StaffAudit::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(StaffAudit::Actor).string().not_null())
                    .col(ColumnDef::new(StaffAudit::Action).string().not_null())
                    .col(ColumnDef::new(StaffAudit::SubjectType).string().not_null())
                    .col(ColumnDef::new(StaffAudit::SubjectId).string().not_null())
                    .col(ColumnDef::new(StaffAudit::Reason).text().not_null())
                    .col(ColumnDef::new(StaffAudit::Details).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_staff_audit_subject")
                    .table(StaffAudit::Table)
                    .col(StaffAudit::SubjectType)
                    .col(StaffAudit::SubjectId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StaffAudit::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Players::Table)
                    .drop_column(Players::LedgerHead)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LedgerEntries::Table)
                    .drop_column(LedgerEntries::ChainHash)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    ChainHash,
}

#[derive(DeriveIden)]
enum Players {
    Table,
    LedgerHead,
}

#[derive(DeriveIden)]
enum StaffAudit {
    Table,
    Id,
    At,
    Actor,
    Action,
    SubjectType,
    SubjectId,
    Reason,
    Details,
}
