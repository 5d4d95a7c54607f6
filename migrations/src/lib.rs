//! The database schema, as SeaORM migrations that run on SQLite and PostgreSQL alike.
pub use sea_orm_migration::prelude::*;

mod m20261128_000001_wallet_core;
mod m20261128_000002_attempts;
mod m20261128_000003_reconciliation;
mod m20261128_000004_attempt_counters;
mod m20261128_000005_trail_and_audit;
mod m20261128_000006_console_indexes;
mod m20261128_000007_staff;
mod m20261128_000008_trail_checkpoints;
mod m20261205_000009_lean_indexes;
mod m20261205_000010_password_change;
mod m20261205_000011_approval_requests;
mod m20261205_000012_second_factor;
mod m20261205_000013_key_last_used;
mod m20261206_000014_answers_from_columns;
mod m20261206_000015_fewer_key_indexes;
mod m20261206_000016_packed_requests;
mod m20261206_000017_trail_seals;
mod m20261206_000018_checkpoint_balances;
mod m20261207_000019_outbox;
mod m20261207_000020_pam;
mod m20261208_000021_lean_attempt_indexes;
mod plain_sql;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_wallet_core::Migration),
            Box::new(m20261128_000002_attempts::Migration),
            Box::new(m20261128_000003_reconciliation::Migration),
            Box::new(m20261128_000004_attempt_counters::Migration),
            Box::new(m20261128_000005_trail_and_audit::Migration),
            Box::new(m20261128_000006_console_indexes::Migration),
            Box::new(m20261128_000007_staff::Migration),
            Box::new(m20261128_000008_trail_checkpoints::Migration),
            Box::new(m20261205_000009_lean_indexes::Migration),
            Box::new(m20261205_000010_password_change::Migration),
            Box::new(m20261205_000011_approval_requests::Migration),
            Box::new(m20261205_000012_second_factor::Migration),
            Box::new(m20261205_000013_key_last_used::Migration),
            Box::new(m20261206_000014_answers_from_columns::Migration),
            Box::new(m20261206_000015_fewer_key_indexes::Migration),
            Box::new(m20261206_000016_packed_requests::Migration),
            Box::new(m20261206_000017_trail_seals::Migration),
            Box::new(m20261206_000018_checkpoint_balances::Migration),
            Box::new(m20261207_000019_outbox::Migration),
            Box::new(m20261207_000020_pam::Migration),
            Box::new(m20261208_000021_lean_attempt_indexes::Migration),
        ]
    }
}
