//! The console's sign-in settings (`crate::config::StaffSettings` reads them).
use std::time::Duration;

use crate::approvals::RefundThresholds;

/// How the console signs staff in and how long they stay signed in.
#[derive(Clone)]
pub struct StaffConfig {
    /// `WALLET_COOKIE_SECURE=1`: mark the session cookie `Secure` and treat the site's own
    /// origin as `https://`. Off by default so that `http://localhost` works; turn it on
    /// behind HTTPS.
    pub cookie_secure: bool,
    /// `WALLET_SESSION_IDLE_MINUTES` (default 30): a session unused this long ends.
    pub idle_timeout: Duration,
    /// `WALLET_SESSION_MAX_HOURS` (default 12): a session ends this long after sign-in,
    /// however active it is.
    pub max_session_age: Duration,
    /// `WALLET_TRUST_PROXY=1`: one reverse proxy stands in front and its
    /// `X-Forwarded-For` / `X-Forwarded-Proto` headers are believed. Off by default,
    /// because anyone can send those headers to a server that faces the internet.
    pub trust_proxy: bool,
    /// `WALLET_ADMIN_PASSWORD`: the first admin's password, used only when no admin exists.
    pub admin_password: Option<String>,
    pub login_limits: LoginLimits,
    /// `WALLET_REFUND_APPROVAL_ABOVE`: console refunds above these amounts wait for a
    /// second operator (four eyes).
    pub refund_approval_above: RefundThresholds,
    /// `WALLET_MFA_REQUIRED` (default on): operators and admins must set up a second
    /// factor before they can use the console.
    pub mfa_required: bool,
    /// A refund, a role change or a user reset needs a code checked this recently.
    pub mfa_fresh_for: Duration,
}

/// How long a checked code covers sensitive actions.
pub const MFA_FRESH_FOR: Duration = Duration::from_secs(10 * 60);

/// How many failed sign-ins are tolerated before further attempts are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures per username within `window`: guessing one account's password.
    pub failures_per_username: u32,
    /// Failures per client address within `window`: trying many accounts from one place.
    /// Higher than the per-username limit because an office shares one address.
    pub failures_per_client: u32,
    /// Counted from the first failure; when it has passed, the count starts again.
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        LoginLimits {
            failures_per_username: 5,
            failures_per_client: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

impl std::fmt::Debug for StaffConfig {
    // By hand, so the admin password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffConfig")
            .field("cookie_secure", &self.cookie_secure)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_session_age", &self.max_session_age)
            .field("trust_proxy", &self.trust_proxy)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "…"))
            .field("login_limits", &self.login_limits)
            .field("refund_approval_above", &self.refund_approval_above)
            .field("mfa_required", &self.mfa_required)
            .field("mfa_fresh_for", &self.mfa_fresh_for)
            .finish()
    }
}

/// A console session unused this long ends.
pub const DEFAULT_IDLE_MINUTES: u64 = 30;
/// A console session ends this long after sign-in.
pub const DEFAULT_MAX_SESSION_HOURS: u64 = 12;

impl Default for StaffConfig {
    fn default() -> StaffConfig {
        StaffConfig {
            cookie_secure: false,
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_MINUTES * 60),
            max_session_age: Duration::from_secs(DEFAULT_MAX_SESSION_HOURS * 3600),
            trust_proxy: false,
            admin_password: None,
            login_limits: LoginLimits::default(),
            refund_approval_above: RefundThresholds::default(),
            mfa_required: true,
            mfa_fresh_for: MFA_FRESH_FOR,
        }
    }
}
