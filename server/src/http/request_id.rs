//! One id per attempt: the client's `X-Request-Id` when it is a valid id, else its
//! `X-Correlation-ID` (what the Valkyrie aggregator sends, docs/PAM.md), else ours. It is
//! echoed in the response header and body, and carried by the request's tracing span.
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";
/// Taken when there is no `X-Request-Id`.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(candidate: &str) -> bool {
    (1..=128).contains(&candidate.len())
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn given(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| acceptable(value))
        .map(str::to_owned)
}

pub async fn assign(mut request: Request, next: Next) -> Response {
    let request_id = given(request.headers(), HEADER)
        .or_else(|| given(request.headers(), CORRELATION_HEADER))
        // Time-ordered (UUID v7): the request-id indexes of the attempt log and of
        // `wallet_transactions` then grow at their end instead of touching a random page
        // per request in every write batch (docs/PERFORMANCE.md).
        .unwrap_or_else(|| format!("req-{}", uuid::Uuid::now_v7().simple()));
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        transaction_id = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    async move {
        let started = std::time::Instant::now();
        let mut response = next.run(request).await;
        let span = tracing::Span::current();
        span.record("status", response.status().as_u16());
        tracing::info!(
            latency_ms = started.elapsed().as_millis() as u64,
            "answered"
        );
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(HEADER, value);
        }
        response
    }
    .instrument(span)
    .await
}
