//! Operator API handlers: parse, call one service function, map to the wire.
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::json;

use crate::domain::{GameId, PlayerId, ProviderId};
use crate::error::ApiError;
use crate::http::request_id::RequestId;
use crate::http::state::AppState;
use crate::http::{error_response, operation_response, parse_json, respond};
use crate::money::{self, Operation};
use crate::operator::adjustment::Adjustment;
use crate::operator::service;
use crate::operator::sessions::{self, NewSession};
use crate::operator::wire::{AdjustmentRequest, PlayerRequest, ProviderRequest, SessionRequest};

fn id<T>(
    field: &str,
    value: String,
    parse: fn(String) -> Result<T, crate::domain::IdError>,
) -> Result<T, ApiError> {
    parse(value).map_err(|e| ApiError::malformed(format!("{field}: {e}")))
}

#[utoipa::path(get, path = "/operator/v1/providers", tag = "operator",
    responses((status = 200, description = "Every provider with its keys (ids, when added, when last used; never secrets)", body = crate::operator::wire::ProviderList)),
    security(("bearer" = [])))]
pub async fn list_providers(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
) -> Response {
    let result = service::list_providers(state.store.reader(), &state.keys)
        .await
        .map_err(|e| e.into_api());
    respond(
        result.map(|providers| json!({ "providers": providers })),
        200,
        &request_id,
    )
}

