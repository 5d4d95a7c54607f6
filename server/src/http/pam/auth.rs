//! `Authorization: Bearer <WALLET_VALKYRIE_API_KEY>`, compared in constant time. Without
//! the setting the PAM API is off: every call is refused with `PAM_ERR_API_TOKEN`.
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::handlers::pam_response;
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
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
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
