//! `POST /console/statements`: a provider statement uploaded as a CSV file from the
//! reconciliation page (a plain multipart form, so it works without JavaScript). It is
//! checked exactly like a statement the provider signs and sends, and audited.
use app::model::{Role, Viewer};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;

use crate::domain::ProviderId;
use crate::http::state::AppState;
use crate::reconcile::reconcile_statement;
use crate::reconcile::statement::parse_csv;

/// The same cap as the provider API's statement endpoint.
pub const UPLOAD_MAX_BYTES: usize = 16 * 1024 * 1024;

#[derive(Default)]
struct Form {
    provider_id: String,
    report_id: String,
    period_start: String,
    period_end: String,
    file: Vec<u8>,
}

pub async fn upload_statement(
    State(state): State<AppState>,
    viewer: Option<Extension<Viewer>>,
    multipart: Multipart,
) -> Response {
    let Some(Extension(viewer)) = viewer else {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    if !viewer.role.allows(Role::Operator) {
        return (
            StatusCode::FORBIDDEN,
            "uploading statements needs the operator role",
        )
            .into_response();
    }
    match check(&state, &viewer, multipart).await {
        Ok(report_id) => Redirect::to(&format!(
            "/reconciliation?report={}",
            app::components::widgets::encode(&report_id)
        )),
        Err(message) => Redirect::to(&format!(
            "/reconciliation?upload_error={}",
            app::components::widgets::encode(&message)
        )),
    }
    .into_response()
}

/// Reads the form, checks the statement and records who uploaded it; the error is a
/// sentence for the page.
async fn check(state: &AppState, viewer: &Viewer, multipart: Multipart) -> Result<String, String> {
    let form = read_form(multipart).await?;
    let provider =
        ProviderId::parse(form.provider_id.clone()).map_err(|e| format!("provider: {e}"))?;
    let statement = parse_csv(
        &form.file,
        form.report_id.clone(),
        form.period_start,
        form.period_end,
        &state.currencies,
    )
    .map_err(|e| e.message)?;
    let rows = statement.transactions.len();
    let report = reconcile_statement(&state.store, &state.currencies, &provider, statement)
        .await
        .map_err(|e| e.into_api().message)?;
    audit_upload(
        state,
        viewer,
        &form.provider_id,
        &form.report_id,
        rows,
        &report.result,
    )
    .await;
    Ok(format!("{}/{}", form.provider_id, form.report_id))
}

async fn read_form(mut multipart: Multipart) -> Result<Form, String> {
    let mut form = Form::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("upload: {e}"))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| format!("upload: {e}"))?;
        let text = || String::from_utf8_lossy(&bytes).trim().to_owned();
        match name.as_str() {
            "provider_id" => form.provider_id = text(),
            "report_id" => form.report_id = text(),
            "period_start" => form.period_start = text(),
            "period_end" => form.period_end = text(),
            "file" => form.file = bytes.to_vec(),
            _ => {}
        }
    }
    if form.file.is_empty() {
        return Err("choose a CSV file to upload".to_owned());
    }
    Ok(form)
}

async fn audit_upload(
    state: &AppState,
    viewer: &Viewer,
    provider_id: &str,
    report_id: &str,
    rows: usize,
    result: &serde_json::Value,
) {
    let actor = viewer.username.clone();
    let subject = format!("{provider_id}/{report_id}");
    let details = serde_json::json!({
        "rows": rows,
        "matched": result.get("matched"),
        "discrepancies": result.get("discrepancies").and_then(|d| d.as_array()).map(Vec::len),
    });
    let written = state
        .store
        .write(Box::new(move |txn| {
            let (actor, subject, details) = (actor.clone(), subject.clone(), details.clone());
            Box::pin(async move {
                crate::audit::record(
                    txn,
                    &actor,
                    "statement.upload",
                    "REPORT",
                    &subject,
                    "uploaded from the console",
                    details,
                    chrono::Utc::now(),
                )
                .await
            })
        }))
        .await;
    if let Err(error) = written {
        tracing::error!(%error, "statement checked but its upload was not audited");
    }
}
