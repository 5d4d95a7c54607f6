//! Migrations written as plain SQL that both engines take as it is (`CREATE INDEX … WHERE`,
//! `DROP INDEX`), run one statement after another.
use sea_orm_migration::prelude::*;

/// Runs `statements` in order, stopping at the first that fails.
pub async fn execute_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for sql in statements {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}
