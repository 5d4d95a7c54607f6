//! What the operator console reads, and every query it makes: the overview, the live feed
//! of attempts, the trace of one transaction, search, the pending rollbacks, the lists
//! (players, the audit log, findings) and the rows of the CSV exports, with the mapping
//! from the database's rows to the pages' (`rows`, `findings`). Plain query functions
//! over the database, so they answer the same in every server process; the dashboard's
//! server functions call them. Provider-supplied text is returned as data: escaping is
//! the UI's job.
pub mod amounts;
mod csv;
pub mod csv_rows;
mod feed;
pub mod findings;
pub mod lists;
pub mod overview;
mod pending;
pub mod records;
pub mod rows;
mod search;
mod trace;
pub mod trace_view;

pub use csv::{csv_cell, csv_line};
pub use feed::{live_feed, FeedFilter, FeedPage, FEED_MAX_LIMIT};
pub use pending::{
    all_pending, pending_rollbacks, transactions_by_key, PendingPage, PendingRollback,
    PENDING_KINDS, PENDING_PAGE_SIZE,
};
pub use search::{
    export_chunk, export_rows, search, ExportChunk, SearchPage, EXPORT_CHUNK, EXPORT_HEADER,
    EXPORT_MAX_ROWS, SEARCH_MAX_PAGE_SIZE,
};
pub use trace::{trace, LedgerLine, RoundTrace, Trace, TransactionTrace};

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QuerySelect};

use crate::db::entities::provider;
use crate::idempotency::OPERATOR_SCOPE;

/// Every scope of idempotency keys: each provider's id, and the operator's. A search by
/// transaction or round id across providers looks it up once per scope, through the
/// indexes that lead with the scope, rather than through an index of its own that every
/// bet would write (docs/PERFORMANCE.md, "Indexes, and the query each one serves").
pub async fn key_scopes(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let mut scopes: Vec<String> = provider::Entity::find()
        .select_only()
        .column(provider::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    scopes.push(OPERATOR_SCOPE.to_owned());
    Ok(scopes)
}
