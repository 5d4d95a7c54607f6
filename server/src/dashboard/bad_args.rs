//! Leptos answers a server function whose arguments do not decode with a 500, before the
//! function runs, carrying the error it made of it (`ConsoleError::Invalid`, see
//! `app/src/model/error.rs`). That is the caller's mistake, so it becomes a 400 with the
//! same body: a 5xx would tell a monitor the server failed.
use app::model::ConsoleError;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

/// Error bodies are short; anything longer is passed on as it is.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

pub async fn client_errors_are_400(request: Request, next: Next) -> Response {
    let is_server_fn = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY_BYTES).await else {
        return Response::from_parts(parts, Body::from("server function failed"));
    };
    if let Ok(ConsoleError::Invalid(_)) = serde_json::from_slice::<ConsoleError>(&bytes) {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(bytes))
}
