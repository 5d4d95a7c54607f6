//! `POST /auth/login`, `POST /auth/logout` and `GET /auth/session`: plain form posts and
//! redirects, so signing in works before (or without) the page's WebAssembly.
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use serde::Deserialize;
use tower_sessions::Session;

use app::model::Viewer;

use super::client::ClientAddr;
use super::{credentials, session, Staff};

/// Where the sign-in page lives (the Leptos app renders it).
pub const LOGIN_PAGE: &str = "/login";

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Signs in and redirects (303) to `next`. A failure redirects to
/// `/login?error=1&next=…` whatever went wrong (unknown user, wrong password, disabled
/// user); too many failures redirect to `/login?error=locked&next=…` until the window
/// passes, without looking at the password.
pub async fn login(
    State(staff): State<Staff>,
    ClientAddr(client): ClientAddr,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(&form.next);
    if staff
        .limiter
        .is_locked(&form.username, &client, Instant::now())
    {
        tracing::warn!(%client, "sign-in refused: too many failures");
        return see_other(&login_page("locked", next));
    }
    let viewer = match credentials::authenticate(&staff.store, &form.username, &form.password).await
    {
        Ok(Some(viewer)) => viewer,
        Ok(None) => {
            staff
                .limiter
                .record_failure(&form.username, &client, Instant::now());
            tracing::info!(%client, "sign-in failed");
            return see_other(&login_page("1", next));
        }
        Err(error) => return unavailable(error),
    };
    staff.limiter.record_success(&form.username);
    if let Err(error) = session::begin(&session, &viewer, &client).await {
        return unavailable(error.into());
    }
    if let Err(error) = credentials::record_login(&staff.store, &viewer, &client).await {
        return unavailable(error.into());
    }
    tracing::info!(user = %viewer.username, role = viewer.role.as_str(), %client, "signed in");
    see_other(next)
}

/// Ends the session and redirects (303) to the sign-in page.
pub async fn logout(
    State(staff): State<Staff>,
    viewer: Option<Extension<Viewer>>,
    session: Session,
) -> Response {
    if let Some(Extension(viewer)) = &viewer {
        if let Err(error) = credentials::record_logout(&staff.store, viewer).await {
            return unavailable(error.into());
        }
    }
    if let Err(error) = session::end(&session).await {
        return unavailable(error.into());
    }
    see_other(LOGIN_PAGE)
}

/// The signed-in staff member as JSON, or 401: for scripts and tests.
pub async fn current(viewer: Option<Extension<Viewer>>) -> Response {
    match viewer {
        Some(Extension(viewer)) => Json(viewer).into_response(),
        None => (StatusCode::UNAUTHORIZED, "not signed in\n").into_response(),
    }
}

/// `next` if it is a path on this site, else `/`: never a redirect to another site
/// (`//evil.example` and `/\evil.example` are other sites to a browser).
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if local {
        next
    } else {
        "/"
    }
}

fn login_page(error: &str, next: &str) -> String {
    format!(
        "{LOGIN_PAGE}?error={error}&next={}",
        encode_query_value(next)
    )
}

/// Percent-encodes everything but unreserved characters and `/`.
fn encode_query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn unavailable(error: anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "sign-in could not complete");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the server could not complete the sign-in; try again\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/tx/abc?x=1"), "/tx/abc?x=1");
        assert_eq!(safe_next(""), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example/"), "/");
        assert_eq!(safe_next("/\r\nSet-Cookie: x=1"), "/");
    }

    #[test]
    fn the_failure_page_keeps_next_encoded() {
        assert_eq!(
            login_page("1", "/search?q=a b&x=1"),
            "/login?error=1&next=/search%3Fq%3Da%20b%26x%3D1"
        );
    }
}
