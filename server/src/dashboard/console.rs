//! The server's side of the console port: each method is one call into a capability's
//! service, with the result turned into display rows.
use app::backend::{Console, ConsoleError, ConsoleResult};
use app::model::*;
use async_trait::async_trait;
use chrono::Utc;

use super::errors::{
    from_api, from_discrepancy, from_mfa, from_service, from_user_admin, unavailable,
};
use crate::console as queries;
use crate::console::{amounts, lists, overview, rows, trace_view};
use crate::domain::PlayerId;
use crate::http::state::AppState;
use crate::operator::wire::PlayerStatus;
use crate::reconcile::discrepancies;
use crate::reconcile::RunError;
use crate::staff::UserAdminError;
use crate::wallet::operations::StaffAction;

/// The first screen of the live trace, and the most rows one poll brings.
const FEED_FIRST_PAGE: u64 = 100;
const FEED_POLL_LIMIT: u64 = 500;
/// Findings and runs listed on the reconciliation page.
const FINDINGS_PAGE: u64 = 100;
const RUNS_SHOWN: u64 = 20;

pub struct DbConsole {
    pub state: AppState,
    /// Demo traffic is playing (`WALLET_DEMO`).
    pub demo: bool,
    /// Failed sign-ins; a wrong current password on the account page counts as one, so
    /// that someone holding a session cannot guess the password there without limit.
    pub limiter: std::sync::Arc<crate::staff::LoginLimiter>,
    /// `WALLET_REFUND_APPROVAL_ABOVE`: refunds above these wait for a second operator.
    pub refund_thresholds: std::sync::Arc<crate::approvals::RefundThresholds>,
    /// How recent a checked code must be for a refund, a role change or a user reset.
    pub code_fresh_for: std::time::Duration,
    /// `WALLET_MFA_REQUIRED`: operators and admins need a second factor.
    pub mfa_required: bool,
}

impl DbConsole {
    /// A user with a second factor confirms a fresh code before moving money or changing
    /// who may do what (docs/SECURITY.md, "Second factor").
    fn require_fresh_code(&self, actor: &Viewer) -> ConsoleResult<()> {
        if !actor.mfa_enrolled {
            return Ok(());
        }
        let limit = i64::try_from(self.code_fresh_for.as_secs()).unwrap_or(i64::MAX);
        let fresh = actor
            .mfa_at
            .is_some_and(|at| (0..limit).contains(&(Utc::now().timestamp() - at)));
        if fresh {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(format!(
                "{STEP_UP} enter a code from your authenticator app in the box on this page \
                 (your last one is more than {} minutes old), then try again",
                limit / 60
            )))
        }
    }
}

/// How a refusal for want of a fresh code begins; the pages recognise it.
pub const STEP_UP: &str = "Confirm it is you:";

fn staff_action(actor: &Viewer, reason: String) -> ConsoleResult<StaffAction> {
    crate::operator::service::staff_action(Some(actor.username.clone()), reason).map_err(from_api)
}

#[async_trait]
impl Console for DbConsole {
    async fn overview(
        &self,
        window: Window,
        provider_id: Option<String>,
    ) -> ConsoleResult<Overview> {
        let db = self.state.store.reader();
        overview::overview(db, &self.state.currencies, window, provider_id, Utc::now())
            .await
            .map_err(unavailable)
    }

    async fn feed(&self, after: Option<i64>, filter: FeedFilter) -> ConsoleResult<FeedPage> {
        let some = |text: String| (!text.trim().is_empty()).then(|| text.trim().to_owned());
        let filter = queries::FeedFilter {
            provider_id: some(filter.provider_id),
            endpoint: some(filter.endpoint),
            outcome: some(filter.outcome),
            player_id: some(filter.player_id),
        };
        let limit = if after.is_some() {
            FEED_POLL_LIMIT
        } else {
            FEED_FIRST_PAGE
        };
        let page = queries::live_feed(self.state.store.reader(), after, &filter, limit)
            .await
            .map_err(unavailable)?;
        let mut rows: Vec<AttemptRow> = page.attempts.iter().map(rows::attempt_row).collect();
        // After a cursor the feed comes oldest first; the page shows newest first.
        if after.is_some() {
            rows.reverse();
        }
        Ok(FeedPage {
            rows,
            cursor: page.next_cursor.or(after),
        })
    }

