//! The APIs over HTTP: what the wallet API (`/wallet/v1`), the operator API
//! (`/operator/v1`) and the PAM API for the Valkyrie aggregator (`/pam/valkyrie`) answer,
//! and how. Each API's routes, authentication and handlers live
//! here, beside what every handler shares (the state, request ids, the attempt log's
//! middleware, the error body, JSON parsing, the OpenAPI document); what the handlers call
//! lives in the feature modules (`wallet`, `operator`, `pam`, `reconcile`, `seal`, `events`),
//! which know nothing of HTTP. The console's routes are `dashboard`.
pub mod capture;
pub mod openapi;
pub mod operator;
pub mod pam;
pub mod reconcile;
pub mod request_id;
pub mod seal;
pub mod state;
pub mod wallet;
pub mod webhooks;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::attempts::Outcome;
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::Answer;
use capture::OperationNote;

/// gzip or brotli, as the browser asks, for what people read: console pages, server
/// functions, downloads and the API documents. Not for the wallet and operator APIs,
/// whose answers are a few hundred bytes, where compressing costs more than it saves.
pub fn compression() -> tower_http::compression::CompressionLayer {
    tower_http::compression::CompressionLayer::new()
        .gzip(true)
        .br(true)
        // brotli's default (11) takes seconds on a large page; 4 is fast and close in size
        // (gzip at 4 rather than 6: a little bigger, quicker).
        .quality(tower_http::CompressionLevel::Precise(4))
}

/// A JSON response with the given status.
pub fn json_response(status: u16, body: &Value) -> Response {
    json_text_response(status, body.to_string())
}

/// A response whose body is JSON text already.
pub fn json_text_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The contract's error body for an error that was not recorded.
pub fn error_response(error: &ApiError, request_id: &str) -> Response {
    let body = json!({
        "status": "ERROR",
        "replayed": false,
        "error": error.to_json(),
        "request_id": request_id,
    });
    let mut response = json_response(error.status(), &body);
    if error.status() == 503 {
        // Tell well-behaved clients when to come back instead of hammering us.
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if error.code == ErrorCode::InternalError || error.status() >= 500 {
        tracing::warn!(code = error.code.as_str(), message = %error.message, "answered with a server error");
    }
    response
}

/// `{"status": "OK", …fields, "request_id": …}` with `status`, or the contract's error.
pub fn respond(result: Result<Value, ApiError>, status: u16, request_id: &str) -> Response {
    let fields = match result {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => serde_json::Map::new(),
        Err(error) => return error_response(&error, request_id),
    };
    let mut body = serde_json::Map::new();
    body.insert("status".into(), json!("OK"));
    body.extend(fields);
    body.insert("request_id".into(), json!(request_id));
    json_response(status, &Value::Object(body))
}

/// Parses a JSON body; any failure is `400 MALFORMED_REQUEST` with serde's explanation.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_json_value(body).and_then(|value| {
        serde_json::from_value(value)
            .map_err(|error| ApiError::malformed(format!("invalid request body: {error}")))
    })
}

/// Parses a JSON body once into `T` and into the text the attempt log and the key's
/// record keep: the same body with its secret fields redacted.
pub fn parse_json_redacted<T: DeserializeOwned>(body: &[u8]) -> Result<(T, String), ApiError> {
    let mut value = parse_json_value(body)?;
    let parsed = T::deserialize(&value)
        .map_err(|error| ApiError::malformed(format!("invalid request body: {error}")))?;
    crate::attempts::redact(&mut value);
    Ok((parsed, value.to_string()))
}

fn parse_json_value(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::malformed(format!("invalid request body: {error}")))?;
    // serde also reads a struct from a JSON array (fields by position); every body of
    // the contract is an object, so anything else is refused.
    if !value.is_object() {
        return Err(ApiError::malformed(
            "the request body must be a JSON object",
        ));
    }
    // The same holds for the money objects nested in a body.
    for field in ["amount", "amount_hint"] {
        if value
            .get(field)
            .is_some_and(|money| !money.is_object() && !money.is_null())
        {
            return Err(ApiError::malformed(format!(
                "{field}: must be a money object"
            )));
        }
    }
    Ok(value)
}

/// Whether the request carries `Authorization: Bearer <expected>`, compared in constant
/// time; an empty `expected` matches nothing.
pub fn bearer_matches(headers: &axum::http::HeaderMap, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The answer to a keyed money operation, with the note the attempt log needs.
pub fn operation_response(
    result: Result<Answer, ServiceError>,
    request_id: &str,
    keyed: &crate::idempotency::KeyedRequest,
) -> Response {
    let result = result.map_err(ServiceError::into_api);
    let note = operation_note(&result, keyed);
    let mut response = match result {
        Ok(answer) => {
            let status = answer.http_status;
            json_text_response(status, answer.into_body(request_id))
        }
        Err(error) => error_response(&error, request_id),
    };
    response.extensions_mut().insert(note);
    response
}

/// What the attempt log records of a keyed operation's answer, whichever protocol carried
/// it: the key, how the key answered, and a replay's balance.
pub fn operation_note(
    result: &Result<Answer, ApiError>,
    keyed: &crate::idempotency::KeyedRequest,
) -> OperationNote {
    let (outcome, balance) = match result {
        Ok(answer) => {
            let outcome = match (answer.replayed, answer.http_status) {
                (true, _) => Outcome::Replay,
                (false, 200) => Outcome::First,
                (false, _) => Outcome::Declined,
            };
            let balance = answer
                .balance
                .as_ref()
                .filter(|_| answer.replayed)
                .map(|money| (money.minor.get(), money.currency.code().to_owned()));
            (outcome, balance)
        }
        Err(error) => {
            let outcome = match error.code {
                ErrorCode::IdempotencyConflict => Outcome::Conflict,
                _ if error.status() >= 500 => Outcome::Error,
                _ => Outcome::Rejected,
            };
            (outcome, None)
        }
    };
    OperationNote {
        transaction_id: keyed.transaction_id.as_str().to_owned(),
        fingerprint: keyed.fingerprint.to_json(),
        outcome,
        request_body: keyed.request_body.clone(),
        balance,
    }
}
