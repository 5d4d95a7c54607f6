//! The console's server functions: each checks the caller's role on the server, then makes
//! one call through the [`Console`](crate::backend::Console) the server provided.
use leptos::prelude::*;

use crate::model::*;

#[cfg(feature = "ssr")]
mod guard {
    use leptos::prelude::*;

    use crate::backend::{ConsoleError, ConsoleResult, SharedConsole};
    use crate::model::{Role, Viewer};

    /// The signed-in staff member, as the server's session middleware found them.
    pub fn viewer() -> Option<Viewer> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Viewer>().cloned())
    }

    /// Sets the answer's status from the error, so that monitors and the browser's
    /// network panel tell a refusal from an outage.
    fn refuse(error: ConsoleError) -> ConsoleError {
        let status = match &error {
            ConsoleError::Invalid(_) => http::StatusCode::BAD_REQUEST,
            ConsoleError::NotFound(_) => http::StatusCode::NOT_FOUND,
            ConsoleError::Conflict(_) => http::StatusCode::CONFLICT,
            ConsoleError::SignedOut(_) => http::StatusCode::UNAUTHORIZED,
            ConsoleError::Forbidden(_) => http::StatusCode::FORBIDDEN,
            ConsoleError::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
        };
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        error
    }

    /// The console and the caller, when the caller's role includes `needed` and their
    /// password is their own.
    pub fn require(needed: Role) -> ConsoleResult<(SharedConsole, Viewer)> {
        let (console, viewer) = require_signed_in()?;
        if viewer.must_change_password {
            return Err(refuse(ConsoleError::Forbidden(
                "choose a new password first (Account page)".to_owned(),
            )));
        }
        if viewer.must_enroll_mfa {
            return Err(refuse(ConsoleError::Forbidden(
                "set up your second factor first (Account page)".to_owned(),
            )));
        }
        if !viewer.role.allows(needed) {
            let message = format!(
                "the {} role may not do this; it needs {}",
                viewer.role.as_str(),
                needed.as_str()
            );
            return Err(refuse(ConsoleError::Forbidden(message)));
        }
        Ok((console, viewer))
    }

    /// The console and the caller, whatever their role: for the caller's own account.
    pub fn require_signed_in() -> ConsoleResult<(SharedConsole, Viewer)> {
        let viewer =
            viewer().ok_or_else(|| refuse(ConsoleError::SignedOut("sign in first".to_owned())))?;
        // Only a server started without its console (a bug) has none.
        let console =
            use_context::<SharedConsole>().ok_or_else(|| refuse(ConsoleError::Unavailable))?;
        Ok((console, viewer))
    }

    /// The console's answer, with the status its error calls for.
    pub fn answer<T>(result: ConsoleResult<T>) -> ConsoleResult<T> {
        result.map_err(refuse)
    }
}

#[cfg(feature = "ssr")]
use guard::{answer, require, require_signed_in};

#[server(endpoint = "current_viewer")]
pub async fn current_viewer() -> Result<Option<Viewer>, ConsoleError> {
    Ok(guard::viewer())
}

/// Asked by every page's frame, signed in or not, so it never refuses (a refusal would
/// set the page's own status): anyone but signed-in staff is told nothing.
#[server(endpoint = "get_database_full")]
pub async fn get_database_full() -> Result<Option<DatabaseFull>, ConsoleError> {
    let console = guard::viewer().and(use_context::<crate::backend::SharedConsole>());
    let Some(console) = console else {
        return Ok(None);
    };
    Ok(console.database_full().await.ok().flatten())
}

#[server(endpoint = "get_overview")]
pub async fn get_overview(
    window: Window,
    provider_id: Option<String>,
) -> Result<Overview, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.overview(window, provider_id).await)
}

#[server(endpoint = "get_feed")]
pub async fn get_feed(after: Option<i64>, filter: FeedFilter) -> Result<FeedPage, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.feed(after, filter).await)
}

