//! Pages need a signed-in user: a page request without one is sent to the sign-in form,
//! which brings the user back afterwards. Server functions and downloads check roles
//! themselves and answer 401/403 instead of redirecting. A user whose password someone
//! else set, or who must set up a second factor, sees only the account page until they
//! have.
use app::model::Viewer;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::staff::LOGIN_PAGE;

/// Paths that are not pages, or that anyone may see.
const OPEN_PREFIXES: [&str; 4] = ["/pkg/", "/auth/", "/api/", "/console/"];

/// The page where a user whose password was reset chooses their own; every other page
/// sends them there until they have.
pub const ACCOUNT_PAGE: &str = "/account";

pub async fn require_sign_in(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_page = request.method() == Method::GET
        && path != LOGIN_PAGE
        && !OPEN_PREFIXES.iter().any(|prefix| path.starts_with(prefix));
    let viewer = request.extensions().get::<Viewer>();
    let owes = viewer.and_then(|v| {
        if v.must_change_password {
            Some("choose a new password first (/account)\n")
        } else if v.must_enroll_mfa {
            Some("set up your second factor first (/account)\n")
        } else {
            None
        }
    });
    if let Some(message) = owes {
        // Server functions refuse such a user themselves (`app::api`); downloads and
        // uploads are refused here.
        if is_page && path != ACCOUNT_PAGE {
            return Redirect::to(ACCOUNT_PAGE).into_response();
        }
        if path.starts_with("/console/") {
            return (StatusCode::FORBIDDEN, message).into_response();
        }
    }
    if is_page && viewer.is_none() {
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
