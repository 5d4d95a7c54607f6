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
    if viewer.mfa_enrolled {
        // The password was right; the second factor decides (`/auth/code`).
        if let Err(error) = session::await_code(&session, viewer.user_id).await {
            return unavailable(error.into());
        }
        return see_other(&code_page("", next));
    }
    staff.limiter.record_success(&form.username);
    complete(&staff, &session, &viewer, &client, next, false).await
}

/// Signs `viewer` in and sends them on to `next`.
async fn complete(
    staff: &Staff,
    session: &Session,
    viewer: &Viewer,
    client: &str,
    next: &str,
    code_checked: bool,
) -> Response {
    if let Err(error) = session::begin(session, viewer, client).await {
        return unavailable(error.into());
    }
    if code_checked {
        if let Err(error) = session::mark_code_checked(session).await {
            return unavailable(error.into());
        }
    }
    if let Err(error) = credentials::record_login(&staff.store, viewer, client).await {
        return unavailable(error.into());
    }
    tracing::info!(user = %viewer.username, role = viewer.role.as_str(), %client, "signed in");
    see_other(next)
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    next: String,
}

/// The second step of signing in: a code from the authenticator app, or a recovery
/// code. Wrong codes count as failed sign-ins of that user (the same limits); a form
/// left longer than five minutes starts over.
pub async fn code(
    State(staff): State<Staff>,
    ClientAddr(client): ClientAddr,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Response {
    let next = safe_next(&form.next);
    let user_id = match session::awaiting_code(&session).await {
        Ok(Some(user_id)) => user_id,
        Ok(None) => return see_other(&login_page("expired", next)),
        Err(error) => return unavailable(error.into()),
    };
    let viewer = match super::users::load_viewer(&staff.store, user_id).await {
        Ok(Some(viewer)) => viewer,
        Ok(None) => return see_other(&login_page("1", next)),
        Err(error) => return unavailable(error.into()),
    };
    match check_code(&staff, &viewer, &client, &form.code).await {
        Ok(CodeCheck::Accepted) => {}
        Ok(CodeCheck::Locked) => return see_other(&code_page("locked", next)),
        Ok(CodeCheck::Wrong) => return see_other(&code_page("1", next)),
        Err(error) => return unavailable(error),
    }
    staff.limiter.record_success(&viewer.username);
    complete(&staff, &session, &viewer, &client, next, true).await
}

/// A code typed again before a refund, a role change or a user reset, when the last one
/// is older than `StaffConfig::mfa_fresh_for`; back to `next` either way, with
/// `?code=ok`, `?code=wrong` or `?code=locked`.
pub async fn confirm_code(
    State(staff): State<Staff>,
    ClientAddr(client): ClientAddr,
    viewer: Option<Extension<Viewer>>,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Response {
    let next = safe_next(&form.next);
    let Some(Extension(viewer)) = viewer else {
        return see_other(&format!("{LOGIN_PAGE}?next={}", encode_query_value(next)));
    };
    let back = |outcome: &str| {
        let separator = if next.contains('?') { '&' } else { '?' };
        see_other(&format!("{next}{separator}code={outcome}"))
    };
    match check_code(&staff, &viewer, &client, &form.code).await {
        Ok(CodeCheck::Accepted) => {}
        Ok(CodeCheck::Locked) => return back("locked"),
        Ok(CodeCheck::Wrong) => return back("wrong"),
        Err(error) => return unavailable(error),
    }
    if let Err(error) = session::mark_code_checked(&session).await {
        return unavailable(error.into());
    }
    back("ok")
}

/// How a typed code fared.
enum CodeCheck {
    Accepted,
    Wrong,
    /// Too many failures of this user or address: refused without looking at the code.
    Locked,
}

/// Checks `viewer`'s code (or recovery code) under the same limits as passwords: a wrong
/// one counts as a failed sign-in of that user and address.
async fn check_code(
    staff: &Staff,
    viewer: &Viewer,
    client: &str,
    code: &str,
) -> anyhow::Result<CodeCheck> {
    let now = Instant::now();
    if staff.limiter.is_locked(&viewer.username, client, now) {
        tracing::warn!(%client, "code refused: too many failures");
        return Ok(CodeCheck::Locked);
    }
    match super::mfa::verify(&staff.store, viewer.user_id, code).await {
        Ok(_) => Ok(CodeCheck::Accepted),
        Err(super::mfa::MfaError::WrongCode | super::mfa::MfaError::NotEnrolling) => {
            staff.limiter.record_failure(&viewer.username, client, now);
            tracing::info!(%client, "code wrong");
            Ok(CodeCheck::Wrong)
        }
        Err(error) => Err(error.into()),
    }
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

/// The sign-in page's code step; `error` is empty, `1` or `locked`.
fn code_page(error: &str, next: &str) -> String {
    let error = if error.is_empty() {
        String::new()
    } else {
        format!("&error={error}")
    };
    format!(
        "{LOGIN_PAGE}?step=code{error}&next={}",
        encode_query_value(next)
    )
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