#[utoipa::path(put, path = "/operator/v1/providers/{provider_id}", tag = "operator", request_body = ProviderRequest,
    params(("provider_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "Created or updated; secrets are never returned", body = crate::operator::wire::ProviderAnswer),
              (status = 409, description = "KEY_IN_USE: a key id belongs to another provider", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn put_provider(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(provider_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        let provider_id = id("provider_id", provider_id, ProviderId::parse)?;
        let request: ProviderRequest = parse_json(&body)?;
        let view = service::upsert_provider(&state.store, provider_id, request)
            .await
            .map_err(|e| e.into_api())?;
        // Committed: a key no longer listed must stop working now, not in a second.
        state.keys.clear();
        Ok(view)
    }
    .await;
    respond(
        result.map(|view| json!({ "provider": view })),
        200,
        &request_id,
    )
}

#[utoipa::path(put, path = "/operator/v1/players/{player_id}", tag = "operator", request_body = PlayerRequest,
    params(("player_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "Created or updated", body = crate::operator::wire::PlayerAnswer),
              (status = 404, description = "PLAYER_NOT_FOUND: no such player, and no currency to create it with", body = crate::wallet::wire::ErrorResponse),
              (status = 409, description = "CURRENCY_IMMUTABLE", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn put_player(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(player_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        let player_id = id("player_id", player_id, PlayerId::parse)?;
        let request: PlayerRequest = parse_json(&body)?;
        let player = service::upsert_player(
            &state.store,
            &state.currencies,
            player_id,
            request.currency,
            request.status,
            service::Locale::parse(request.country, request.language)?,
        )
        .await
        .map_err(|e| e.into_api())?;
        service::player_view(&state.currencies, &player).map_err(|e| e.into_api())
    }
    .await;
    respond(
        result.map(|view| json!({ "player": view })),
        200,
        &request_id,
    )
}

#[utoipa::path(get, path = "/operator/v1/players/{player_id}", tag = "operator",
    params(("player_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "Currency, status and balance", body = crate::operator::wire::PlayerAnswer),
              (status = 404, description = "PLAYER_NOT_FOUND", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_player(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(player_id): Path<String>,
) -> Response {
    let result = async {
        let player_id = id("player_id", player_id, PlayerId::parse)?;
        let player = service::find_player(&state.store, &player_id)
            .await
            .map_err(|e| e.into_api())?;
        service::player_view(&state.currencies, &player).map_err(|e| e.into_api())
    }
    .await;
    respond(
        result.map(|view| json!({ "player": view })),
        200,
        &request_id,
    )
}

#[utoipa::path(post, path = "/operator/v1/players/{player_id}/adjustments", tag = "operator", request_body = AdjustmentRequest,
    params(("player_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "Committed, or the replay of an earlier answer", body = crate::wallet::wire::OperationResponse),
              (status = 404, description = "Declined: PLAYER_NOT_FOUND", body = crate::wallet::wire::ErrorResponse),
              (status = 409, description = "IDEMPOTENCY_CONFLICT (not recorded)", body = crate::wallet::wire::ErrorResponse),
              (status = 422, description = "Declined: INSUFFICIENT_FUNDS, CURRENCY_MISMATCH", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn post_adjustment(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(player_id): Path<String>,
    body: Bytes,
) -> Response {
    let operation = id("player_id", player_id, PlayerId::parse).and_then(|player_id| {
        let request: AdjustmentRequest = parse_json(&body)?;
        Adjustment::parse(
            player_id,
            request,
            &body,
            state.currencies.clone(),
            &request_id,
        )
    });
    let operation = match operation {
        Ok(operation) => std::sync::Arc::new(operation),
        Err(error) => return error_response(&error, &request_id),
    };
    let result = money::execute(&state.store, &state.currencies, operation.clone(), None).await;
    operation_response(result, &request_id, operation.keyed())
}

#[utoipa::path(post, path = "/operator/v1/sessions", tag = "operator", request_body = SessionRequest,
    responses((status = 201, description = "A new session; older ones for the same player, provider and game stop taking bets", body = crate::operator::wire::SessionAnswer),
              (status = 404, description = "PLAYER_NOT_FOUND or PROVIDER_NOT_FOUND", body = crate::wallet::wire::ErrorResponse),
              (status = 403, description = "PLAYER_BLOCKED", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn post_session(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    let result = async {
        let request: SessionRequest = parse_json(&body)?;
        let session = NewSession {
            player_id: id("player_id", request.player_id, PlayerId::parse)?,
            provider_id: id("provider_id", request.provider_id, ProviderId::parse)?,
            game_id: id("game_id", request.game_id, GameId::parse)?,
            ttl_seconds: request.ttl_seconds,
        };
        sessions::create_session(&state.store, session)
            .await
            .map_err(|e| e.into_api())
    }
    .await;
    respond(result.map(|view| json!(view)), 201, &request_id)
}

#[utoipa::path(post, path = "/operator/v1/providers/{provider_id}/transactions/{transaction_id}/refund", tag = "operator",
    request_body = crate::operator::wire::RefundRequest,
    params(("provider_id" = crate::domain::schema::Id, Path), ("transaction_id" = crate::domain::schema::Id, Path, description = "The bet to refund")),
    responses((status = 200, description = "A rollback by the operator: REFUNDED, or ALREADY_ROLLED_BACK", body = crate::wallet::wire::OperationResponse),
              (status = 404, description = "REFERENCE_NOT_FOUND: no such bet of the provider", body = crate::wallet::wire::ErrorResponse),
              (status = 409, description = "BET_ALREADY_SETTLED; or IDEMPOTENCY_CONFLICT", body = crate::wallet::wire::ErrorResponse),
              (status = 422, description = "NOT_REVERSIBLE", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn post_refund(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path((provider_id, transaction_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let refunded = async {
        let provider_id = id("provider_id", provider_id, ProviderId::parse)?;
        let bet_id = id(
            "transaction_id",
            transaction_id,
            crate::domain::TransactionId::parse,
        )?;
        let request: crate::operator::wire::RefundRequest = parse_json(&body)?;
        let staff = service::staff_action(request.requested_by, request.reason)?;
        let bet = service::find_bet(&state.store, &provider_id, &bet_id)
            .await
            .map_err(|e| e.into_api())?;
        let order = crate::operator::refund::RefundOrder {
            bet: &bet,
            refund_id: &request.refund_id,
            staff,
            raw_body: &body,
            request_id: request_id.clone(),
        };
        crate::operator::refund::refund_bet(&state.store, &state.currencies, provider_id, order)
            .await
    }
    .await;
    match refunded {
        Ok(refunded) => operation_response(refunded.answer, &request_id, &refunded.keyed),
        Err(error) => error_response(&error, &request_id),
    }
}