    async fn trace(&self, query: String) -> ConsoleResult<Option<Trace>> {
        let db = self.state.store.reader();
        let Some(found) = queries::trace(db, &self.state.currencies, &query)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        trace_view::trace_view(db, &self.state.currencies, query.trim(), found)
            .await
            .map(Some)
            .map_err(from_service)
    }

    async fn search(&self, query: String, page: u64) -> ConsoleResult<SearchResults> {
        let found = queries::search(self.state.store.reader(), &query, page, lists::PAGE_SIZE)
            .await
            .map_err(unavailable)?;
        Ok(SearchResults {
            query: query.trim().to_owned(),
            rows: found
                .items
                .iter()
                .map(|row| rows::transaction_row(&self.state.currencies, row))
                .collect(),
            page: found.page,
            page_size: found.page_size,
            total: found.total,
        })
    }

    async fn pending(&self, page: u64) -> ConsoleResult<PendingPage> {
        let found = queries::pending_rollbacks(self.state.store.reader(), page, Utc::now())
            .await
            .map_err(unavailable)?;
        let currencies = &self.state.currencies;
        let rows = found
            .items
            .iter()
            .map(|item| {
                Ok(PendingRow {
                    finding: rows::discrepancy_row(&item.discrepancy)?,
                    player_id: item.player_id.clone(),
                    bet: item
                        .bet
                        .as_ref()
                        .map(|bet| rows::transaction_row(currencies, bet)),
                    amount: item
                        .amount_minor
                        .zip(item.currency.as_deref())
                        .map(|(minor, currency)| amounts::money_text(currencies, minor, currency)),
                    since: crate::idempotency::format_time(item.since),
                    age_seconds: item.age_seconds,
                })
            })
            .collect::<Result<_, sea_orm::DbErr>>()
            .map_err(unavailable)?;
        Ok(PendingPage {
            rows,
            page: found.page,
            page_size: queries::PENDING_PAGE_SIZE,
            total: found.total,
        })
    }

    async fn refund(
        &self,
        actor: &Viewer,
        finding_id: i64,
        reason: String,
    ) -> ConsoleResult<String> {
        self.require_fresh_code(actor)?;
        super::refund::refund_or_file(
            &self.state,
            &self.refund_thresholds,
            actor,
            finding_id,
            staff_action(actor, reason)?,
        )
        .await
    }

    async fn acknowledge(
        &self,
        actor: &Viewer,
        finding_id: i64,
        note: String,
    ) -> ConsoleResult<()> {
        let note = (!note.trim().is_empty()).then_some(note.trim());
        discrepancies::acknowledge(&self.state.store, finding_id, &actor.username, note)
            .await
            .map(drop)
            .map_err(from_discrepancy)
    }

    async fn resolve(&self, actor: &Viewer, finding_id: i64, note: String) -> ConsoleResult<()> {
        discrepancies::resolve(&self.state.store, finding_id, &actor.username, &note)
            .await
            .map(drop)
            .map_err(from_discrepancy)
    }

    async fn reconciliation(&self, filter: FindingFilter) -> ConsoleResult<Reconciliation> {
        let db = self.state.store.reader();
        let some = |text: String| (!text.is_empty()).then_some(text);
        let page = discrepancies::list(
            db,
            &discrepancies::Filter {
                kind: some(filter.kind),
                status: some(filter.status),
                before_id: filter.before_id,
                limit: FINDINGS_PAGE,
            },
        )
        .await
        .map_err(unavailable)?;
        let runs = crate::reconcile::recent_runs(db, RUNS_SHOWN)
            .await
            .map_err(unavailable)?;
        let providers = overview::provider_ids(db).await.map_err(unavailable)?;
        Ok(Reconciliation {
            runs: runs.iter().map(rows::run_row).collect(),
            findings: page
                .items
                .iter()
                .map(rows::discrepancy_row)
                .collect::<Result<_, _>>()
                .map_err(unavailable)?,
            next_before_id: page.next_before_id,
            kinds: lists::finding_kinds(db).await.map_err(unavailable)?,
            providers,
            demo: self.demo,
        })
    }

    async fn run_reconciliation(&self, actor: &Viewer) -> ConsoleResult<RunRow> {
        tracing::info!(actor = %actor.username, "reconciliation run requested from the console");
        let summary = crate::reconcile::run_now(&self.state.store, self.state.schedule)
            .await
            .map_err(|error| match error {
                RunError::InProgress => ConsoleError::Conflict(error.to_string()),
                other => unavailable(other),
            })?;
        let runs = crate::reconcile::recent_runs(self.state.store.reader(), RUNS_SHOWN)
            .await
            .map_err(unavailable)?;
        runs.iter()
            .find(|run| run.id == summary.run_id)
            .map(rows::run_row)
            .ok_or_else(|| {
                ConsoleError::NotFound(format!("run {} is not recorded", summary.run_id))
            })
    }

