//! The port the console's server functions call, implemented by the server crate.
//!
//! The server depends on this crate (it renders the pages), so the pages cannot call the
//! server's services directly. Instead the server puts a [`Console`] into the Leptos
//! context and every server function is a role check plus one call through it.
use std::sync::Arc;

use async_trait::async_trait;

use crate::model::*;

pub use crate::model::{ConsoleError, ConsoleResult};

/// Shared by every request through the Leptos context.
pub type SharedConsole = Arc<dyn Console>;

#[async_trait]
pub trait Console: Send + Sync + 'static {
    async fn overview(
        &self,
        window: Window,
        provider_id: Option<String>,
    ) -> ConsoleResult<Overview>;
    async fn feed(&self, after: Option<i64>, filter: FeedFilter) -> ConsoleResult<FeedPage>;
    /// `Some` while the database cannot grow and money operations are refused.
    async fn database_full(&self) -> ConsoleResult<Option<DatabaseFull>>;
    async fn trace(&self, query: String) -> ConsoleResult<Option<Trace>>;
    async fn search(&self, query: String, page: u64) -> ConsoleResult<SearchResults>;
    async fn pending(&self, page: u64) -> ConsoleResult<PendingPage>;
    /// Refunds the orphan bet a PENDING_ROLLBACK finding is about.
    async fn refund(
        &self,
        actor: &Viewer,
        finding_id: i64,
        reason: String,
    ) -> ConsoleResult<String>;
    async fn acknowledge(&self, actor: &Viewer, finding_id: i64, note: String)
        -> ConsoleResult<()>;
    async fn resolve(&self, actor: &Viewer, finding_id: i64, note: String) -> ConsoleResult<()>;
    async fn reconciliation(&self, filter: FindingFilter) -> ConsoleResult<Reconciliation>;
    async fn run_reconciliation(&self, actor: &Viewer) -> ConsoleResult<RunRow>;
    async fn players(&self, query: String, page: u64) -> ConsoleResult<PlayerList>;
    async fn player(&self, player_id: String, page: u64) -> ConsoleResult<PlayerDetail>;
    async fn set_player_blocked(
        &self,
        actor: &Viewer,
        player_id: String,
        blocked: bool,
        reason: String,
    ) -> ConsoleResult<()>;
    async fn audit(&self, filter: AuditFilter, page: u64) -> ConsoleResult<AuditPage>;
    async fn users(&self, actor: &Viewer) -> ConsoleResult<UserList>;
    async fn create_user(
        &self,
        actor: &Viewer,
        username: String,
        password: String,
        role: Role,
    ) -> ConsoleResult<()>;
    /// Files the role change for a second admin's approval; says what happened.
    async fn set_user_role(
        &self,
        actor: &Viewer,
        user_id: i64,
        role: Role,
    ) -> ConsoleResult<String>;
    async fn set_user_disabled(
        &self,
        actor: &Viewer,
        user_id: i64,
        disabled: bool,
    ) -> ConsoleResult<()>;
    /// Sets a generated password, returned to be shown once; the user must change it at
    /// the next sign-in.
    async fn reset_user_password(&self, actor: &Viewer, user_id: i64) -> ConsoleResult<String>;
    /// Every provider with its keys and last 24 hours (operators and admins).
    async fn providers(&self) -> ConsoleResult<ProviderList>;
    /// A new provider with a first key; the secret is in the answer, once.
    async fn add_provider(
        &self,
        actor: &Viewer,
        provider_id: String,
        name: String,
    ) -> ConsoleResult<NewKey>;
    /// Another key for a provider; the secret is in the answer, once.
    async fn add_key(&self, actor: &Viewer, provider_id: String) -> ConsoleResult<NewKey>;
    /// Removes a key (never the last one): it stops working at once.
    async fn retire_key(
        &self,
        actor: &Viewer,
        provider_id: String,
        key_id: String,
    ) -> ConsoleResult<()>;
    /// Every webhook subscription with its delivery stats and dead events (admins).
    async fn webhooks(&self) -> ConsoleResult<WebhookList>;
    /// Creates or replaces a subscription; `types` as typed, separated by commas or spaces.
    async fn save_webhook(
        &self,
        actor: &Viewer,
        webhook_id: String,
        url: String,
        secret: String,
        types: String,
    ) -> ConsoleResult<()>;
    /// Pauses or resumes a subscription's deliveries; it keeps its place.
    async fn set_webhook_enabled(
        &self,
        actor: &Viewer,
        webhook_id: String,
        enabled: bool,
    ) -> ConsoleResult<()>;
    /// Tries a dead event again now.
    async fn redeliver_event(
        &self,
        actor: &Viewer,
        webhook_id: String,
        event_id: String,
    ) -> ConsoleResult<()>;
    /// The four-eyes queue (operators and admins).
    async fn approvals(&self) -> ConsoleResult<ApprovalQueue>;
    /// Approves someone else's request and makes the change; says what it did.
    async fn approve(&self, actor: &Viewer, request_id: i64) -> ConsoleResult<String>;
    /// Rejects someone else's pending request.
    async fn reject(&self, actor: &Viewer, request_id: i64, note: String) -> ConsoleResult<()>;
    /// The caller's second factor.
    async fn mfa_status(&self, actor: &Viewer) -> ConsoleResult<MfaStatus>;
    /// Starts setting up a second factor: a new secret, not active until confirmed.
    async fn begin_mfa_setup(&self, actor: &Viewer) -> ConsoleResult<MfaSetup>;
    /// Confirms it with the app's first code; returns the ten recovery codes, shown once.
    async fn confirm_mfa_setup(&self, actor: &Viewer, code: String) -> ConsoleResult<Vec<String>>;
    /// Every signed-in session (admins).
    async fn sessions(&self, actor: &Viewer) -> ConsoleResult<SessionList>;
    /// Ends the session named by `handle`; its browser is signed out.
    async fn end_session(&self, actor: &Viewer, handle: String) -> ConsoleResult<()>;
    /// The signed-in user's own new password; ends all of their sessions.
    async fn change_own_password(
        &self,
        actor: &Viewer,
        current: String,
        new: String,
    ) -> ConsoleResult<()>;
}
