//! `Authorization: Bearer <WALLET_VALKYRIE_API_KEY>`, compared in constant time. Without
//! the setting the PAM API is off: every call is refused with `PAM_ERR_API_TOKEN`.
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::handlers::pam_response;
use crate::http::bearer_matches;
use crate::http::capture::MAX_BODY_BYTES;
use crate::http::state::AppState;
use crate::pam::errors::{PamCode, PamError};

pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.valkyrie_api_key.as_deref() else {
        return pam_response(Err(PamError::unauthorized(
            PamCode::ApiToken,
            "the PAM API is off: the wallet has no WALLET_VALKYRIE_API_KEY",
        )));
    };
    if !bearer_matches(request.headers(), expected) {
        return pam_response(Err(PamError::unauthorized(
            PamCode::ApiToken,
            "Authorization: Bearer <the wallet's WALLET_VALKYRIE_API_KEY> is required",
        )));
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return pam_response(Err(PamError::bad_request(
            PamCode::Undefined,
            format!("the body exceeds {MAX_BODY_BYTES} bytes"),
        )));
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(body)))
        .await
}
