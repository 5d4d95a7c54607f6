//! `POST /operator/v1/trail/seals`: a seal now. `GET`: the newest seals.
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use serde_json::json;

use crate::error::{ApiError, ErrorCode};
use crate::http::request_id::RequestId;
use crate::http::respond;
use crate::http::state::AppState;
use crate::seal::SealError;

#[utoipa::path(post, path = "/operator/v1/trail/seals", tag = "operator",
    responses((status = 201, description = "The new seal, as appended to the seal file"),
              (status = 409, description = "SEALING_OFF: the server has no seal key; RUN_IN_PROGRESS: another process made the same seal at that moment; SEAL_FILE_MISMATCH: the seal file holds seals this database did not make", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn post_seal(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
) -> Response {
    let result = async {
        let sealing = state.sealing.as_ref().ok_or_else(sealing_off)?;
        let seal =
            crate::seal::seal_now(&state.store, sealing)
                .await
                .map_err(|error| match error {
                    SealError::Service(error) => error.into_api(),
                    SealError::Raced(_) => {
                        ApiError::new(ErrorCode::RunInProgress, error.to_string())
                    }
                    SealError::ForeignFile { .. } => {
                        tracing::error!(%error, "seal file");
                        ApiError::new(ErrorCode::SealFileMismatch, error.to_string())
                    }
                    SealError::File { .. } => {
                        tracing::error!(%error, "seal file");
                        ApiError::new(ErrorCode::InternalError, error.to_string())
                    }
                })?;
        Ok(json!({ "seal": seal }))
    }
    .await;
    respond(result, 201, &request_id)
}

#[utoipa::path(get, path = "/operator/v1/trail/seals", tag = "operator",
    params(("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "1–100, default 20")),
    responses((status = 200, description = "The newest seals, newest first")),
    security(("bearer" = [])))]
pub async fn list_seals(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let result = async {
        let limit = match query.get("limit") {
            None => 20,
            Some(value) => value
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| ApiError::malformed("limit: 1–100"))?,
        };
        let seals = crate::seal::recent(state.store.reader(), limit)
            .await
            .map_err(crate::error::ServiceError::into_api)?;
        Ok(json!({ "sealing": state.sealing.is_some(), "seals": seals }))
    }
    .await;
    respond(result, 200, &request_id)
}

fn sealing_off() -> ApiError {
    ApiError::new(
        ErrorCode::SealingOff,
        "this server has no seal key (WALLET_SEAL_KEY); see docs/TRAIL.md",
    )
}
