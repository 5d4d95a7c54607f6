//! Pages need a signed-in user: a page request without one is sent to the sign-in form,
//! which brings the user back afterwards. Server functions and downloads check roles
//! themselves and answer 401/403 instead of redirecting.
use app::model::Viewer;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::staff::LOGIN_PAGE;

/// Paths that are not pages, or that anyone may see.
const OPEN_PREFIXES: [&str; 4] = ["/pkg/", "/auth/", "/api/", "/console/"];

pub async fn require_sign_in(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_page = request.method() == Method::GET
        && path != LOGIN_PAGE
        && !OPEN_PREFIXES.iter().any(|prefix| path.starts_with(prefix));
    if is_page && request.extensions().get::<Viewer>().is_none() {
        let wanted = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let target = format!(
            "{LOGIN_PAGE}?next={}",
            app::components::widgets::encode(&wanted)
        );
        return Redirect::to(&target).into_response();
    }
    next.run(request).await
}
