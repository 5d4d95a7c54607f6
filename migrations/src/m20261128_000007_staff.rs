//! The console's staff: users with a role, and their sign-in sessions.
//!
//! Sessions live in the application database rather than in process memory, so a signed-in
//! operator stays signed in across a restart and across several server processes behind
//! one load balancer.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The roles the console knows; the CHECK keeps a typo from ever becoming a role.
const ROLES: [&str; 3] = ["support", "operator", "admin"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StaffUsers::Table)
                    .col(
                        ColumnDef::new(StaffUsers::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    // Stored lower-case; the unique index is what refuses a duplicate name.
                    .col(ColumnDef::new(StaffUsers::Username).string().not_null())
                    // An argon2id PHC string: algorithm, parameters and salt travel with the
                    // hash, so stronger parameters later need no migration.
                    .col(ColumnDef::new(StaffUsers::PasswordHash).string().not_null())
                    .col(
                        ColumnDef::new(StaffUsers::Role)
                            .string()
                            .not_null()
                            .check(Expr::col(StaffUsers::Role).is_in(ROLES)),
                    )
                    // Users are disabled, never deleted: the audit log keeps naming them.
                    .col(
                        ColumnDef::new(StaffUsers::Disabled)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(timestamp(StaffUsers::CreatedAt).not_null())
                    .col(timestamp(StaffUsers::UpdatedAt).not_null())
                    .col(timestamp(StaffUsers::LastLoginAt).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_staff_users_username")
                    .table(StaffUsers::Table)
                    .col(StaffUsers::Username)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // One row per session, keyed by the random id in the cookie. `user_id` repeats what
        // the session data says so that disabling a user or resetting a password can end
        // all of that user's sessions with one DELETE.
        manager
            .create_table(
                Table::create()
                    .table(StaffSessions::Table)
                    .col(
                        ColumnDef::new(StaffSessions::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    // JSON object of the session's values.
                    .col(ColumnDef::new(StaffSessions::Data).text().not_null())
                    .col(timestamp(StaffSessions::ExpiryDate).not_null())
                    .col(ColumnDef::new(StaffSessions::UserId).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // The periodic cleanup deletes by expiry; ending a user's sessions deletes by user.
        manager
            .create_index(
                Index::create()
                    .name("idx_staff_sessions_expiry")
                    .table(StaffSessions::Table)
                    .col(StaffSessions::ExpiryDate)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_staff_sessions_user")
                    .table(StaffSessions::Table)
                    .col(StaffSessions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StaffSessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(StaffUsers::Table).to_owned())
            .await
    }
}

fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).timestamp_with_time_zone().to_owned()
}

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    Disabled,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum StaffSessions {
    Table,
    Id,
    Data,
    ExpiryDate,
    UserId,
}
