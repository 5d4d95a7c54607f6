//! Seals of the trail (docs/TRAIL.md): a signed Merkle root over every player's chain head.
//!
//! - `trail_seals`: one row per seal, numbered from 1 without gaps; `record` is the line
//!   appended to the seal file, signature included, so a seal the file missed (the append
//!   failed) can be written again from here.
//! - `trail_seal_leaves`: the leaves a seal changed, one per player whose chain grew since
//!   the seal before. A seal's whole leaf set is every player's latest leaf at or below its
//!   number, which is how the verifier rebuilds each root; keyed by player first because the
//!   next seal reads every player's latest leaf.
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
                    .table(TrailSeals::Table)
                    .col(
                        ColumnDef::new(TrailSeals::Id)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(TrailSeals::SealedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TrailSeals::Players).big_integer().not_null())
                    .col(
                        ColumnDef::new(TrailSeals::Postings)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TrailSeals::Root).string().not_null())
                    .col(ColumnDef::new(TrailSeals::Record).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TrailSealLeaves::Table)
                    .col(
                        ColumnDef::new(TrailSealLeaves::PlayerId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TrailSealLeaves::SealId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TrailSealLeaves::Postings)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TrailSealLeaves::Head).string().not_null())
                    .primary_key(
                        Index::create()
                            .col(TrailSealLeaves::PlayerId)
                            .col(TrailSealLeaves::SealId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TrailSealLeaves::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TrailSeals::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TrailSeals {
    Table,
    Id,
    SealedAt,
    Players,
    Postings,
    Root,
    Record,
}

#[derive(DeriveIden)]
enum TrailSealLeaves {
    Table,
    PlayerId,
    SealId,
    Postings,
    Head,
}
