//! The console's staff: sign-in, sessions, roles and user administration.
//!
//! - [`router`] serves `POST /auth/login`, `POST /auth/code` (the second factor at
//!   sign-in), `POST /auth/confirm-code` (a fresh code before a sensitive action),
//!   `POST /auth/logout` and `GET /auth/session`;
//! - [`protect`] wraps the console's routes (pages, `/auth/*`, `/api/*`) in the CSRF
//!   check, the database-backed session and the [`viewer`] middleware, which puts an
//!   [`app::model::Viewer`] into the request extensions of a signed-in request;
//! - [`users`] holds the admin-only user functions and [`ensure_first_admin`];
//!   [`sessions`] the admins' list of signed-in sessions and ending one.
//!
//! The wallet and operator APIs have their own authentication and never pass through
//! here.
pub mod cli;
mod client;
mod config;
mod credentials;
pub mod csrf;
mod login;
pub mod mfa;
pub mod password;
mod rate_limit;
pub mod session;
mod session_store;
pub mod sessions;
pub mod users;
pub mod viewer;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{any, get, post};
use axum::Router;

use crate::db::Store;

pub use client::ClientAddr;
pub use config::{
    LoginLimits, StaffConfig, DEFAULT_IDLE_MINUTES, DEFAULT_MAX_SESSION_HOURS, MFA_FRESH_FOR,
};
pub use login::{safe_next, LOGIN_PAGE};
pub use password::{PasswordError, MIN_PASSWORD_CHARS};
pub use rate_limit::LoginLimiter;
pub use session::{session_layer, StaffSessionLayer, SECURE_SESSION_COOKIE, SESSION_COOKIE};
pub use session_store::{spawn_cleanup as spawn_session_cleanup, DbSessionStore};
pub use users::{
    create_user, ensure_first_admin, list_users, reset_password, set_disabled, set_role, StaffUser,
    UserAdminError,
};
pub use viewer::attach_viewer;

/// A sign-in form is a few hundred bytes; nothing bigger is read.
const AUTH_BODY_LIMIT_BYTES: usize = 16 * 1024;

/// What the sign-in routes and middleware share: the database, the settings and this
/// process's failed-sign-in counts.
#[derive(Clone)]
pub struct Staff {
    store: Store,
    config: Arc<StaffConfig>,
    limiter: Arc<LoginLimiter>,
}

impl Staff {
    pub fn new(store: Store, config: StaffConfig) -> Staff {
        Staff {
            limiter: Arc::new(LoginLimiter::new(config.login_limits)),
            config: Arc::new(config),
            store,
        }
    }

    pub fn config(&self) -> &StaffConfig {
        &self.config
    }

    /// This process's failed-sign-in counts, which wrong current passwords on the account
    /// page add to.
    pub fn limiter(&self) -> Arc<LoginLimiter> {
        self.limiter.clone()
    }
}

/// `POST /auth/login`, `POST /auth/logout`, `GET /auth/session`, and a 404 for any
/// `/api/…` path that is no server function (so that it, too, passes the CSRF check rather
/// than falling through to the unprotected top-level 404). Merge it inside [`protect`]:
/// the handlers need the session layer.
pub fn router(staff: Staff) -> Router {
    Router::new()
        .route("/auth/login", post(login::login))
        .route("/auth/code", post(login::code))
        .route("/auth/confirm-code", post(login::confirm_code))
        .route("/auth/logout", post(login::logout))
        .route("/auth/session", get(login::current))
        .layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT_BYTES))
        .route("/api/{*rest}", any(no_such_function))
        .with_state(staff)
}

async fn no_such_function() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "no such server function\n")
}

/// Wraps the console's routes, outermost first: the CSRF check (so a forged request is
/// refused before anything else runs), the session, and the viewer middleware.
pub fn protect(routes: Router, staff: &Staff) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            staff.clone(),
            attach_viewer,
        ))
        .layer(session_layer(staff.store.clone(), &staff.config))
        .layer(axum::middleware::from_fn_with_state(
            staff.clone(),
            csrf::same_origin,
        ))
}
