//! `POST /wallet/v1/reconciliation/reports` (docs/API.md, "Statements from providers"): a
//! provider's statement as JSON, or as CSV (`Content-Type: text/csv`) with `report_id`,
//! `period_start` and `period_end` in the query string. Signed like every provider request;
//! the body may be up to 16 MiB.
//!
//! And the operator API's findings and runs: list, read, acknowledge and resolve findings,
//! start a run now and list the recent ones.
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use crate::domain::CurrencyTable;
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::http::request_id::RequestId;
use crate::http::respond;
use crate::http::state::AppState;
use crate::http::wallet::auth::AuthenticatedProvider;
use crate::http::{error_response, json_response, parse_json};
use crate::reconcile::discrepancies::{self, DiscrepancyError, Filter};
use crate::reconcile::matching::reconcile_statement;
use crate::reconcile::pass::TrailPass;
use crate::reconcile::runs::{recent_runs, run_now_with, RunError, MAX_RUNS};
use crate::reconcile::statement::{parse_csv, RawStatement, Statement};
use crate::reconcile::wire::{
    AcknowledgeRequest, DiscrepancyView, ResolveRequest, RunRequest, RunSummaryView, RunView,
};

type Query = axum::extract::Query<std::collections::HashMap<String, String>>;

#[utoipa::path(post, path = "/wallet/v1/reconciliation/reports", tag = "wallet",
    request_body(content = RawStatement, description = "The statement as JSON (at most 16 MiB and 100,000 transactions, each transaction id once, period_end after period_start); or as text/csv with the columns transaction_id,op,player_id,round_id,amount_value,currency,scale,state and report_id, period_start, period_end in the query string (docs/API.md)"),
    params(("report_id" = Option<crate::domain::schema::Id>, Query, description = "CSV uploads only"),
           ("period_start" = Option<String>, Query, format = DateTime, description = "CSV uploads only, RFC 3339"),
           ("period_end" = Option<String>, Query, format = DateTime, description = "CSV uploads only, RFC 3339")),
    responses(
        (status = 200, description = "matched count and discrepancies (MISSING_IN_WALLET, MISSING_AT_PROVIDER, AMOUNT_MISMATCH, STATE_MISMATCH); a re-upload of a report_id returns the stored result", body = crate::reconcile::wire::ReportAnswer)))]
pub async fn upload_report(
    State(state): State<AppState>,
    Extension(provider): Extension<AuthenticatedProvider>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    query: Query,
    body: Bytes,
) -> Response {
    let result = async {
        let statement = statement(&headers, &query, &body, &state.currencies)?;
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

/// The statement in the body: JSON, or CSV with its id and period in the query string.
fn statement(
    headers: &HeaderMap,
    query: &Query,
    body: &[u8],
    currencies: &CurrencyTable,
) -> Result<Statement, ApiError> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("text/csv"));
    if !is_csv {
        let raw: RawStatement = parse_json(body)?;
        return Statement::parse(raw, currencies);
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
        currencies,
    )
}

// ----------------------------------------------------------------------------------
// Operator API: findings and runs (bearer token, like the rest of /operator/v1)
// ----------------------------------------------------------------------------------

/// The discrepancy list's default page size.
const DEFAULT_PAGE: u64 = 50;
/// The run list's default length.
const DEFAULT_RUNS: u64 = 20;
/// Finding kinds are upper-case words joined by `_`; anything else is a typo.
const MAX_KIND_BYTES: usize = 64;

/// The reconciliation's refusals, mapped to the wire in one place.
fn discrepancy_error(error: DiscrepancyError) -> ApiError {
    match error {
        DiscrepancyError::NotFound(id) => {
            ApiError::new(ErrorCode::NotFound, format!("no discrepancy with id {id}"))
        }
        DiscrepancyError::InvalidTransition { id, from, to } => ApiError::new(
            ErrorCode::InvalidTransition,
            format!("discrepancy {id} is {from}; it cannot become {to}"),
        )
        .with_details(json!({ "status": from, "requested": to })),
        DiscrepancyError::Invalid(message) => ApiError::malformed(message),
        DiscrepancyError::Service(error) => error.into_api(),
    }
}

fn run_error(error: RunError) -> ApiError {
    match error {
        RunError::InProgress => ApiError::new(
            ErrorCode::RunInProgress,
            "a reconciliation run is in progress; its summary appears in the run list when it ends",
        ),
        RunError::Service(error) => error.into_api(),
    }
}

fn discrepancy_id(value: &str) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::malformed("id: a positive whole number"))
}

fn bounded(name: &str, value: Option<&String>, default: u64, max: u64) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(value) => value
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::malformed(format!("{name}: 1–{max}"))),
    }
}

fn list_filter(query: &Query) -> Result<Filter, ApiError> {
    // A parameter given empty is refused like any other bad value: leave it out instead.
    let kind = query.get("kind").cloned();
    if let Some(kind) = &kind {
        let well_formed = (1..=MAX_KIND_BYTES).contains(&kind.len())
            && kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        if !well_formed {
            return Err(ApiError::malformed(
                "kind: a finding kind such as BALANCE_MISMATCH",
            ));
        }
    }
    let status = query.get("status").cloned();
    if status
        .as_deref()
        .is_some_and(|s| !["OPEN", "ACKNOWLEDGED", "RESOLVED"].contains(&s))
    {
        return Err(ApiError::malformed(
            "status: OPEN, ACKNOWLEDGED or RESOLVED",
        ));
    }
    let before_id = query
        .get("before_id")
        .map(|b| {
            discrepancy_id(b).map_err(|_| ApiError::malformed("before_id: use next_before_id"))
        })
        .transpose()?;
    Ok(Filter {
        kind,
        status,
        before_id,
        limit: bounded(
            "limit",
            query.get("limit"),
            DEFAULT_PAGE,
            discrepancies::MAX_PAGE,
        )?,
    })
}

