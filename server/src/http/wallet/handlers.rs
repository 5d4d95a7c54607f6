//! Provider API handlers: parse, call one service function, map to the wire.
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::auth::{AuthenticatedProvider, KeyWithdrawn};
use crate::domain::PlayerId;
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::http::request_id::RequestId;
use crate::http::state::AppState;
use crate::http::{
    error_response, json_response, operation_response, parse_json, parse_json_redacted,
};
use crate::money::{self, player_money, Operation};
use crate::wallet::operations::{Bet, CloseRound, RequestContext, Rollback, Win};
use crate::wallet::wire::{self, BalanceRequest};

/// Parses a money operation from its request and its body as stored (secrets redacted).
type Parser<R, O> = fn(R, String, RequestContext) -> Result<O, ApiError>;

async fn money_operation<R: DeserializeOwned, O: Operation>(
    state: &AppState,
    provider: AuthenticatedProvider,
    request_id: &str,
    body: &[u8],
    parse: Parser<R, O>,
) -> Response {
    let ctx = RequestContext {
        provider_id: provider.provider_id,
        currencies: state.currencies.clone(),
        request_id: request_id.to_owned(),
    };
    let operation = match parse_json_redacted(body)
        .and_then(|(request, stored_body)| parse(request, stored_body, ctx))
    {
        Ok(operation) => Arc::new(operation),
        Err(error) => return error_response(&error, request_id),
    };
    tracing::Span::current().record("transaction_id", operation.keyed().transaction_id.as_str());
    let result = money::execute(
        &state.store,
        &state.currencies,
        operation.clone(),
        provider.signed_by.as_ref(),
    )
    .await;
    let withdrawn = matches!(result, Err(ServiceError::KeyWithdrawn));
    let mut response = operation_response(result, request_id, operation.keyed());
    if withdrawn {
        response.extensions_mut().insert(KeyWithdrawn);
    }
    response
}

#[utoipa::path(post, path = "/wallet/v1/bet", tag = "wallet", request_body = wire::BetRequest,
    responses(
        (status = 200, description = "Committed, or the replay of an earlier answer", body = wire::OperationResponse),
        (status = 401, description = "Declined: SESSION_INVALID or SESSION_EXPIRED (recorded); or not authenticated: INVALID_SIGNATURE, STALE_REQUEST (not signed)", body = wire::ErrorResponse),
        (status = 403, description = "Declined: PLAYER_BLOCKED", body = wire::ErrorResponse),
        (status = 404, description = "Declined: PLAYER_NOT_FOUND", body = wire::ErrorResponse),
        (status = 409, description = "Declined: ROUND_CLOSED, TRANSACTION_VOIDED; or IDEMPOTENCY_CONFLICT (not recorded)", body = wire::ErrorResponse),
        (status = 422, description = "Declined: CURRENCY_MISMATCH, INSUFFICIENT_FUNDS", body = wire::ErrorResponse)))]
pub async fn bet(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    money_operation(&state, provider, &request_id, &body, Bet::parse).await
}

#[utoipa::path(post, path = "/wallet/v1/win", tag = "wallet", request_body = wire::WinRequest,
    responses(
        (status = 200, description = "Committed, or the replay of an earlier answer", body = wire::OperationResponse),
        (status = 404, description = "Declined: PLAYER_NOT_FOUND, REFERENCE_NOT_FOUND", body = wire::ErrorResponse),
        (status = 409, description = "Declined: TRANSACTION_ROLLED_BACK, ROUND_CLOSED; or IDEMPOTENCY_CONFLICT (not recorded)", body = wire::ErrorResponse),
        (status = 422, description = "Declined: CURRENCY_MISMATCH", body = wire::ErrorResponse)))]
pub async fn win(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    money_operation(&state, provider, &request_id, &body, Win::parse).await
}

#[utoipa::path(post, path = "/wallet/v1/rollback", tag = "wallet", request_body = wire::RollbackRequest,
    responses(
        (status = 200, description = "REFUNDED, TARGET_NOT_FOUND_TOMBSTONED or ALREADY_ROLLED_BACK", body = wire::OperationResponse),
        (status = 404, description = "Declined: PLAYER_NOT_FOUND, REFERENCE_NOT_FOUND", body = wire::ErrorResponse),
        (status = 409, description = "Declined: BET_ALREADY_SETTLED; or IDEMPOTENCY_CONFLICT (not recorded)", body = wire::ErrorResponse),
        (status = 422, description = "Declined: NOT_REVERSIBLE", body = wire::ErrorResponse)))]
pub async fn rollback(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    money_operation(&state, provider, &request_id, &body, Rollback::parse).await
}

#[utoipa::path(post, path = "/wallet/v1/rounds/close", tag = "wallet", request_body = wire::CloseRoundRequest,
    responses(
        (status = 200, description = "CLOSED, or NOT_FOUND for a round that never had a bet", body = wire::OperationResponse),
        (status = 404, description = "Declined: PLAYER_NOT_FOUND", body = wire::ErrorResponse),
        (status = 409, description = "IDEMPOTENCY_CONFLICT (not recorded)", body = wire::ErrorResponse)))]
pub async fn close_round(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    money_operation(&state, provider, &request_id, &body, CloseRound::parse).await
}

#[utoipa::path(post, path = "/wallet/v1/balance", tag = "wallet", request_body = BalanceRequest,
    responses(
        (status = 200, description = "The player's balance", body = wire::BalanceResponse),
        (status = 404, description = "PLAYER_NOT_FOUND", body = wire::ErrorResponse),
        (status = 422, description = "CURRENCY_MISMATCH: not the player's currency", body = wire::ErrorResponse)))]
