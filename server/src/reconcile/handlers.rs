//! `POST /wallet/v1/reconciliation/reports` (§6.4): a provider's statement as JSON, or as
//! CSV (`Content-Type: text/csv`) with `report_id`, `period_start` and `period_end` in the
//! query string. Signed like every provider request; the body may be up to 16 MiB.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use super::matching::reconcile_statement;
use super::statement::{parse_csv, RawStatement, Statement};
use crate::error::{ApiError, ServiceError};
use crate::http::request_id::RequestId;
use crate::http::{error_response, json_response, parse_json};
use crate::state::AppState;
use crate::wallet::auth::AuthenticatedProvider;

type Query = axum::extract::Query<std::collections::HashMap<String, String>>;

#[utoipa::path(post, path = "/wallet/v1/reconciliation/reports", tag = "wallet",
    request_body(content = RawStatement, description = "The statement as JSON; or as text/csv with the columns transaction_id,op,player_id,round_id,amount_value,currency,scale,state and report_id, period_start, period_end in the query string"),
    params(("report_id" = Option<String>, Query, description = "CSV uploads only"),
           ("period_start" = Option<String>, Query, description = "CSV uploads only, RFC 3339"),
           ("period_end" = Option<String>, Query, description = "CSV uploads only, RFC 3339")),
    responses(
        (status = 200, description = "matched count and discrepancies (MISSING_IN_WALLET, MISSING_AT_PROVIDER, AMOUNT_MISMATCH, STATE_MISMATCH); a re-upload of a report_id returns the stored result"),
        (status = "4XX", description = "Malformed statement or invalid amount", body = crate::wallet::wire::ErrorResponse)))]
pub async fn upload_report(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    query: Query,
    body: Bytes,
) -> Response {
    let result = async {
        let raw = raw_statement(&headers, &query, &body)?;
        let statement = Statement::parse(raw, &state.currencies)?;
        tracing::info!(
            report_id = statement.report_id.as_str(),
            rows = statement.transactions.len(),
            "provider statement received"
        );
        reconcile_statement(
            &state.store,
            &state.currencies,
            &provider.provider_id,
            statement,
        )
        .await
        .map_err(ServiceError::into_api)
    }
    .await;
    match result {
        Ok(report) => {
            let mut body = json!({ "status": "OK", "replayed": report.replayed });
            if let (Value::Object(body), Value::Object(result)) = (&mut body, report.result) {
                body.extend(result);
                body.insert("request_id".into(), json!(request_id));
            }
            json_response(200, &body)
        }
        Err(error) => error_response(&error, &request_id),
    }
}

fn raw_statement(
    headers: &HeaderMap,
    query: &Query,
    body: &[u8],
) -> Result<RawStatement, ApiError> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("text/csv"));
    if !is_csv {
        return parse_json(body);
    }
    let param = |name: &str| {
        query.get(name).cloned().ok_or_else(|| {
            ApiError::malformed(format!(
                "{name}: required in the query string for a CSV statement"
            ))
        })
    };
    parse_csv(
        body,
        param("report_id")?,
        param("period_start")?,
        param("period_end")?,
    )
}
