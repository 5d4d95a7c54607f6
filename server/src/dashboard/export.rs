//! The console's CSV downloads, each streamed chunk by chunk, capped at the export limit,
//! every text cell guarded against formula injection (`console/csv.rs`):
//!
//! - `GET /console/export.csv?q=…`: the search's matches;
//! - `GET /console/findings.csv?kind=…&status=…`: reconciliation findings;
//! - `GET /console/audit.csv?actor=…&action=…&subject=…`: the audit log;
//! - `GET /console/pending.csv`: the pending rollbacks.
//!
//! Any signed-in role may export what it may read (support and up).
use std::future::Future;

use app::model::{AuditFilter, Role, Viewer};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::Utc;
use futures::{stream, StreamExt};
use sea_orm::DbErr;

use crate::console::csv_rows;
use crate::console::{
    csv_line, export_chunk, ExportChunk, EXPORT_CHUNK, EXPORT_HEADER, EXPORT_MAX_ROWS,
};
use crate::http::state::AppState;

#[derive(serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    q: String,
}

#[derive(serde::Deserialize)]
pub struct FindingsQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
}

#[derive(serde::Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
}

/// A signed-in viewer who may read the console; anyone else gets this answer.
fn refused(viewer: Option<Extension<Viewer>>) -> Option<Response> {
    let allowed = viewer.is_some_and(|Extension(viewer)| viewer.role.allows(Role::Support));
    (!allowed).then(|| (StatusCode::UNAUTHORIZED, "sign in first").into_response())
}

pub async fn export_csv(
    State(state): State<AppState>,
    viewer: Option<Extension<Viewer>>,
    Query(ExportQuery { q }): Query<ExportQuery>,
) -> Response {
    if let Some(refusal) = refused(viewer) {
        return refusal;
    }
    let query = q.trim().to_owned();
    let filename = format!("oncewallet-{}.csv", file_safe(&q));
    download(&filename, &EXPORT_HEADER, move |before, limit| {
        let (state, query) = (state.clone(), query.clone());
        async move { export_chunk(state.store.reader(), &query, before, limit).await }
    })
}

pub async fn findings_csv(
    State(state): State<AppState>,
    viewer: Option<Extension<Viewer>>,
    Query(FindingsQuery { kind, status }): Query<FindingsQuery>,
) -> Response {
    if let Some(refusal) = refused(viewer) {
        return refusal;
    }
    let filter = csv_rows::FindingsFilter::new(&kind, &status);
    download(
        "oncewallet-findings.csv",
        &csv_rows::FINDINGS_HEADER,
        move |before, limit| {
            let (state, filter) = (state.clone(), filter.clone());
            async move {
                csv_rows::findings_chunk(
                    state.store.reader(),
                    &state.currencies,
                    &filter,
                    before,
                    limit,
                )
                .await
            }
        },
    )
}

pub async fn audit_csv(
    State(state): State<AppState>,
    viewer: Option<Extension<Viewer>>,
    Query(query): Query<AuditQuery>,
) -> Response {
    if let Some(refusal) = refused(viewer) {
        return refusal;
    }
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        subject: query.subject,
    };
    download(
        "oncewallet-audit.csv",
        &csv_rows::AUDIT_HEADER,
        move |before, limit| {
            let (state, filter) = (state.clone(), filter.clone());
            async move {
                csv_rows::audit_chunk(
                    state.store.reader(),
                    &state.currencies,
                    &filter,
                    before,
                    limit,
                )
                .await
            }
        },
    )
}

pub async fn pending_csv(
    State(state): State<AppState>,
    viewer: Option<Extension<Viewer>>,
) -> Response {
    if let Some(refusal) = refused(viewer) {
        return refusal;
    }
    // The pending list is sorted by age in memory (`console/pending.rs`), so it comes in
    // one chunk: the whole list, as the page holds it before paging.
    download(
        "oncewallet-pending.csv",
        &csv_rows::PENDING_HEADER,
        move |_, _| {
            let state = state.clone();
            async move {
                csv_rows::pending_lines(state.store.reader(), &state.currencies, Utc::now()).await
            }
        },
    )
}

/// Where a stream is: rows sent so far and the id to continue before.
struct Cursor {
    before: Option<i64>,
    sent: usize,
    done: bool,
}

/// A CSV attachment: the header, then the chunks `fetch` returns (each given the id to
/// continue before and how many rows at most), until a chunk says it was the last or
/// [`EXPORT_MAX_ROWS`] rows are out.
fn download<F, Fut>(filename: &str, header: &[&str], fetch: F) -> Response
where
    F: Fn(Option<i64>, u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<ExportChunk, DbErr>> + Send + 'static,
{
    let header_line = csv_line(header);
    let start = Cursor {
        before: None,
        sent: 0,
        done: false,
    };
    let rows = stream::unfold((fetch, start), |(fetch, mut cursor)| async move {
        if cursor.done || cursor.sent >= EXPORT_MAX_ROWS {
            return None;
        }
        let want = EXPORT_CHUNK.min((EXPORT_MAX_ROWS - cursor.sent) as u64);
        let mut chunk = match fetch(cursor.before, want).await {
            Ok(chunk) => chunk,
            Err(error) => {
                // The status is already sent; ending early is the only signal left, and the
                // log says why.
                tracing::error!(%error, "CSV export stopped early");
                return None;
            }
        };
        chunk.lines.truncate(EXPORT_MAX_ROWS - cursor.sent);
        cursor.sent += chunk.lines.len();
        cursor.before = chunk.next_before;
        cursor.done = chunk.next_before.is_none();
        // Each line carries its own CRLF.
        Some((
            Ok::<_, std::io::Error>(chunk.lines.concat()),
            (fetch, cursor),
        ))
    });
    // Fused: the compression layer (`http::compression`) polls the body once more after
    // its end, which an unfused `unfold` answers with a panic and a cut-off download.
    let body = stream::once(async move { Ok::<_, std::io::Error>(header_line) })
        .chain(rows)
        .fuse();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// Keeps a file name to the id alphabet.
fn file_safe(query: &str) -> String {
    let name: String = query
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    if name.is_empty() {
        "export".to_owned()
    } else {
        name
    }
}