    async fn players(&self, query: String, page: u64) -> ConsoleResult<PlayerList> {
        lists::players(
            self.state.store.reader(),
            &self.state.currencies,
            query,
            page,
        )
        .await
        .map_err(unavailable)
    }

    async fn player(&self, player_id: String, page: u64) -> ConsoleResult<PlayerDetail> {
        lists::player(
            self.state.store.reader(),
            &self.state.currencies,
            &player_id,
            page,
        )
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no player {player_id:?}")))
    }

    async fn set_player_blocked(
        &self,
        actor: &Viewer,
        player_id: String,
        blocked: bool,
        reason: String,
    ) -> ConsoleResult<()> {
        let player_id =
            PlayerId::parse(player_id).map_err(|e| ConsoleError::Invalid(e.to_string()))?;
        let status = if blocked {
            PlayerStatus::Blocked
        } else {
            PlayerStatus::Active
        };
        let staff = staff_action(actor, reason)?;
        crate::operator::service::set_player_status(&self.state.store, player_id, status, staff)
            .await
            .map(drop)
            .map_err(from_service)
    }

    async fn audit(&self, filter: AuditFilter, page: u64) -> ConsoleResult<AuditPage> {
        lists::audit(self.state.store.reader(), filter, page)
            .await
            .map_err(unavailable)
    }

    async fn users(&self, actor: &Viewer) -> ConsoleResult<UserList> {
        let users = crate::staff::list_users(&self.state.store, actor)
            .await
            .map_err(from_user_admin)?;
        Ok(UserList {
            rows: users.iter().map(rows::user_row).collect(),
        })
    }

    async fn create_user(
        &self,
        actor: &Viewer,
        username: String,
        password: String,
        role: Role,
    ) -> ConsoleResult<()> {
        self.require_fresh_code(actor)?;
        // Four eyes: an admin made in one step would skip the second admin's approval.
        if role == Role::Admin {
            return Err(ConsoleError::Invalid(
                "a new user starts as support or operator; then ask for the admin role, \
                 which a second admin approves"
                    .to_owned(),
            ));
        }
        crate::staff::create_user(&self.state.store, actor, &username, password, role)
            .await
            .map(drop)
            .map_err(from_user_admin)
    }

    async fn set_user_role(
        &self,
        actor: &Viewer,
        user_id: i64,
        role: Role,
    ) -> ConsoleResult<String> {
        self.require_fresh_code(actor)?;
        super::approvals::file_role_change(&self.state, actor, user_id, role).await
    }

    async fn database_full(&self) -> ConsoleResult<Option<DatabaseFull>> {
        Ok(self.state.store.space().full().map(|full| DatabaseFull {
            since: full.since.to_rfc3339(),
            error: full.error,
        }))
    }

    async fn providers(&self) -> ConsoleResult<ProviderList> {
        super::providers::list(&self.state).await
    }

    async fn add_provider(
        &self,
        actor: &Viewer,
        provider_id: String,
        name: String,
    ) -> ConsoleResult<NewKey> {
        self.require_fresh_code(actor)?;
        let change = crate::operator::service::KeyChange::CreateProvider { name };
        super::providers::change(&self.state, actor, provider_id, change)
            .await?
            .ok_or(ConsoleError::Unavailable)
    }

    async fn add_key(&self, actor: &Viewer, provider_id: String) -> ConsoleResult<NewKey> {
        self.require_fresh_code(actor)?;
        let change = crate::operator::service::KeyChange::AddKey;
        super::providers::change(&self.state, actor, provider_id, change)
            .await?
            .ok_or(ConsoleError::Unavailable)
    }

    async fn retire_key(
        &self,
        actor: &Viewer,
        provider_id: String,
        key_id: String,
    ) -> ConsoleResult<()> {
        self.require_fresh_code(actor)?;
        let change = crate::operator::service::KeyChange::RetireKey { key_id };
        super::providers::change(&self.state, actor, provider_id, change)
            .await
            .map(drop)
    }

    async fn webhooks(&self) -> ConsoleResult<WebhookList> {
        super::webhooks::list(&self.state).await
    }

