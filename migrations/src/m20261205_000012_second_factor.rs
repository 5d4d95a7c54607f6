//! The console's second factor (TOTP, RFC 6238) on `staff_users`: the enrolled secret,
//! a secret being enrolled, the last time step a code was accepted for (a code is good
//! once), and the hashes of the unused recovery codes. See docs/SECURITY.md, "Second
//! factor".
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    TotpSecret,
    TotpPendingSecret,
    TotpLastStep,
    RecoveryCodes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            ColumnDef::new(StaffUsers::TotpSecret)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(StaffUsers::TotpPendingSecret)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(StaffUsers::TotpLastStep)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(StaffUsers::RecoveryCodes)
                .text()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(StaffUsers::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            StaffUsers::TotpSecret,
            StaffUsers::TotpPendingSecret,
            StaffUsers::TotpLastStep,
            StaffUsers::RecoveryCodes,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(StaffUsers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
