//! Authenticates every provider request (docs/API.md, "Signing") and signs every answer to
//! an authenticated one, errors included. Handlers behind it see only an
//! [`AuthenticatedProvider`].
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::db::entities::provider_key;
use crate::domain::ProviderId;
use crate::error::{ApiError, ErrorCode};
use crate::http::capture::SignatureNote;
use crate::http::error_response;
use crate::http::request_id::RequestId;
use crate::http::state::AppState;
use crate::money::SigningKey;
use crate::wallet::keys::KeyUse;
use crate::wallet::signing;

/// The provider whose key signed this request.
#[derive(Debug, Clone)]
pub struct AuthenticatedProvider {
    pub provider_id: ProviderId,
    pub key_id: String,
    /// The key as it was verified from the cache, for the money operation's first read
    /// to confirm (PostgreSQL; `money::SigningKey`).
    pub signed_by: Option<SigningKey>,
}

/// Marks the answer of a money operation whose cached signing key its first read found
/// withdrawn (`ServiceError::KeyWithdrawn`).
#[derive(Debug, Clone, Copy)]
pub struct KeyWithdrawn;

/// Authenticates a lookup or a balance read: on PostgreSQL its key is read from the
/// database, since nothing later in the request would notice a withdrawn key.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    authenticate_for(state, request, next, KeyUse::Final).await
}

/// Authenticates a money operation: its key may come from the cache, because the
/// operation's first read confirms it (`money::SigningKey`).
pub async fn authenticate_money(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    authenticate_for(state, request, next, KeyUse::ConfirmedLater).await
}

async fn authenticate_for(
    state: AppState,
    request: Request,
    next: Next,
    key_use: KeyUse,
) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    // The capture layer already bounded the body; this only reads it back.
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return error_response(&ApiError::malformed("unreadable request body"), &request_id);
    };
    let key = match verify(&state, &parts, &body, key_use).await {
        Ok(key) => key,
        Err(failure) => {
            let mut response = error_response(&failure.error, &request_id);
            let verdict = match failure.error.code {
                ErrorCode::StaleRequest => "STALE",
                ErrorCode::InvalidSignature => "INVALID",
                _ => "UNVERIFIED",
            };
            response.extensions_mut().insert(SignatureNote {
                provider_id: failure.key.as_ref().map(|k| k.provider_id.clone()),
                key_id: failure.key.map(|k| k.key_id),
                verdict,
            });
            return response;
        }
    };
    let provider_id = match ProviderId::parse(key.provider_id.clone()) {
        Ok(id) => id,
        Err(_) => return error_response(&invalid("the key's provider is invalid"), &request_id),
    };
    // Authenticate, then check the size, so that this 413 is signed (docs/API.md, "Errors").
    let limit = crate::http::capture::body_limit(parts.uri.path());
    let mut response = if body.len() > limit {
        error_response(&ApiError::too_large(limit), &request_id)
    } else {
        let mut request = Request::from_parts(parts, Body::from(body));
        let confirm = state.keys.needs_confirmation(key_use);
        let authenticated = AuthenticatedProvider {
            provider_id,
            key_id: key.key_id.clone(),
            signed_by: confirm.then(|| SigningKey {
                key_id: key.key_id.clone(),
                secret: key.secret.clone(),
            }),
        };
        request.extensions_mut().insert(authenticated);
        next.run(request).await
    };
    if response.extensions().get::<KeyWithdrawn>().is_some() {
        // The money operation's read found the cached key removed or replaced since.
        // Answered unsigned, like every refused signature.
        state.keys.clear();
        response.extensions_mut().insert(SignatureNote {
            provider_id: Some(key.provider_id.clone()),
            key_id: Some(key.key_id.clone()),
            verdict: "INVALID",
        });
        return response;
    }
    response.extensions_mut().insert(SignatureNote {
        provider_id: Some(key.provider_id.clone()),
        key_id: Some(key.key_id.clone()),
        verdict: "VALID",
    });
    sign_response(response, &key.secret).await
}

/// Why a request was not authenticated, and the key it named if that key exists.
struct AuthFailure {
    error: ApiError,
    key: Option<provider_key::Model>,
}

impl From<ApiError> for AuthFailure {
    fn from(error: ApiError) -> AuthFailure {
        AuthFailure { error, key: None }
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidSignature, message)
}

fn header<'a>(parts: &'a Parts, name: &str) -> Result<&'a str, ApiError> {
    parts
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| invalid(&format!("missing {name} header")))
}

/// Key, then signature, then freshness: an unauthenticated caller learns nothing about
/// our clock.
async fn verify(
    state: &AppState,
    parts: &Parts,
    body: &Bytes,
    key_use: KeyUse,
) -> Result<provider_key::Model, AuthFailure> {
    let key_id = header(parts, "x-wallet-key-id")?;
    let timestamp = header(parts, "x-wallet-timestamp")?;
    let signature = header(parts, "x-wallet-signature")?;
    let timestamp_ms: i64 = timestamp
        .parse()
        .map_err(|_| invalid("X-Wallet-Timestamp must be Unix time in milliseconds"))?;
    let read = |key_use| async move {
        state
            .keys
            .get(&state.store, key_id, key_use)
            .await
            .map_err(|error| crate::error::ServiceError::Db(error).into_api())?
            .ok_or_else(|| invalid("unknown key"))
    };
    let mut key = read(key_use).await?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let canonical =
        signing::request_canonical(parts.method.as_str(), path_and_query, timestamp, body);
    let mut verified = signing::verify(&key.secret, &canonical, signature);
    if !verified && state.keys.needs_confirmation(key_use) {
        // The cached copy may predate a new secret given to the same key id through
        // another process.
        state.keys.clear();
        key = read(KeyUse::Final).await?;
        verified = signing::verify(&key.secret, &canonical, signature);
    }
    if !verified {
        return Err(AuthFailure {
            error: invalid("the signature does not match"),
            key: Some(key),
        });
    }
    let skew_ms = (chrono::Utc::now().timestamp_millis() - timestamp_ms).abs();
    if skew_ms > signing::MAX_CLOCK_SKEW_MS {
        let error = ApiError::new(
            ErrorCode::StaleRequest,
            format!(
                "the request timestamp is more than {} s from the server's clock; sign it again",
                signing::MAX_CLOCK_SKEW_MS / 1000
            ),
        );
        return Err(AuthFailure {
            error,
            key: Some(key),
        });
    }
    state.keys.record_use(&key.key_id);
    Ok(key)
}

async fn sign_response(response: Response, secret: &str) -> Response {
    let (mut parts, body) = response.into_parts();
    // Our own answers are small JSON documents; the limit only guards against a bug.
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let canonical = signing::response_canonical(parts.status.as_u16(), &timestamp, &body);
    let signature = signing::sign(secret, &canonical);
    if let (Ok(timestamp), Ok(signature)) = (
        HeaderValue::from_str(&timestamp),
        HeaderValue::from_str(&signature),
    ) {
        parts.headers.insert("x-wallet-timestamp", timestamp);
        parts.headers.insert("x-wallet-signature", signature);
    }
    Response::from_parts(parts, Body::from(body))
}