    async fn save_webhook(
        &self,
        actor: &Viewer,
        webhook_id: String,
        url: String,
        secret: String,
        types: String,
    ) -> ConsoleResult<()> {
        self.require_fresh_code(actor)?;
        super::webhooks::save(&self.state, actor, webhook_id, url, secret, types).await
    }

    async fn set_webhook_enabled(
        &self,
        actor: &Viewer,
        webhook_id: String,
        enabled: bool,
    ) -> ConsoleResult<()> {
        super::webhooks::set_enabled(&self.state, actor, webhook_id, enabled).await
    }

    async fn redeliver_event(
        &self,
        actor: &Viewer,
        webhook_id: String,
        event_id: String,
    ) -> ConsoleResult<()> {
        super::webhooks::redeliver(&self.state, actor, webhook_id, event_id).await
    }

    async fn approvals(&self) -> ConsoleResult<ApprovalQueue> {
        super::approvals::queue(&self.state).await
    }

    async fn approve(&self, actor: &Viewer, request_id: i64) -> ConsoleResult<String> {
        self.require_fresh_code(actor)?;
        super::approvals::approve(&self.state, actor, request_id).await
    }

    async fn reject(&self, actor: &Viewer, request_id: i64, note: String) -> ConsoleResult<()> {
        super::approvals::reject(&self.state, actor, request_id, &note).await
    }

    async fn set_user_disabled(
        &self,
        actor: &Viewer,
        user_id: i64,
        disabled: bool,
    ) -> ConsoleResult<()> {
        self.require_fresh_code(actor)?;
        crate::staff::set_disabled(&self.state.store, actor, user_id, disabled)
            .await
            .map(drop)
            .map_err(from_user_admin)
    }

    async fn reset_user_password(&self, actor: &Viewer, user_id: i64) -> ConsoleResult<String> {
        self.require_fresh_code(actor)?;
        let password = crate::staff::password::generate_password();
        crate::staff::reset_password(&self.state.store, actor, user_id, password.clone(), true)
            .await
            .map_err(from_user_admin)?;
        Ok(password)
    }

    async fn mfa_status(&self, actor: &Viewer) -> ConsoleResult<MfaStatus> {
        let user = crate::console::records::staff_user(self.state.store.reader(), actor.user_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ConsoleError::NotFound("no such user".to_owned()))?;
        Ok(MfaStatus {
            enrolled: user.totp_secret.is_some(),
            recovery_codes_left: u32::try_from(crate::staff::mfa::recovery_codes_left(&user))
                .unwrap_or(0),
            required: self.mfa_required && actor.role.allows(Role::Operator),
        })
    }

    async fn begin_mfa_setup(&self, actor: &Viewer) -> ConsoleResult<MfaSetup> {
        let setup = crate::staff::mfa::begin_enrolment(&self.state.store, actor.user_id)
            .await
            .map_err(from_mfa)?;
        Ok(MfaSetup {
            secret: setup.secret,
            otpauth_url: setup.otpauth_url,
            qr_svg: setup.qr_svg,
        })
    }

    async fn confirm_mfa_setup(&self, actor: &Viewer, code: String) -> ConsoleResult<Vec<String>> {
        crate::staff::mfa::confirm_enrolment(&self.state.store, actor.user_id, &code)
            .await
            .map_err(from_mfa)
    }

    async fn sessions(&self, actor: &Viewer) -> ConsoleResult<SessionList> {
        let sessions = crate::staff::sessions::list_sessions(&self.state.store, actor)
            .await
            .map_err(from_user_admin)?;
        Ok(SessionList {
            rows: sessions.iter().map(rows::session_row).collect(),
        })
    }

    async fn end_session(&self, actor: &Viewer, handle: String) -> ConsoleResult<()> {
        crate::staff::sessions::end_session(&self.state.store, actor, &handle)
            .await
            .map_err(from_user_admin)
    }

    async fn change_own_password(
        &self,
        actor: &Viewer,
        current: String,
        new: String,
    ) -> ConsoleResult<()> {
        // Counted apart from sign-ins from any address: only this user's own count locks.
        let place = format!("account page of {}", actor.username);
        let now = std::time::Instant::now();
        if self.limiter.is_locked(&actor.username, &place, now) {
            return Err(ConsoleError::Invalid(
                "too many wrong passwords: wait a few minutes and try again".to_owned(),
            ));
        }
        let result =
            crate::staff::users::change_own_password(&self.state.store, actor, &current, new).await;
        if let Err(UserAdminError::WrongPassword) = &result {
            self.limiter.record_failure(&actor.username, &place, now);
        }
        result.map_err(from_user_admin)
    }
}
