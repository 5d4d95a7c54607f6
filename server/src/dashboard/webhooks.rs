//! The console's Webhooks page (admins): the subscriptions with their stats and dead
//! events, saving one, pausing and resuming, redelivering a dead event. Every change goes
//! through `events::webhooks`, as the operator API's do, audited under the staff member.
use app::backend::{ConsoleError, ConsoleResult};
use app::model::{DeadEventRow, Viewer, WebhookList, WebhookRow};

use super::errors::unavailable;
use crate::domain::WebhookId;
use crate::events::webhooks::{self, WebhookError, WebhookRequest};
use crate::http::state::AppState;

fn console_error(error: WebhookError) -> ConsoleError {
    match error {
        WebhookError::NotFound(id) => ConsoleError::NotFound(format!("no webhook {id}")),
        WebhookError::Invalid(message) => ConsoleError::Invalid(message),
        error @ WebhookError::NotDead(_) => ConsoleError::Conflict(error.to_string()),
        error @ WebhookError::NoSuchEvent(_) => ConsoleError::NotFound(error.to_string()),
        WebhookError::Service(error) => unavailable(error),
    }
}

pub async fn list(state: &AppState) -> ConsoleResult<WebhookList> {
    let db = state.store.reader();
    let views = webhooks::list(db).await.map_err(console_error)?;
    let mut rows = Vec::with_capacity(views.len());
    for view in views {
        let dead_events = if view.stats.dead > 0 {
            webhooks::dead(db, &view.webhook_id)
                .await
                .map_err(console_error)?
                .into_iter()
                .map(|event| DeadEventRow {
                    event_id: event.event_id,
                    event_type: event.event_type,
                    player_id: event.player_id,
                    attempts: event.attempts,
                    last_error: event.last_error,
                })
                .collect()
        } else {
            Vec::new()
        };
        rows.push(WebhookRow {
            webhook_id: view.webhook_id,
            url: view.url,
            types: view.types,
            enabled: view.enabled,
            created_at: view.created_at,
            delivered: view.stats.delivered,
            pending: view.stats.pending,
            oldest_pending_age_seconds: view.stats.oldest_pending_age_seconds,
            dead: view.stats.dead,
            dead_events,
        });
    }
    Ok(WebhookList { rows })
}

pub async fn save(
    state: &AppState,
    actor: &Viewer,
    webhook_id: String,
    url: String,
    secret: String,
    types: String,
) -> ConsoleResult<()> {
    let id = WebhookId::parse(webhook_id.trim().to_owned())
        .map_err(|e| ConsoleError::Invalid(format!("webhook id: {e}")))?;
    let types = types
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let request = WebhookRequest {
        url,
        secret,
        types,
        enabled: true,
    };
    webhooks::put(&state.store, id, request, Some(&actor.username))
        .await
        .map(drop)
        .map_err(console_error)
}

pub async fn set_enabled(
    state: &AppState,
    actor: &Viewer,
    webhook_id: String,
    enabled: bool,
) -> ConsoleResult<()> {
    webhooks::set_enabled(&state.store, &webhook_id, enabled, Some(&actor.username))
        .await
        .map_err(console_error)
}

pub async fn redeliver(
    state: &AppState,
    actor: &Viewer,
    webhook_id: String,
    event_id: String,
) -> ConsoleResult<()> {
    webhooks::redeliver(&state.store, &webhook_id, &event_id, Some(&actor.username))
        .await
        .map_err(console_error)
}
