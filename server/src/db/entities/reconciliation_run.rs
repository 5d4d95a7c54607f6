use sea_orm::entity::prelude::*;

/// One run of the internal checks.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reconciliation_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub started_at: DateTimeUtc,
    /// `None` while running, or if the run died.
    pub finished_at: Option<DateTimeUtc>,
    /// `SCHEDULE`, `MANUAL` or `CLI`.
    pub trigger: String,
    /// Findings seen by this run.
    pub findings: i64,
    /// Findings this run saw for the first time (or again after they had cleared).
    pub opened: i64,
    /// Findings this run resolved because their condition cleared.
    pub auto_resolved: i64,
    /// CRITICAL findings not resolved when the run finished.
    pub critical_open: i64,
    pub duration_ms: i64,
    /// `FULL` or `INCREMENTAL`: how the run verified the ledger hash chains (`None` for
    /// runs before the trail was checked, or that failed).
    pub trail_pass: Option<String>,
    /// Postings whose link the run verified.
    pub trail_postings: Option<i64>,
    /// The highest ledger entry id in the run's snapshot: the next incremental pass looks
    /// at the players with entries above it.
    pub trail_last_entry_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
