//! The console's providers page: every provider with its keys (when added, when last
//! used) and its last 24 hours, adding a provider or a key (the secret shown once) and
//! retiring a key. Key changes go through `operator::service::change_keys`, audited.
use app::backend::ConsoleResult;
use app::model::{KeyRow, NewKey, ProviderList, ProviderRow, Viewer, Window};
use chrono::Utc;

use super::errors::{from_service, unavailable};
use crate::attempts::overview::overview;
use crate::domain::ProviderId;
use crate::http::state::AppState;
use crate::operator::service::{self, KeyChange};

pub async fn list(state: &AppState) -> ConsoleResult<ProviderList> {
    let db = state.store.reader();
    let providers = service::list_providers(db, &state.keys)
        .await
        .map_err(from_service)?;
    let mut rows = Vec::with_capacity(providers.len());
    for provider in providers {
        let day = overview(
            db,
            Window::OneDay.minutes(),
            Some(&provider.provider_id),
            Utc::now(),
        )
        .await
        .map_err(unavailable)?
        .totals;
        rows.push(ProviderRow {
            provider_id: provider.provider_id,
            name: provider.name,
            created_at: provider.created_at,
            keys: provider
                .keys
                .into_iter()
                .map(|key| KeyRow {
                    key_id: key.key_id,
                    created_at: key.created_at,
                    last_used_at: key.last_used_at,
                })
                .collect(),
            first: day.outcomes.first,
            replays: day.outcomes.replays,
            declined: day.outcomes.declined + day.outcomes.conflicts,
            failed: day.outcomes.rejected + day.outcomes.errors,
        });
    }
    Ok(ProviderList { rows })
}

pub async fn change(
    state: &AppState,
    actor: &Viewer,
    provider_id: String,
    change: KeyChange,
) -> ConsoleResult<Option<NewKey>> {
    let id = ProviderId::parse(provider_id.trim().to_owned())
        .map_err(|e| app::backend::ConsoleError::Invalid(format!("provider id: {e}")))?;
    let made = service::change_keys(&state.store, &actor.username, id.clone(), change)
        .await
        .map_err(from_service)?;
    // Committed: a retired key must stop working now (the SQLite process caches keys).
    state.keys.clear();
    Ok(made.map(|key| NewKey {
        provider_id: id.as_str().to_owned(),
        key_id: key.key_id,
        secret: key.secret,
    }))
}