#[server(endpoint = "get_trace")]
pub async fn get_trace(query: String) -> Result<Option<Trace>, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.trace(query).await)
}

#[server(endpoint = "search_transactions")]
pub async fn search_transactions(query: String, page: u64) -> Result<SearchResults, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.search(query, page).await)
}

#[server(endpoint = "get_pending")]
pub async fn get_pending(page: u64) -> Result<PendingPage, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.pending(page).await)
}

/// `confirmed` is the page's "I checked with the provider" box: a refund moves money.
#[server(endpoint = "refund_orphan")]
pub async fn refund_orphan(
    finding_id: i64,
    reason: String,
    confirmed: Option<String>,
) -> Result<String, ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    if confirmed.as_deref() != Some("yes") {
        return answer(Err(ConsoleError::Invalid(
            "tick the confirmation box to refund".to_owned(),
        )));
    }
    answer(console.refund(&viewer, finding_id, reason).await)
}

#[server(endpoint = "acknowledge_finding")]
pub async fn acknowledge_finding(finding_id: i64, note: String) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(console.acknowledge(&viewer, finding_id, note).await)
}

#[server(endpoint = "resolve_finding")]
pub async fn resolve_finding(finding_id: i64, note: String) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(console.resolve(&viewer, finding_id, note).await)
}

#[server(endpoint = "get_reconciliation")]
pub async fn get_reconciliation(filter: FindingFilter) -> Result<Reconciliation, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.reconciliation(filter).await)
}

#[server(endpoint = "run_reconciliation_now")]
pub async fn run_reconciliation_now() -> Result<RunRow, ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(console.run_reconciliation(&viewer).await)
}

#[server(endpoint = "list_players")]
pub async fn list_players(query: String, page: u64) -> Result<PlayerList, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.players(query, page).await)
}

#[server(endpoint = "get_player")]
pub async fn get_player(player_id: String, page: u64) -> Result<PlayerDetail, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.player(player_id, page).await)
}

#[server(endpoint = "set_player_blocked")]
pub async fn set_player_blocked(
    player_id: String,
    blocked: bool,
    reason: String,
) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(
        console
            .set_player_blocked(&viewer, player_id, blocked, reason)
            .await,
    )
}

#[server(endpoint = "get_audit")]
pub async fn get_audit(filter: AuditFilter, page: u64) -> Result<AuditPage, ConsoleError> {
    let (console, _) = require(Role::Support)?;
    answer(console.audit(filter, page).await)
}

#[server(endpoint = "list_users")]
pub async fn list_users() -> Result<UserList, ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(console.users(&viewer).await)
}

#[server(endpoint = "create_user")]
pub async fn create_user(
    username: String,
    password: String,
    role: String,
) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    let role = parse_role(&role)?;
    answer(console.create_user(&viewer, username, password, role).await)
}

/// Files a role change; a second admin approves it on the approvals page.
#[server(endpoint = "set_user_role")]
pub async fn set_user_role(user_id: i64, role: String) -> Result<String, ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    let role = parse_role(&role)?;
    answer(console.set_user_role(&viewer, user_id, role).await)
}

#[server(endpoint = "set_user_disabled")]
pub async fn set_user_disabled(user_id: i64, disabled: bool) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(console.set_user_disabled(&viewer, user_id, disabled).await)
}

/// Sets a generated password for another user and returns it, to be shown once.
#[server(endpoint = "reset_user_password")]
pub async fn reset_user_password(user_id: i64) -> Result<String, ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(console.reset_user_password(&viewer, user_id).await)
}

#[server(endpoint = "list_webhooks")]
pub async fn list_webhooks() -> Result<WebhookList, ConsoleError> {
    let (console, _) = require(Role::Admin)?;
    answer(console.webhooks().await)
}

#[server(endpoint = "save_webhook")]
pub async fn save_webhook(
    webhook_id: String,
    url: String,
    secret: String,
    types: String,
) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(
        console
            .save_webhook(&viewer, webhook_id, url, secret, types)
            .await,
    )
}

