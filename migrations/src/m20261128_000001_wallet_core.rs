//! The wallet core: providers and their keys, players, game sessions, rounds, the
//! idempotency records of every money operation, rollback tombstones and the ledger.
//!
//! Uniqueness that the exactly-once promise rests on is declared here, so the database
//! enforces it across restarts and across several server processes.
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A game provider; its id comes from the authenticated key, never from a body.
        manager
            .create_table(
                Table::create()
                    .table(Providers::Table)
                    .col(
                        ColumnDef::new(Providers::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Providers::Name).string().not_null())
                    .col(timestamp(Providers::CreatedAt))
                    .col(timestamp(Providers::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        // Signing keys. The primary key on key_id makes "each key maps to one provider" a
        // database fact. Secrets are stored as given: HMAC verification needs them.
        manager
            .create_table(
                Table::create()
                    .table(ProviderKeys::Table)
                    .col(
                        ColumnDef::new(ProviderKeys::KeyId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ProviderKeys::ProviderId).string().not_null())
                    .col(ColumnDef::new(ProviderKeys::Secret).string().not_null())
                    .col(timestamp(ProviderKeys::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProviderKeys::Table, ProviderKeys::ProviderId)
                            .to(Providers::Table, Providers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_provider_keys_provider")
                    .table(ProviderKeys::Table)
                    .col(ProviderKeys::ProviderId)
                    .to_owned(),
            )
            .await?;

        // A player's balance is a cache of the sum of its ledger entries, kept in the same
        // transaction as the entries; the CHECK makes a negative balance impossible even if
        // the code had a bug.
        manager
            .create_table(
                Table::create()
                    .table(Players::Table)
                    .col(
                        ColumnDef::new(Players::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Players::Currency).string().not_null())
                    .col(ColumnDef::new(Players::Status).string().not_null())
                    .col(
                        ColumnDef::new(Players::BalanceMinor)
                            .big_integer()
                            .not_null()
                            .default(0)
                            .check(Expr::col(Players::BalanceMinor).gte(0)),
                    )
                    .col(timestamp(Players::CreatedAt))
                    .col(timestamp(Players::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        // Game sessions gate bets. A newer session for the same player, provider and game
        // supersedes the older ones (superseded = true).
        manager
            .create_table(
                Table::create()
                    .table(GameSessions::Table)
                    .col(
                        ColumnDef::new(GameSessions::Token)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(GameSessions::PlayerId).string().not_null())
                    .col(ColumnDef::new(GameSessions::ProviderId).string().not_null())
                    .col(ColumnDef::new(GameSessions::GameId).string().not_null())
                    .col(
                        ColumnDef::new(GameSessions::Superseded)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(timestamp(GameSessions::CreatedAt))
                    .col(timestamp(GameSessions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_game_sessions_owner")
                    .table(GameSessions::Table)
                    .col(GameSessions::PlayerId)
                    .col(GameSessions::ProviderId)
                    .col(GameSessions::GameId)
                    .to_owned(),
            )
            .await?;

        // Rounds are scoped by (provider, player, round id), as the contract says.
        manager
            .create_table(
                Table::create()
                    .table(Rounds::Table)
                    .col(ColumnDef::new(Rounds::ProviderId).string().not_null())
                    .col(ColumnDef::new(Rounds::PlayerId).string().not_null())
                    .col(ColumnDef::new(Rounds::RoundId).string().not_null())
                    .col(ColumnDef::new(Rounds::GameId).string().not_null())
                    .col(ColumnDef::new(Rounds::State).string().not_null())
                    .col(timestamp(Rounds::OpenedAt))
                    .col(
                        ColumnDef::new(Rounds::ClosedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Rounds::ProviderId)
                            .col(Rounds::PlayerId)
                            .col(Rounds::RoundId),
                    )
                    .to_owned(),
            )
            .await?;

        // One row per idempotency key: the operation, its fingerprint, its current state and
        // the first definitive answer, stored in the same transaction as the money movement.
        // `scope` is the provider id, or "@operator" for cashier adjustments ('@' is outside
        // the id alphabet, so the two never collide).
        manager
            .create_table(
                Table::create()
                    .table(WalletTransactions::Table)
                    .col(
                        ColumnDef::new(WalletTransactions::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WalletTransactions::Scope)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WalletTransactions::TransactionId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WalletTransactions::Op).string().not_null())
                    .col(ColumnDef::new(WalletTransactions::Kind).string().null())
                    .col(
                        ColumnDef::new(WalletTransactions::PlayerId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WalletTransactions::RoundId).string().null())
                    .col(ColumnDef::new(WalletTransactions::GameId).string().null())
                    .col(
                        ColumnDef::new(WalletTransactions::AmountMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(WalletTransactions::Currency).string().null())
                    .col(
                        ColumnDef::new(WalletTransactions::TargetTransactionId)
                            .string()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WalletTransactions::Fingerprint)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WalletTransactions::State)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WalletTransactions::Outcome).string().null())
                    .col(
                        ColumnDef::new(WalletTransactions::ErrorCode)
                            .string()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WalletTransactions::HttpStatus)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WalletTransactions::ResponseBody)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WalletTransactions::RequestBody)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WalletTransactions::RequestId)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(WalletTransactions::CreatedAt))
                    .col(timestamp(WalletTransactions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_wallet_transactions_key")
                    .table(WalletTransactions::Table)
                    .col(WalletTransactions::Scope)
                    .col(WalletTransactions::TransactionId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Wins look up the bets of a round; reconciliation walks a player's history.
        manager
            .create_index(
                Index::create()
                    .name("idx_wallet_transactions_round")
                    .table(WalletTransactions::Table)
                    .col(WalletTransactions::Scope)
                    .col(WalletTransactions::PlayerId)
                    .col(WalletTransactions::RoundId)
                    .to_owned(),
            )
            .await?;

        // A rollback whose target is unknown leaves a tombstone, so the late bet is voided.
        // The primary key makes "the first rollback wins" a database fact.
        manager
            .create_table(
                Table::create()
                    .table(Tombstones::Table)
                    .col(ColumnDef::new(Tombstones::ProviderId).string().not_null())
                    .col(
                        ColumnDef::new(Tombstones::TransactionId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Tombstones::PlayerId).string().not_null())
                    .col(
                        ColumnDef::new(Tombstones::RollbackTransactionId)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(Tombstones::CreatedAt))
                    .col(
                        ColumnDef::new(Tombstones::LateBetAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Tombstones::ProviderId)
                            .col(Tombstones::TransactionId),
                    )
                    .to_owned(),
            )
            .await?;

        // Append-only double-entry ledger: every movement posts entries that sum to zero.
        // `account` is "player:<id>", "provider:<id>:<CUR>" or "operator:cashier:<CUR>".
        manager
            .create_table(
                Table::create()
                    .table(LedgerEntries::Table)
                    .col(
                        ColumnDef::new(LedgerEntries::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(LedgerEntries::WalletTransactionId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LedgerEntries::Account).string().not_null())
                    .col(ColumnDef::new(LedgerEntries::Currency).string().not_null())
                    .col(
                        ColumnDef::new(LedgerEntries::AmountMinor)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LedgerEntries::BalanceAfterMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(timestamp(LedgerEntries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LedgerEntries::Table, LedgerEntries::WalletTransactionId)
                            .to(WalletTransactions::Table, WalletTransactions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ledger_entries_account")
                    .table(LedgerEntries::Table)
                    .col(LedgerEntries::Account)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ledger_entries_wallet_tx")
                    .table(LedgerEntries::Table)
                    .col(LedgerEntries::WalletTransactionId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LedgerEntries::Table.into_iden(),
            Tombstones::Table.into_iden(),
            WalletTransactions::Table.into_iden(),
            Rounds::Table.into_iden(),
            GameSessions::Table.into_iden(),
            Players::Table.into_iden(),
            ProviderKeys::Table.into_iden(),
            Providers::Table.into_iden(),
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

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProviderKeys {
    Table,
    KeyId,
    ProviderId,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Players {
    Table,
    Id,
    Currency,
    Status,
    BalanceMinor,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GameSessions {
    Table,
    Token,
    PlayerId,
    ProviderId,
    GameId,
    Superseded,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Rounds {
    Table,
    ProviderId,
    PlayerId,
    RoundId,
    GameId,
    State,
    OpenedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum WalletTransactions {
    Table,
    Id,
    Scope,
    TransactionId,
    Op,
    Kind,
    PlayerId,
    RoundId,
    GameId,
    AmountMinor,
    Currency,
    TargetTransactionId,
    Fingerprint,
    State,
    Outcome,
    ErrorCode,
    HttpStatus,
    ResponseBody,
    RequestBody,
    RequestId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tombstones {
    Table,
    ProviderId,
    TransactionId,
    PlayerId,
    RollbackTransactionId,
    CreatedAt,
    LateBetAt,
}

#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    Id,
    WalletTransactionId,
    Account,
    Currency,
    AmountMinor,
    BalanceAfterMinor,
    CreatedAt,
}
