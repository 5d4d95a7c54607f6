//! Per-key rate limiting of the wallet API: each signing key may send so many requests a
//! second (GCRA with a burst, `governor`), past that it gets `429 RATE_LIMITED` with
//! `retryable: true` and `Retry-After`. Off unless `WALLET_RATE_LIMIT_PER_KEY` sets it,
//! so a provider is never throttled by surprise. The limiter is `wallet::rate_limit`.
//!
//! It runs after authentication, so that only a request signed with the key counts
//! against the key: nobody can use up another provider's allowance by sending unsigned
//! requests in its name. Unauthenticated floods are the reverse proxy's business. The
//! count is per server process: N processes allow N times the rate.
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::auth::AuthenticatedProvider;
use crate::error::{ApiError, ErrorCode};
use crate::http::error_response;
use crate::http::request_id::RequestId;
use crate::wallet::rate_limit::KeyRateLimit;

/// The middleware, placed inside [`super::auth::authenticate`] so that its answers are
/// signed like every other answer to an authenticated request.
pub async fn enforce(State(limit): State<KeyRateLimit>, request: Request, next: Next) -> Response {
    let Some(key_id) = request
        .extensions()
        .get::<AuthenticatedProvider>()
        .map(|provider| provider.key_id.clone())
    else {
        return next.run(request).await;
    };
    match limit.check(&key_id) {
        Ok(()) => next.run(request).await,
        Err(wait_secs) => {
            let request_id = request
                .extensions()
                .get::<RequestId>()
                .map(|id| id.0.clone())
                .unwrap_or_default();
            let error = ApiError::new(
                ErrorCode::RateLimited,
                "this key sends more requests than the wallet accepts; nothing was done, retry later",
            );
            let mut response = error_response(&error, &request_id);
            let retry_after = HeaderValue::from(wait_secs.max(1));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after);
            response
        }
    }
}
