//! What the operator console reads (issue 3 item 8): the live feed of attempts, the trace
//! of one transaction, search with CSV export, and the pending rollbacks. Plain query
//! functions over the database, so they answer the same in every server process; the
//! dashboard's server functions call them and render the result. Provider-supplied text
//! is returned as data: escaping is the UI's job.
mod csv;
mod feed;
mod pending;
mod search;
mod trace;

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
