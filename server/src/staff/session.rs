//! The console session: its cookie, what it holds, and when it ends.
//!
//! A signed-in session holds the user's id, the time of sign-in and the time it was last
//! seen. It ends after [`StaffConfig::idle_timeout`] without a request (the row's expiry,
//! pushed forward at most once a minute) or [`StaffConfig::max_session_age`] after sign-in
//! however busy it is, or when the user is disabled. The user row is read on every request,
//! so a disabled user is refused at once; a role change ends the user's sessions.
use chrono::Utc;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use app::model::Viewer;

use super::config::StaffConfig;
use super::session_store::{DbSessionStore, USER_ID_KEY};
use crate::db::Store;

/// The session cookie's name over plain http (local use).
pub const SESSION_COOKIE: &str = "oncewallet_session";
/// Its name behind HTTPS: with the `__Host-` prefix the browser takes the cookie only if it
/// is `Secure`, has `Path=/` and names no domain, so neither a sibling subdomain nor a
/// plain-http page can plant or overwrite it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-oncewallet_session";
/// When the user signed in, Unix seconds: the absolute limit counts from here.
pub const LOGIN_AT_KEY: &str = "staff.login_at";
/// When the session last served a request, Unix seconds (to the minute).
pub const SEEN_AT_KEY: &str = "staff.seen_at";
/// The client's address at sign-in, for the admins' list of sessions.
pub const ADDRESS_KEY: &str = "staff.address";
/// When this session last checked a second-factor code, Unix seconds.
pub const MFA_AT_KEY: &str = "staff.mfa_at";
/// Between a right password and a right code: the user id, not yet signed in.
const MFA_PENDING_USER_KEY: &str = "staff.mfa_pending_user";
const MFA_PENDING_AT_KEY: &str = "staff.mfa_pending_at";
/// How long the code form waits after the password.
const MFA_PENDING_SECS: i64 = 5 * 60;
/// A request refreshes the idle expiry only if the last refresh is this old, so reading
/// pages costs one session write a minute rather than one per request.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// The layer that gives every request a [`Session`] stored in the database.
pub type StaffSessionLayer = SessionManagerLayer<DbSessionStore>;

/// Cookie `oncewallet_session` (`__Host-oncewallet_session` when secure): `HttpOnly`
/// (scripts cannot read it), `SameSite=Lax` (not sent on cross-site POSTs), `Secure` when
/// configured, `Path=/`, and a `Max-Age` equal to the idle timeout.
pub fn session_layer(store: Store, config: &StaffConfig) -> StaffSessionLayer {
    let name = if config.cookie_secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    };
    SessionManagerLayer::new(DbSessionStore::new(store))
        .with_name(name)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.cookie_secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle(config)))
}

fn idle(config: &StaffConfig) -> CookieDuration {
    CookieDuration::seconds(i64::try_from(config.idle_timeout.as_secs()).unwrap_or(i64::MAX))
}

/// Starts a signed-in session for `viewer` from `address`: a new session id (so an id
/// planted before sign-in is worth nothing after it), no values from before, and the
/// sign-in time.
pub async fn begin(
    session: &Session,
    viewer: &Viewer,
    address: &str,
) -> Result<(), tower_sessions::session::Error> {
    start_afresh(session).await?;
    let now = Utc::now().timestamp();
    session.insert(USER_ID_KEY, viewer.user_id).await?;
    session.insert(LOGIN_AT_KEY, now).await?;
    session.insert(SEEN_AT_KEY, now).await?;
    session.insert(ADDRESS_KEY, address).await?;
    Ok(())
}

/// A new session id (so an id planted before sign-in is worth nothing after it) and no
/// values from before.
async fn start_afresh(session: &Session) -> Result<(), tower_sessions::session::Error> {
    // Loading first tells whether the cookie named a stored session worth replacing.
    session.get_value(USER_ID_KEY).await?;
    if session.id().is_some() {
        session.cycle_id().await?;
    }
    session.clear().await;
    Ok(())
}

/// Remembers that `user_id` gave the right password and now owes a code. Nothing else
/// of a signed-in session is set: the viewer middleware sees no user yet.
pub async fn await_code(
    session: &Session,
    user_id: i64,
) -> Result<(), tower_sessions::session::Error> {
    start_afresh(session).await?;
    session.insert(MFA_PENDING_USER_KEY, user_id).await?;
    session
        .insert(MFA_PENDING_AT_KEY, Utc::now().timestamp())
        .await?;
    Ok(())
}

/// The user who owes a code, if the password was given less than five minutes ago.
pub async fn awaiting_code(
    session: &Session,
) -> Result<Option<i64>, tower_sessions::session::Error> {
    let user = session.get::<i64>(MFA_PENDING_USER_KEY).await?;
    let at = session.get::<i64>(MFA_PENDING_AT_KEY).await?.unwrap_or(0);
    let fresh = (0..MFA_PENDING_SECS).contains(&(Utc::now().timestamp() - at));
    Ok(user.filter(|_| fresh))
}

/// Records that a code was checked now (sign-in, or a step-up before a sensitive action).
pub async fn mark_code_checked(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.insert(MFA_AT_KEY, Utc::now().timestamp()).await
}

/// When this session last checked a code.
pub async fn code_checked_at(
    session: &Session,
) -> Result<Option<i64>, tower_sessions::session::Error> {
    session.get::<i64>(MFA_AT_KEY).await
}

/// Deletes the session from the store; the response then clears the cookie.
pub async fn end(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}

/// The user id of a session that is still within its limits, refreshing the idle expiry
/// when due; `None` (and the session ended) when it is past a limit.
pub async fn signed_in_user(
    session: &Session,
    config: &StaffConfig,
) -> Result<Option<i64>, tower_sessions::session::Error> {
    let Some(user_id) = session.get::<i64>(USER_ID_KEY).await? else {
        return Ok(None);
    };
    let login_at = session.get::<i64>(LOGIN_AT_KEY).await?.unwrap_or(0);
    let seen_at = session.get::<i64>(SEEN_AT_KEY).await?.unwrap_or(0);
    let now = Utc::now().timestamp();
    if !within_limits(now, login_at, seen_at, config) {
        end(session).await?;
        return Ok(None);
    }
    if now - seen_at >= TOUCH_INTERVAL_SECS {
        session.insert(SEEN_AT_KEY, now).await?;
    }
    Ok(Some(user_id))
}

fn within_limits(now: i64, login_at: i64, seen_at: i64, config: &StaffConfig) -> bool {
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let age = now.saturating_sub(login_at);
    let idle_for = now.saturating_sub(seen_at);
    (0..secs(config.max_session_age)).contains(&age) && idle_for < secs(config.idle_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_session_ends_at_the_absolute_limit_however_active() {
        let config = StaffConfig {
            idle_timeout: Duration::from_secs(1800),
            max_session_age: Duration::from_secs(12 * 3600),
            ..StaffConfig::default()
        };
        let login = 1_000_000;
        assert!(within_limits(login + 60, login, login + 30, &config));
        let late = login + 12 * 3600;
        assert!(!within_limits(late, login, late - 1, &config), "absolute");
        assert!(!within_limits(login + 1800, login, login, &config), "idle");
        assert!(
            !within_limits(login - 5, login, login, &config),
            "from the future"
        );
    }
}