pub async fn balance(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    match read_balance(&state, &body).await {
        Ok((player_id, money)) => json_response(
            200,
            &json!({ "status": "OK", "player_id": player_id, "balance": money.to_wire(), "request_id": request_id }),
        ),
        Err(error) => error_response(&error, &request_id),
    }
}

async fn read_balance(
    state: &AppState,
    body: &[u8],
) -> Result<(String, crate::domain::Money), ApiError> {
    let request: BalanceRequest = parse_json(body)?;
    let player_id = PlayerId::parse(request.player_id)
        .map_err(|e| ApiError::malformed(format!("player_id: {e}")))?;
    let currency = state.currencies.currency(&request.currency)?;
    let player = crate::wallet::lookups::player(state.store.reader(), &player_id)
        .await
        .map_err(ServiceError::into_api)?;
    // As a lookup's (see `lookup_response`).
    state.store.settled().await;
    let player = player.ok_or_else(|| {
        ApiError::new(
            ErrorCode::PlayerNotFound,
            format!("player {player_id} does not exist"),
        )
    })?;
    if player.currency != currency.code() {
        return Err(ApiError::new(
            ErrorCode::CurrencyMismatch,
            format!("the player's currency is {}", player.currency),
        ));
    }
    let money = player_money(&state.currencies, &player).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InternalError,
            "the player's currency is not configured",
        )
    })?;
    Ok((player_id.into_string(), money))
}

/// A signed GET's query string, as a map.
type Query = axum::extract::Query<std::collections::HashMap<String, String>>;

/// A lookup's answer, once what it read is durable: nothing is answered that a power cut
/// could still undo (see `Store::settled`).
async fn lookup_response(
    state: &AppState,
    result: Result<serde_json::Value, ApiError>,
    request_id: &str,
    wrap: Option<&str>,
) -> Response {
    state.store.settled().await;
    match result {
        Ok(found) => {
            let mut body = serde_json::Map::new();
            body.insert("status".into(), json!("OK"));
            match (wrap, found) {
                (Some(key), found) => {
                    body.insert(key.into(), found);
                }
                (None, serde_json::Value::Object(fields)) => body.extend(fields),
                (None, _) => {}
            }
            body.insert("request_id".into(), json!(request_id));
            json_response(200, &serde_json::Value::Object(body))
        }
        Err(error) => error_response(&error, request_id),
    }
}

#[utoipa::path(get, path = "/wallet/v1/transactions/{transaction_id}", tag = "wallet",
    params(("transaction_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "The transaction's state, attempt count and first answer; state NOT_FOUND when unknown", body = wire::TransactionLookupResponse)))]
pub async fn transaction_status(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    axum::extract::Path(transaction_id): axum::extract::Path<String>,
) -> Response {
    let result = async {
        let transaction_id = crate::domain::TransactionId::parse(transaction_id)
            .map_err(|e| ApiError::malformed(format!("transaction_id: {e}")))?;
        crate::wallet::lookups::transaction_status(
            state.store.reader(),
            &state.currencies,
            provider.provider_id.as_str(),
            &transaction_id,
        )
        .await
        .map_err(ServiceError::into_api)
    }
    .await;
    lookup_response(&state, result, &request_id, Some("lookup")).await
}

#[utoipa::path(get, path = "/wallet/v1/rounds/{round_id}", tag = "wallet",
    params(("round_id" = crate::domain::schema::Id, Path), ("player_id" = crate::domain::schema::Id, Query)),
    responses((status = 200, description = "The round's state (OPEN, CLOSED, NOT_FOUND), its transactions in order, and totals", body = wire::RoundLookupResponse)))]
pub async fn round(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    axum::extract::Path(round_id): axum::extract::Path<String>,
    query: Query,
) -> Response {
    let result = async {
        let round_id = crate::domain::RoundId::parse(round_id)
            .map_err(|e| ApiError::malformed(format!("round_id: {e}")))?;
        let player_id = query
            .get("player_id")
            .cloned()
            .ok_or_else(|| ApiError::malformed("player_id: required"))?;
        let player_id = PlayerId::parse(player_id)
            .map_err(|e| ApiError::malformed(format!("player_id: {e}")))?;
        crate::wallet::lookups::round(
            state.store.reader(),
            &state.currencies,
            provider.provider_id.as_str(),
            &player_id,
            &round_id,
        )
        .await
        .map_err(ServiceError::into_api)
    }
    .await;
    lookup_response(&state, result, &request_id, Some("round")).await
}

#[utoipa::path(get, path = "/wallet/v1/transactions", tag = "wallet",
    params(("from" = Option<String>, Query, format = DateTime, description = "RFC 3339, inclusive"),
           ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339, exclusive"),
           ("cursor" = Option<String>, Query, pattern = "^c(0|[1-9][0-9]{0,17})$", description = "The next_cursor of the previous page"),
           ("limit" = Option<u64>, Query, minimum = 1, maximum = 1000, description = "1–1000, default 100")),
    responses((status = 200, description = "The provider's transactions, oldest first; next_cursor is null on the last page", body = wire::FeedResponse)))]
pub async fn transaction_feed(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    query: Query,
) -> Response {
    let result = async {
        let get = |name: &str| query.get(name).map(String::as_str);
        let feed_query = crate::wallet::lookups::FeedQuery::parse(
            get("from"),
            get("to"),
            get("cursor"),
            get("limit"),
        )?;
        crate::wallet::lookups::feed(
            state.store.reader(),
            &state.currencies,
            provider.provider_id.as_str(),
            &feed_query,
        )
        .await
        .map_err(ServiceError::into_api)
    }
    .await;
    lookup_response(&state, result, &request_id, None).await
}
