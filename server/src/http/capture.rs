//! The middleware that records one attempt per request. Inner layers leave notes in the
//! response's extensions: the wallet's authentication says which key signed and how the
//! signature fared, the money handlers say which key the request reached and how.
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use sea_orm::ActiveValue::{NotSet, Set};

use super::error_response;
use super::request_id::RequestId;
use super::state::AppState;
use crate::attempts::{cap, redact_and_cap, Outcome};
use crate::db::entities::attempt;
use crate::error::ApiError;

/// The contract's body limit; checked after authentication, so the 413 is signed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Provider statements (docs/API.md, "Statements from providers") may be larger.
pub const MAX_REPORT_BYTES: usize = 16 * 1024 * 1024;
/// Bodies past this are refused before anything reads them, unsigned: memory is not
/// spent on verifying what would be refused anyway.
const HARD_CAP_BYTES: usize = 1024 * 1024;

/// Left by the wallet's authentication.
#[derive(Debug, Clone)]
pub struct SignatureNote {
    pub provider_id: Option<String>,
    pub key_id: Option<String>,
    /// `VALID`, `INVALID` (also a missing header or an unknown key), `STALE`, or
    /// `UNVERIFIED` (the key could not be read: the database did not answer).
    pub verdict: &'static str,
}

/// Left by a money operation's handler once the request reached its key.
#[derive(Debug, Clone)]
pub struct OperationNote {
    pub transaction_id: String,
    pub fingerprint: String,
    pub outcome: Outcome,
    /// The request body as the handler parsed and redacted it, so that the log need not
    /// parse it again. The answer of a money operation holds no secrets.
    pub request_body: String,
    /// The balance a replay's answer carried, `(minor units, currency)`; `None` for any
    /// other outcome or a replay without a balance.
    pub balance: Option<(i64, String)>,
}

/// The largest body the endpoint accepts.
pub fn body_limit(path: &str) -> usize {
    if path.ends_with("/reconciliation/reports") {
        MAX_REPORT_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

fn read_cap(path: &str) -> usize {
    body_limit(path).max(HARD_CAP_BYTES)
}

pub async fn capture(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let received_at = Utc::now();
    let started = Instant::now();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let endpoint = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |path| path.as_str().to_owned(),
    );
    let method = request.method().to_string();
    let traceparent = traceparent(request.headers());
    let limit = read_cap(request.uri().path());
    let (parts, body) = request.into_parts();
    let (request_body, response) = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes.clone())))
                .await;
            (bytes, response)
        }
        Err(_) => (
            Default::default(),
            error_response(&ApiError::too_large(limit), &request_id),
        ),
    };
    let (parts, body) = response.into_parts();
    // Our own answers are small JSON documents; the limit only guards against a bug.
    let response_body = axum::body::to_bytes(body, MAX_REPORT_BYTES)
        .await
        .unwrap_or_default();
    let status = parts.status.as_u16();
    let signature = parts.extensions.get::<SignatureNote>();
    let operation = parts.extensions.get::<OperationNote>();
    let outcome = operation.map_or_else(
        || match status {
            200 if refused_with_200(&response_body) => Outcome::Rejected,
            _ => Outcome::from_status(status),
        },
        |o| o.outcome,
    );
    let latency = started.elapsed();
    crate::telemetry::metrics::record_request(
        &endpoint,
        signature
            .and_then(|s| s.provider_id.as_deref())
            .unwrap_or_default(),
        outcome.as_str(),
        status,
        latency,
    );
    let record = attempt::ActiveModel {
        id: NotSet,
        request_id: Set(request_id),
        received_at: Set(received_at),
        latency_ms: Set(i64::try_from(latency.as_millis()).unwrap_or(i64::MAX)),
        method: Set(method),
        endpoint: Set(endpoint),
        provider_id: Set(signature.and_then(|s| s.provider_id.clone())),
        key_id: Set(signature.and_then(|s| s.key_id.clone())),
        transaction_id: Set(operation.map(|o| o.transaction_id.clone())),
        fingerprint: Set(operation.map(|o| o.fingerprint.clone())),
        signature: Set(signature.map_or("NONE", |s| s.verdict).to_owned()),
        outcome: Set(outcome.as_str().to_owned()),
        http_status: Set(i32::from(status)),
        error_code: Set(error_code(status, &response_body)),
        request_body: Set(match operation {
            Some(note) => cap(note.request_body.clone()),
            None => redact_and_cap(&request_body),
        }),
        response_body: Set(match operation {
            Some(_) => cap(String::from_utf8_lossy(&response_body).into_owned()),
            None => redact_and_cap(&response_body),
        }),
        balance_minor: Set(operation.and_then(|o| o.balance.as_ref().map(|b| b.0))),
        balance_currency: Set(operation.and_then(|o| o.balance.as_ref().map(|b| b.1.clone()))),
        traceparent: Set(traceparent),
    };
    state.attempts.record(record);
    Response::from_parts(parts, Body::from(response_body))
}

/// The W3C trace context's `traceparent` (`00-<trace id>-<parent id>-<flags>`), kept when
/// it looks like one: lower-case hex digits and dashes, at most 128 characters.
fn traceparent(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let plausible = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-');
    plausible.then(|| value.to_owned())
}

/// A refusal the PAM answers with `200` and `"status": "ERROR"` (docs/PAM.md, "Errors").
fn refused_with_200(body: &[u8]) -> bool {
    body.starts_with(br#"{"status":"ERROR""#)
}

/// The error code of an answer: a 4xx or 5xx one's, or a PAM refusal's.
fn error_code(status: u16, body: &[u8]) -> Option<String> {
    if status < 400 && !refused_with_200(body) {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    json.pointer("/error/code")?.as_str().map(str::to_owned)
}