#[utoipa::path(get, path = "/operator/v1/discrepancies", tag = "operator",
    params(("kind" = Option<String>, Query, pattern = "^[A-Z_]{1,64}$", description = "e.g. BALANCE_MISMATCH, TRAIL_BROKEN, PENDING_ROLLBACK"),
           ("status" = Option<crate::reconcile::wire::FindingStatus>, Query),
           ("before_id" = Option<i64>, Query, minimum = 1, description = "the next_before_id of the previous page"),
           ("limit" = Option<u64>, Query, minimum = 1, maximum = 500, description = "1–500, default 50")),
    responses((status = 200, description = "Findings, newest first, and next_before_id (null on the last page)", body = crate::reconcile::wire::DiscrepancyList)),
    security(("bearer" = [])))]
pub async fn list_discrepancies(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    query: Query,
) -> Response {
    let result = async {
        let filter = list_filter(&query)?;
        let page = discrepancies::list(state.store.reader(), &filter)
            .await
            .map_err(|e| ServiceError::Db(e).into_api())?;
        let items: Vec<DiscrepancyView> = page.items.into_iter().map(Into::into).collect();
        Ok(json!({ "discrepancies": items, "next_before_id": page.next_before_id }))
    }
    .await;
    respond(result, 200, &request_id)
}

#[utoipa::path(get, path = "/operator/v1/discrepancies/{id}", tag = "operator",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, description = "The finding", body = crate::reconcile::wire::DiscrepancyAnswer),
              (status = 404, description = "NOT_FOUND: no discrepancy with this id", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_discrepancy(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = discrepancy_id(&id)?;
        let found = discrepancies::get(state.store.reader(), id)
            .await
            .map_err(discrepancy_error)?;
        Ok(json!({ "discrepancy": DiscrepancyView::from(found) }))
    }
    .await;
    respond(result, 200, &request_id)
}

#[utoipa::path(post, path = "/operator/v1/discrepancies/{id}/acknowledge", tag = "operator",
    request_body = AcknowledgeRequest, params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, description = "ACKNOWLEDGED, with a staff audit record", body = crate::reconcile::wire::DiscrepancyAnswer),
              (status = 404, description = "NOT_FOUND", body = crate::wallet::wire::ErrorResponse),
              (status = 409, description = "INVALID_TRANSITION: only OPEN findings are acknowledged", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        let id = discrepancy_id(&id)?;
        let request: AcknowledgeRequest = parse_json(&body)?;
        let row =
            discrepancies::acknowledge(&state.store, id, &request.actor, request.note.as_deref())
                .await
                .map_err(discrepancy_error)?;
        Ok(json!({ "discrepancy": DiscrepancyView::from(row) }))
    }
    .await;
    respond(result, 200, &request_id)
}

#[utoipa::path(post, path = "/operator/v1/discrepancies/{id}/resolve", tag = "operator",
    request_body = ResolveRequest, params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, description = "RESOLVED, with a staff audit record", body = crate::reconcile::wire::DiscrepancyAnswer),
              (status = 404, description = "NOT_FOUND", body = crate::wallet::wire::ErrorResponse),
              (status = 409, description = "INVALID_TRANSITION: already RESOLVED", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        let id = discrepancy_id(&id)?;
        let request: ResolveRequest = parse_json(&body)?;
        let row = discrepancies::resolve(&state.store, id, &request.actor, &request.note)
            .await
            .map_err(discrepancy_error)?;
        Ok(json!({ "discrepancy": DiscrepancyView::from(row) }))
    }
    .await;
    respond(result, 200, &request_id)
}

#[utoipa::path(post, path = "/operator/v1/reconciliation/runs", tag = "operator",
    request_body(content = Option<RunRequest>, description = "Optional; {\"full\": true} makes a full pass: every ledger hash chain from the start and the money checks over the whole ledger"),
    responses((status = 200, description = "The run's summary", body = crate::reconcile::wire::RunAnswer),
              (status = 409, description = "RUN_IN_PROGRESS: another run holds the job", body = crate::wallet::wire::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn start_run(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    let result = async {
        let request: RunRequest = if body.iter().all(u8::is_ascii_whitespace) {
            RunRequest::default()
        } else {
            parse_json(&body)?
        };
        let pass = request.full.then_some(TrailPass::Full);
        let summary = run_now_with(&state.store, state.schedule, pass)
            .await
            .map_err(run_error)?;
        Ok(json!({ "run": RunSummaryView::from(summary) }))
    }
    .await;
    respond(result, 200, &request_id)
}

#[utoipa::path(get, path = "/operator/v1/reconciliation/runs", tag = "operator",
    params(("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "1–100, default 20")),
    responses((status = 200, description = "The most recent runs, newest first", body = crate::reconcile::wire::RunList)),
    security(("bearer" = [])))]
pub async fn list_runs(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    query: Query,
) -> Response {
    let result = async {
        let limit = bounded("limit", query.get("limit"), DEFAULT_RUNS, MAX_RUNS)?;
        let runs = recent_runs(state.store.reader(), limit)
            .await
            .map_err(|e| ServiceError::Db(e).into_api())?;
        let runs: Vec<RunView> = runs.into_iter().map(Into::into).collect();
        Ok(json!({ "runs": runs }))
    }
    .await;
    respond(result, 200, &request_id)
}
