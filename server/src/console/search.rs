//! One search box: a transaction id, request id, player id or round id, matched exactly
//! against the wallet transactions through indexes (transaction and round ids once per key
//! scope, see `console::key_scopes`).
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::csv::csv_line;
use crate::db::entities::wallet_transaction as wtx;
use crate::idempotency::format_time;

/// The most rows one page shows.
pub const SEARCH_MAX_PAGE_SIZE: u64 = 100;
/// The most rows one export holds; a bigger one is a database job, not a download.
pub const EXPORT_MAX_ROWS: usize = 100_000;
/// Rows read per query while exporting, so an export never holds a long read open.
pub const EXPORT_CHUNK: u64 = 1000;

/// One page of matches, newest first, and how many there are in all.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub items: Vec<wtx::Model>,
    /// Zero-based.
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
}

/// Transaction and round ids are looked up in every key scope, through the indexes that
/// lead with the scope (see [`super::key_scopes`]).
fn matching(query: &str, scopes: &[String]) -> Condition {
    let in_scopes = |column: wtx::Column| {
        Condition::all()
            .add(wtx::Column::Scope.is_in(scopes.iter().map(String::as_str)))
            .add(column.eq(query))
    };
    Condition::any()
        .add(in_scopes(wtx::Column::TransactionId))
        .add(wtx::Column::RequestId.eq(query))
        .add(wtx::Column::PlayerId.eq(query))
        .add(in_scopes(wtx::Column::RoundId))
}

/// Transactions whose transaction id, request id, player id or round id is `query`.
pub async fn search(
    db: &impl ConnectionTrait,
    query: &str,
    page: u64,
    page_size: u64,
) -> Result<SearchPage, DbErr> {
    let query = query.trim();
    let page_size = page_size.clamp(1, SEARCH_MAX_PAGE_SIZE);
    if query.is_empty() {
        return Ok(SearchPage {
            items: Vec::new(),
            page,
            page_size,
            total: 0,
        });
    }
    let scopes = super::key_scopes(db).await?;
    let total = wtx::Entity::find()
        .filter(matching(query, &scopes))
        .count(db)
        .await?;
    let items = wtx::Entity::find()
        .filter(matching(query, &scopes))
        .order_by_desc(wtx::Column::Id)
        .offset(page.saturating_mul(page_size))
        .limit(page_size)
        .all(db)
        .await?;
    Ok(SearchPage {
        items,
        page,
        page_size,
        total,
    })
}

/// The export's columns.
pub const EXPORT_HEADER: [&str; 14] = [
    "wallet_tx_id",
    "provider_id",
    "transaction_id",
    "op",
    "kind",
    "player_id",
    "round_id",
    "game_id",
    "amount_minor",
    "currency",
    "state",
    "error_code",
    "request_id",
    "created_at",
];

/// Up to `max_rows` (at most [`EXPORT_MAX_ROWS`]) matches, newest first, as CSV lines
/// without the header.
pub async fn export_rows(
    db: &impl ConnectionTrait,
    query: &str,
    max_rows: usize,
) -> Result<Vec<String>, DbErr> {
    let max_rows = max_rows.min(EXPORT_MAX_ROWS);
    let mut lines = Vec::new();
    let mut before: Option<i64> = None;
    while lines.len() < max_rows {
        let want = EXPORT_CHUNK.min((max_rows - lines.len()) as u64);
        let chunk = export_chunk(db, query, before, want).await?;
        lines.extend(chunk.lines);
        match chunk.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    Ok(lines)
}

/// One chunk of an export: CSV lines, and the id to continue before (`None` at the end).
pub struct ExportChunk {
    pub lines: Vec<String>,
    pub next_before: Option<i64>,
}

/// At most `limit` (and [`EXPORT_CHUNK`]) matches older than `before`, newest first: an
/// export streams chunk by chunk and never holds a long read open.
pub async fn export_chunk(
    db: &impl ConnectionTrait,
    query: &str,
    before: Option<i64>,
    limit: u64,
) -> Result<ExportChunk, DbErr> {
    let query = query.trim();
    let limit = limit.clamp(1, EXPORT_CHUNK);
    if query.is_empty() {
        return Ok(ExportChunk {
            lines: Vec::new(),
            next_before: None,
        });
    }
    let scopes = super::key_scopes(db).await?;
    let mut select = wtx::Entity::find().filter(matching(query, &scopes));
    if let Some(before) = before {
        select = select.filter(wtx::Column::Id.lt(before));
    }
    let rows = select
        .order_by_desc(wtx::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let next_before = if rows.len() as u64 == limit {
        rows.last().map(|row| row.id)
    } else {
        None
    };
    Ok(ExportChunk {
        lines: rows.iter().map(export_line).collect(),
        next_before,
    })
}

fn export_line(row: &wtx::Model) -> String {
    let optional = |value: &Option<String>| value.clone().unwrap_or_default();
    csv_line(&[
        row.id.to_string(),
        row.scope.clone(),
        row.transaction_id.clone(),
        row.op.clone(),
        optional(&row.kind),
        row.player_id.clone(),
        optional(&row.round_id),
        optional(&row.game_id),
        row.amount_minor.map(|m| m.to_string()).unwrap_or_default(),
        optional(&row.currency),
        row.state.clone(),
        optional(&row.error_code),
        row.request_id.clone(),
        format_time(row.created_at),
    ])
}
