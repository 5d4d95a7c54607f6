//! Security headers on every console answer (pages, server functions, downloads, the
//! bundle): the page itself sets its Content Security Policy with the response's nonce
//! (`app::security`); everything else gets one that loads nothing. `docs/SECURITY.md`
//! says what each header prevents.
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// `Strict-Transport-Security` when the console is served over HTTPS only
/// (`WALLET_COOKIE_SECURE=1`): a year, this host only.
const HSTS: &str = "max-age=31536000";

pub async fn security_headers(
    State(https_only): State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(app::security::RESOURCE_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if https_only {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}
