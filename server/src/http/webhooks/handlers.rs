//! `/operator/v1/webhooks` (docs/EVENTS.md, "Subscriptions"): parse, call `webhooks`, map
//! to the wire. Behind the operator token like the rest of the operator API.
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::json;

use crate::domain::WebhookId;
use crate::error::{ApiError, ErrorCode};
use crate::events::webhooks::{self, WebhookRequest};
use crate::http::parse_json;
use crate::http::request_id::RequestId;
use crate::http::respond;
use crate::http::state::AppState;

fn webhook_id(value: String) -> Result<WebhookId, ApiError> {
    WebhookId::parse(value).map_err(|e| ApiError::malformed(format!("webhook_id: {e}")))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no webhook {id}"))
}

#[utoipa::path(get, path = "/operator/v1/webhooks", tag = "operator",
    responses((status = 200, description = "Every subscription with its delivery stats (never its secret)", body = WebhookList)),
    security(("bearer" = [])))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
) -> Response {
    let result = webhooks::list(state.store.reader())
        .await
        .map(|list| json!({ "webhooks": list }))
        .map_err(webhooks::WebhookError::into_api);
    respond(result, 200, &request_id)
}

#[utoipa::path(put, path = "/operator/v1/webhooks/{webhook_id}", tag = "operator", request_body = WebhookRequest,
    params(("webhook_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "Created or replaced; a new subscription receives the events committed after it", body = WebhookAnswer)),
    security(("bearer" = [])))]
pub async fn put_webhook(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        let id = webhook_id(id)?;
        let request: WebhookRequest = parse_json(&body)?;
        webhooks::put(&state.store, id, request, None)
            .await
            .map_err(webhooks::WebhookError::into_api)
    }
    .await;
    respond(
        result.map(|view| json!({ "webhook": view })),
        200,
        &request_id,
    )
}

#[utoipa::path(get, path = "/operator/v1/webhooks/{webhook_id}", tag = "operator",
    params(("webhook_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "The subscription with its delivery stats: delivered, pending, oldest pending age, dead", body = WebhookAnswer),
              (status = 404, description = "NOT_FOUND", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_webhook(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = webhook_id(id)?;
        webhooks::get(state.store.reader(), id.as_str())
            .await
            .map_err(webhooks::WebhookError::into_api)?
            .ok_or_else(|| not_found(id.as_str()))
    }
    .await;
    respond(
        result.map(|view| json!({ "webhook": view })),
        200,
        &request_id,
    )
}

#[utoipa::path(delete, path = "/operator/v1/webhooks/{webhook_id}", tag = "operator",
    params(("webhook_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "Deleted, with its pending and dead events"),
              (status = 404, description = "NOT_FOUND", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = webhook_id(id)?;
        let deleted = webhooks::delete(&state.store, id.as_str())
            .await
            .map_err(webhooks::WebhookError::into_api)?;
        if !deleted {
            return Err(not_found(id.as_str()));
        }
        Ok(json!({ "deleted": id.as_str() }))
    }
    .await;
    respond(result, 200, &request_id)
}

#[utoipa::path(get, path = "/operator/v1/webhooks/{webhook_id}/dead", tag = "operator",
    params(("webhook_id" = crate::domain::schema::Id, Path)),
    responses((status = 200, description = "The subscription's dead events, oldest first (at most 200)", body = DeadList),
              (status = 404, description = "NOT_FOUND", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_dead(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = webhook_id(id)?;
        webhooks::dead(state.store.reader(), id.as_str())
            .await
            .map_err(webhooks::WebhookError::into_api)
    }
    .await;
    respond(
        result.map(|events| json!({ "events": events })),
        200,
        &request_id,
    )
}

#[utoipa::path(post, path = "/operator/v1/webhooks/{webhook_id}/dead/{event_id}/redeliver", tag = "operator",
    params(("webhook_id" = crate::domain::schema::Id, Path), ("event_id" = String, Path, description = "evt_ and digits")),
    responses((status = 200, description = "The event is tried again at once"),
              (status = 404, description = "NOT_FOUND: no such webhook, or no such event", body = crate::wallet::wire::ErrorResponse),
              (status = 409, description = "INVALID_TRANSITION: the event is not dead for this webhook", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn redeliver(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path((id, event_id)): Path<(String, String)>,
) -> Response {
    let result = async {
        let id = webhook_id(id)?;
        webhooks::redeliver(&state.store, id.as_str(), &event_id, None)
            .await
            .map_err(webhooks::WebhookError::into_api)?;
        Ok(json!({ "redelivering": event_id }))
    }
    .await;
    respond(result, 200, &request_id)
}

/// `GET /operator/v1/webhooks`
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub webhooks: Vec<webhooks::WebhookView>,
    pub request_id: String,
}

/// `PUT` and `GET /operator/v1/webhooks/{webhook_id}`
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookAnswer {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub webhook: webhooks::WebhookView,
    pub request_id: String,
}

/// `GET /operator/v1/webhooks/{webhook_id}/dead`
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeadList {
    #[schema(pattern = "^OK$")]
    pub status: String,
    pub events: Vec<webhooks::DeadEvent>,
    pub request_id: String,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_webhooks,
        put_webhook,
        get_webhook,
        delete_webhook,
        list_dead,
        redeliver
    ),
    components(schemas(
        WebhookRequest,
        WebhookList,
        WebhookAnswer,
        DeadList,
        webhooks::WebhookView,
        webhooks::DeliveryStats,
        webhooks::DeadEvent,
        webhooks::EventType
    ))
)]
pub struct ApiDoc;
