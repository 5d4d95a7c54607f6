//! `GET /console/export.csv?q=…`: the search's matches as CSV, streamed chunk by chunk,
//! capped at the export limit, every text cell guarded against formula injection.
use app::model::{Role, Viewer};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{stream, StreamExt};

use crate::console::{csv_line, export_chunk, EXPORT_CHUNK, EXPORT_HEADER, EXPORT_MAX_ROWS};
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    q: String,
}

/// Where the stream is: rows sent so far and the id to continue before.
struct Cursor {
    query: String,
    before: Option<i64>,
    sent: usize,
    done: bool,
}

pub async fn export_csv(
    State(state): State<AppState>,
    viewer: Option<Extension<Viewer>>,
    Query(ExportQuery { q }): Query<ExportQuery>,
) -> Response {
    if !viewer.is_some_and(|Extension(viewer)| viewer.role.allows(Role::Support)) {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    }
    let header_line = csv_line(&EXPORT_HEADER);
    let start = Cursor {
        query: q.trim().to_owned(),
        before: None,
        sent: 0,
        done: false,
    };
    let rows = stream::unfold((state, start), |(state, mut cursor)| async move {
        if cursor.done || cursor.sent >= EXPORT_MAX_ROWS {
            return None;
        }
        let want = EXPORT_CHUNK.min((EXPORT_MAX_ROWS - cursor.sent) as u64);
        let chunk =
            match export_chunk(state.store.reader(), &cursor.query, cursor.before, want).await {
                Ok(chunk) => chunk,
                Err(error) => {
                    // The status is already sent; ending early is the only signal left, and the
                    // log says why.
                    tracing::error!(%error, "CSV export stopped early");
                    return None;
                }
            };
        cursor.sent += chunk.lines.len();
        cursor.before = chunk.next_before;
        cursor.done = chunk.next_before.is_none();
        // Each line carries its own CRLF.
        Some((
            Ok::<_, std::io::Error>(chunk.lines.concat()),
            (state, cursor),
        ))
    });
    let body = stream::once(async move { Ok::<_, std::io::Error>(header_line) }).chain(rows);
    let filename = format!("attachment; filename=\"oncewallet-{}.csv\"", file_safe(&q));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
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