#[server(endpoint = "pause_webhook")]
pub async fn pause_webhook(webhook_id: String) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(
        console
            .set_webhook_enabled(&viewer, webhook_id, false)
            .await,
    )
}

#[server(endpoint = "resume_webhook")]
pub async fn resume_webhook(webhook_id: String) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(console.set_webhook_enabled(&viewer, webhook_id, true).await)
}

#[server(endpoint = "redeliver_event")]
pub async fn redeliver_event(webhook_id: String, event_id: String) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(console.redeliver_event(&viewer, webhook_id, event_id).await)
}

#[server(endpoint = "list_providers")]
pub async fn list_providers() -> Result<ProviderList, ConsoleError> {
    let (console, _) = require(Role::Operator)?;
    answer(console.providers().await)
}

#[server(endpoint = "add_provider")]
pub async fn add_provider(provider_id: String, name: String) -> Result<NewKey, ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(console.add_provider(&viewer, provider_id, name).await)
}

#[server(endpoint = "add_key")]
pub async fn add_key(provider_id: String) -> Result<NewKey, ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(console.add_key(&viewer, provider_id).await)
}

#[server(endpoint = "retire_key")]
pub async fn retire_key(provider_id: String, key_id: String) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(console.retire_key(&viewer, provider_id, key_id).await)
}

#[server(endpoint = "list_approvals")]
pub async fn list_approvals() -> Result<ApprovalQueue, ConsoleError> {
    let (console, _) = require(Role::Operator)?;
    answer(console.approvals().await)
}

/// Approves another person's request: the refund or role change is made now, once.
#[server(endpoint = "approve_request")]
pub async fn approve_request(request_id: i64) -> Result<String, ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(console.approve(&viewer, request_id).await)
}

#[server(endpoint = "reject_request")]
pub async fn reject_request(request_id: i64, note: String) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Operator)?;
    answer(console.reject(&viewer, request_id, note).await)
}

#[server(endpoint = "get_mfa_status")]
pub async fn get_mfa_status() -> Result<MfaStatus, ConsoleError> {
    let (console, viewer) = require_signed_in()?;
    answer(console.mfa_status(&viewer).await)
}

#[server(endpoint = "begin_mfa_setup")]
pub async fn begin_mfa_setup() -> Result<MfaSetup, ConsoleError> {
    let (console, viewer) = require_signed_in()?;
    answer(console.begin_mfa_setup(&viewer).await)
}

/// The app's first code turns the second factor on; the answer is the recovery codes.
#[server(endpoint = "confirm_mfa_setup")]
pub async fn confirm_mfa_setup(code: String) -> Result<Vec<String>, ConsoleError> {
    let (console, viewer) = require_signed_in()?;
    answer(console.confirm_mfa_setup(&viewer, code).await)
}

#[server(endpoint = "list_sessions")]
pub async fn list_sessions() -> Result<SessionList, ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(console.sessions(&viewer).await)
}

/// Ends another browser's session (or this one's) by its handle.
#[server(endpoint = "end_session")]
pub async fn end_session(handle: String) -> Result<(), ConsoleError> {
    let (console, viewer) = require(Role::Admin)?;
    answer(console.end_session(&viewer, handle).await)
}

/// The caller's own new password; signs them out everywhere, this browser too.
#[server(endpoint = "change_password")]
pub async fn change_password(
    current: String,
    new: String,
    repeat: String,
) -> Result<(), ConsoleError> {
    let (console, viewer) = require_signed_in()?;
    if new != repeat {
        return answer(Err(ConsoleError::Invalid(
            "the two new passwords differ".to_owned(),
        )));
    }
    answer(console.change_own_password(&viewer, current, new).await)
}

#[cfg(feature = "ssr")]
fn parse_role(text: &str) -> Result<Role, ConsoleError> {
    Role::parse(text).ok_or_else(|| {
        answer::<()>(Err(ConsoleError::Invalid(format!(
            "no role called {text:?}"
        ))))
        .unwrap_err()
    })
}
