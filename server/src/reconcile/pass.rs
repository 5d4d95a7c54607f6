//! How a reconciliation run reads the ledger: a full pass re-reads everything (every
//! hash chain from its first posting, the money invariants as aggregates over the whole
//! ledger), an incremental pass only what changed since each player's checkpoint (the
//! chains and the money on the postings walked; docs/API.md, "Incremental
//! runs"). Full on the first run, every `WALLET_TRAIL_FULL_EVERY_RUNS` runs and on demand.
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::db::entities::reconciliation_run as run;

/// A full pass every this many runs, unless `WALLET_TRAIL_FULL_EVERY_RUNS` says otherwise.
pub const DEFAULT_FULL_EVERY_RUNS: u32 = 288;

/// How much of the ledger a run reads (named for the hash chains, where it began; the
/// `trail_pass` column of a run records it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailPass {
    /// Every chain from its first posting, and the money checks over the whole ledger.
    Full,
    /// Only what changed since each player's checkpoint, the money included.
    Incremental,
}

impl TrailPass {
    pub fn as_str(self) -> &'static str {
        match self {
            TrailPass::Full => "FULL",
            TrailPass::Incremental => "INCREMENTAL",
        }
    }
}

/// How a run chooses its pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailMode {
    /// Full on the first run and when the last full pass is `full_every_runs` runs old
    /// (0: only the first), incremental otherwise.
    Auto { full_every_runs: u32 },
    /// This pass, whatever the history.
    Force(TrailPass),
}

impl Default for TrailMode {
    fn default() -> Self {
        TrailMode::Auto {
            full_every_runs: DEFAULT_FULL_EVERY_RUNS,
        }
    }
}

/// The pass this run makes, and the previous run's highest entry id (the watermark an
/// incremental pass starts its look for inserted entries from).
pub async fn choose(
    db: &impl ConnectionTrait,
    mode: TrailMode,
) -> Result<(TrailPass, Option<i64>), DbErr> {
    let previous = run::Entity::find()
        .filter(run::Column::TrailPass.is_not_null())
        .order_by_desc(run::Column::Id)
        .one(db)
        .await?;
    let watermark = previous.as_ref().and_then(|r| r.trail_last_entry_id);
    let pass = match mode {
        TrailMode::Force(pass) => pass,
        TrailMode::Auto { full_every_runs } => {
            let last_full = run::Entity::find()
                .filter(run::Column::TrailPass.eq(TrailPass::Full.as_str()))
                .order_by_desc(run::Column::Id)
                .one(db)
                .await?;
            match last_full {
                None => TrailPass::Full,
                Some(_) if full_every_runs == 0 => TrailPass::Incremental,
                Some(full) => {
                    let since = runs_since(db, full.id).await?;
                    if since + 1 >= u64::from(full_every_runs) {
                        TrailPass::Full
                    } else {
                        TrailPass::Incremental
                    }
                }
            }
        }
    };
    Ok((pass, watermark))
}

/// Completed trail passes after run `id`.
async fn runs_since(db: &impl ConnectionTrait, id: i64) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    run::Entity::find()
        .filter(run::Column::TrailPass.is_not_null())
        .filter(run::Column::Id.gt(id))
        .count(db)
        .await
}
