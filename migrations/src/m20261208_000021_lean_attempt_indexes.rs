//! Two fewer index entries for every request the attempt log records (docs/PERFORMANCE.md,
//! "Indexes, and the query each one serves"):
//!
//! - `idx_attempts_received_at` goes: only retention read it, and retention now walks the
//!   primary key from the smallest id (ids follow arrival), `attempts::retention`;
//! - `idx_attempts_console_outcome` (outcome, id) keeps only the rare outcomes. The live
//!   feed filtered by `FIRST` or `REPLAY`, the bulk of the log, finds its page walking the
//!   primary key; filtered by a rare outcome it names the index's condition, so that both
//!   engines use it (`console::feed`).
//!
//! Plain SQL: both engines take the same `CREATE INDEX … WHERE` and `DROP INDEX`.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

use crate::plain_sql::execute_all;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 3] = [
    "DROP INDEX idx_attempts_received_at",
    "DROP INDEX idx_attempts_console_outcome",
    "CREATE INDEX idx_attempts_console_outcome ON attempts (outcome, id) \
     WHERE outcome NOT IN ('FIRST', 'REPLAY')",
];

const DOWN: [&str; 3] = [
    "DROP INDEX idx_attempts_console_outcome",
    "CREATE INDEX idx_attempts_console_outcome ON attempts (outcome, id)",
    "CREATE INDEX idx_attempts_received_at ON attempts (received_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, &UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, &DOWN).await
    }
}
