//! The operator console's server side: the pages (rendered by the `app` crate), the
//! [`Console`](app::backend::Console) their server functions call, the CSV export and
//! statement upload, all behind staff sign-in.
mod approvals;
mod bad_args;
mod console;
mod errors;
mod export;
mod gate;
mod headers;
mod providers;
mod refund;
mod upload;
mod webhooks;

use std::path::Path;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::http::state::AppState;
use crate::staff::Staff;

pub use console::DbConsole;

/// Pages, server functions, `/console/*` and `/auth/*`, wrapped in CSRF, session and
/// sign-in checks. The wallet and operator APIs are merged beside it, not inside.
pub fn router(state: AppState, staff: &Staff, site_root: &Path, demo: bool) -> Router {
    let console: app::backend::SharedConsole = Arc::new(DbConsole {
        state: state.clone(),
        demo,
        limiter: staff.limiter(),
        refund_thresholds: Arc::new(staff.config().refund_approval_above.clone()),
        code_fresh_for: staff.config().mfa_fresh_for,
        mfa_required: staff.config().mfa_required,
    });
    let downloads = Router::new()
        .route("/console/export.csv", get(export::export_csv))
        .route("/console/findings.csv", get(export::findings_csv))
        .route("/console/audit.csv", get(export::audit_csv))
        .route("/console/pending.csv", get(export::pending_csv))
        .route(
            "/console/statements",
            post(upload::upload_statement).layer(DefaultBodyLimit::max(upload::UPLOAD_MAX_BYTES)),
        )
        .with_state(state);
    let context = move || leptos::prelude::provide_context(console.clone());
    let routes = crate::site::router(site_root, context)
        .merge(downloads)
        .merge(crate::staff::router(staff.clone()))
        .layer(axum::middleware::from_fn(gate::require_sign_in))
        .layer(axum::middleware::from_fn(bad_args::client_errors_are_400));
    crate::staff::protect(routes, staff)
        .layer(axum::middleware::from_fn_with_state(
            staff.config().cookie_secure,
            headers::security_headers,
        ))
        .layer(crate::http::compression())
}
