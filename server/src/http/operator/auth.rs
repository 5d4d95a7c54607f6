//! `Authorization: Bearer <WALLET_OPERATOR_TOKEN>`, compared in constant time.
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{ApiError, ErrorCode};
use crate::http::capture::MAX_BODY_BYTES as BODY_LIMIT_BYTES;
use crate::http::request_id::RequestId;
use crate::http::state::AppState;
use crate::http::{bearer_matches, error_response};

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    if !bearer_matches(request.headers(), &state.operator_token) {
        let error = ApiError::new(ErrorCode::Unauthorized, "a valid bearer token is required");
        return error_response(&error, &request_id);
    }
    // The same body limit as the wallet API, answered in the contract's error shape.
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT_BYTES).await else {
        return error_response(&ApiError::too_large(BODY_LIMIT_BYTES), &request_id);
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(body)))
        .await
}
