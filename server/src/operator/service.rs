//! Operator services: each owns its database transaction through [`Store::write`].
use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect,
};

use super::wire::{
    KeyListing, PlayerStatus, PlayerView, ProviderKeyRequest, ProviderListing, ProviderRequest,
    ProviderView,
};
use crate::db::entities::{player, provider, provider_key};
use crate::db::Store;
use crate::domain::{CurrencyTable, KeyId, PlayerId, ProviderId};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::format_time;
use crate::money::player_money;

const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=256;
const MAX_KEYS: usize = 16;
const NAME_MAX_CHARS: usize = 200;

struct ValidKey {
    key_id: KeyId,
    secret: String,
}

fn validate_keys(keys: Vec<ProviderKeyRequest>) -> Result<Vec<ValidKey>, ApiError> {
    if keys.len() > MAX_KEYS {
        return Err(ApiError::malformed(format!("keys: at most {MAX_KEYS}")));
    }
    let mut seen = HashSet::new();
    keys.into_iter()
        .map(|key| {
            let key_id = KeyId::parse(key.key_id)
                .map_err(|e| ApiError::malformed(format!("keys.key_id: {e}")))?;
            if !seen.insert(key_id.clone()) {
                return Err(ApiError::malformed(format!(
                    "keys: {key_id} is listed twice"
                )));
            }
            if !SECRET_LEN.contains(&key.secret.len()) {
                return Err(ApiError::malformed(
                    "keys.secret: must be 16–256 characters",
                ));
            }
            Ok(ValidKey {
                key_id,
                secret: key.secret,
            })
        })
        .collect()
}

/// Every provider with its keys, by id. `keys` adds the uses this process has not written
/// yet, so a key that signed a moment ago shows it.
pub async fn list_providers(
    db: &impl ConnectionTrait,
    keys: &crate::wallet::keys::KeyCache,
) -> Result<Vec<ProviderListing>, ServiceError> {
    use sea_orm::QueryOrder;
    let providers = provider::Entity::find()
        .order_by_asc(provider::Column::Id)
        .all(db)
        .await?;
    let all_keys = provider_key::Entity::find()
        .order_by_asc(provider_key::Column::CreatedAt)
        .order_by_asc(provider_key::Column::KeyId)
        .all(db)
        .await?;
    Ok(providers
        .into_iter()
        .map(|provider| ProviderListing {
            keys: all_keys
                .iter()
                .filter(|key| key.provider_id == provider.id)
                .map(|key| KeyListing {
                    key_id: key.key_id.clone(),
                    created_at: format_time(key.created_at),
                    last_used_at: key
                        .last_used_at
                        .max(keys.pending_use(&key.key_id))
                        .map(format_time),
                })
                .collect(),
            provider_id: provider.id,
            name: provider.name,
            created_at: format_time(provider.created_at),
        })
        .collect())
}

/// A change to one provider's keys made from the console, audited with who made it.
#[derive(Debug, Clone)]
pub enum KeyChange {
    /// A new provider with its first key; refused if the id is taken.
    CreateProvider { name: String },
    /// Another key beside the current ones (at most 16).
    AddKey,
    /// Removes a key; never the provider's last one.
    RetireKey { key_id: String },
}

/// A key made by [`change_keys`]: its secret is shown once and never again.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key_id: String,
    pub secret: String,
}

/// Applies `change` to `provider_id`'s keys in one transaction with its `staff_audit` row
/// (`provider.created`, `provider.key_added`, `provider.key_retired`, by `actor`). New
/// keys get a generated id and a 256-bit secret, returned once. The caller clears the
/// key cache afterwards, as after any key change.
pub async fn change_keys(
    store: &Store,
    actor: &str,
    provider_id: ProviderId,
    change: KeyChange,
) -> Result<Option<NewKey>, ServiceError> {
    let new_key = match change {
        KeyChange::RetireKey { .. } => None,
        _ => Some(NewKey {
            key_id: format!(
                "{}-{}",
                provider_id.as_str(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            secret: hex::encode(rand::random::<[u8; 32]>()),
        }),
    };
    if let Some(key) = &new_key {
        KeyId::parse(key.key_id.clone())
            .map_err(|e| ApiError::malformed(format!("provider_id too long for a key id: {e}")))?;
    }
    if let KeyChange::CreateProvider { name } = &change {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
            return Err(ApiError::malformed(format!("name: 1–{NAME_MAX_CHARS} characters")).into());
        }
    }
    let (actor, provider_id) = (actor.to_owned(), Arc::new(provider_id));
    let key = new_key.clone();
    store
        .write(Box::new(move |txn| {
            let (actor, provider_id, change, key) = (
                actor.clone(),
                provider_id.clone(),
                change.clone(),
                key.clone(),
            );
            Box::pin(async move {
                let id = provider_id.as_str();
                let existing = provider::Entity::find_by_id(id).one(txn).await?;
                let keys = provider_key::Entity::find()
                    .filter(provider_key::Column::ProviderId.eq(id))
                    .all(txn)
                    .await?;
                let now = Utc::now();
                let (action, details) = match (&change, existing) {
                    (KeyChange::CreateProvider { .. }, Some(_)) => {
                        return Err(ApiError::new(
                            ErrorCode::KeyInUse,
                            format!("a provider {id} exists already"),
                        )
                        .into())
                    }
                    (KeyChange::CreateProvider { name }, None) => {
                        provider::Entity::insert(provider::ActiveModel {
                            id: Set(id.to_owned()),
                            name: Set(name.trim().to_owned()),
                            created_at: Set(now),
                            updated_at: Set(now),
                        })
                        .exec_without_returning(txn)
                        .await?;
                        (
                            "provider.created",
                            serde_json::json!({ "name": name.trim() }),
                        )
                    }
                    (_, None) => {
                        return Err(ApiError::new(
                            ErrorCode::ProviderNotFound,
                            format!("no provider {id}"),
                        )
                        .into())
                    }
                    (KeyChange::AddKey, Some(_)) if keys.len() >= MAX_KEYS => {
                        return Err(ApiError::malformed(format!(
                            "a provider holds at most {MAX_KEYS} keys; retire one first"
                        ))
                        .into())
                    }
                    (KeyChange::AddKey, Some(_)) => ("provider.key_added", serde_json::json!({})),
                    (KeyChange::RetireKey { key_id }, Some(_)) => {
                        if !keys.iter().any(|key| &key.key_id == key_id) {
                            return Err(ApiError::new(
                                ErrorCode::ReferenceNotFound,
                                format!("{id} has no key {key_id}"),
                            )
                            .into());
                        }
                        if keys.len() == 1 {
                            return Err(ApiError::malformed(
                                "this is the provider's last key; add its successor first",
                            )
                            .into());
                        }
                        provider_key::Entity::delete_by_id(key_id.clone())
                            .exec(txn)
                            .await?;
                        (
                            "provider.key_retired",
                            serde_json::json!({ "key_id": key_id }),
                        )
                    }
                };
                let mut details = details;
                if let Some(key) = &key {
                    provider_key::Entity::insert(provider_key::ActiveModel {
                        key_id: Set(key.key_id.clone()),
                        provider_id: Set(id.to_owned()),
                        secret: Set(key.secret.clone()),
                        created_at: Set(now),
                        last_used_at: Set(None),
                    })
                    .exec_without_returning(txn)
                    .await?;
                    details["key_id"] = serde_json::json!(key.key_id);
                }
                crate::audit::record(txn, &actor, action, "provider", id, "", details, now).await
            })
        }))
        .await?;
    Ok(new_key)
}

pub async fn upsert_provider(
    store: &Store,
    provider_id: ProviderId,
    request: ProviderRequest,
) -> Result<ProviderView, ServiceError> {
    // The length as sent (the OpenAPI document's maxLength), the name stored trimmed.
    let name = request.name.trim().to_owned();
    if name.is_empty() || request.name.chars().count() > NAME_MAX_CHARS {
        return Err(ApiError::malformed(format!("name: 1–{NAME_MAX_CHARS} characters")).into());
    }
    let keys = Arc::new(validate_keys(request.keys)?);
    let view = ProviderView {
        provider_id: provider_id.as_str().to_owned(),
        name: name.clone(),
        key_ids: keys.iter().map(|k| k.key_id.as_str().to_owned()).collect(),
    };
    let provider_id = Arc::new(provider_id);
    let name = Arc::new(name);
    store
        .write(Box::new(move |txn| {
            let (provider_id, name, keys) = (provider_id.clone(), name.clone(), keys.clone());
            Box::pin(async move { write_provider(txn, &provider_id, &name, &keys).await })
        }))
        .await?;
    Ok(view)
}

async fn write_provider(
    txn: &DatabaseTransaction,
    provider_id: &ProviderId,
    name: &str,
    keys: &[ValidKey],
) -> Result<(), ServiceError> {
    let now = Utc::now();
    let id = provider_id.as_str();
    let key_ids: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
    let taken = provider_key::Entity::find()
        .filter(provider_key::Column::KeyId.is_in(key_ids.clone()))
        .filter(provider_key::Column::ProviderId.ne(id))
        .one(txn)
        .await?;
    if let Some(taken) = taken {
        return Err(ApiError::new(
            ErrorCode::KeyInUse,
            format!("key {} belongs to another provider", taken.key_id),
        )
        .into());
    }
    provider::Entity::insert(provider::ActiveModel {
        id: Set(id.to_owned()),
        name: Set(name.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(provider::Column::Id)
            .update_columns([provider::Column::Name, provider::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    // Replacing the key set revokes every key not listed, at once. Keys that stay keep
    // their row (when they were added, when last used); a listed key's secret is updated.
    provider_key::Entity::delete_many()
        .filter(provider_key::Column::ProviderId.eq(id))
        .filter(provider_key::Column::KeyId.is_not_in(key_ids))
        .exec(txn)
        .await?;
    if !keys.is_empty() {
        provider_key::Entity::insert_many(keys.iter().map(|key| provider_key::ActiveModel {
            key_id: Set(key.key_id.as_str().to_owned()),
            provider_id: Set(id.to_owned()),
            secret: Set(key.secret.clone()),
            created_at: Set(now),
            last_used_at: Set(None),
        }))
        .on_conflict(
            OnConflict::column(provider_key::Column::KeyId)
                .update_column(provider_key::Column::Secret)
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

pub fn player_view(
    currencies: &CurrencyTable,
    player: &player::Model,
) -> Result<PlayerView, ServiceError> {
    let balance = player_money(currencies, player).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InternalError,
            "the player's currency is not configured",
        )
    })?;
    Ok(PlayerView {
        player_id: player.id.clone(),
        currency: player.currency.clone(),
        status: player.status.clone(),
        balance: balance.to_wire(),
        country: player.country.clone(),
        language: player.language.clone(),
    })
}

/// Where a player is and what they read, as a PAM session answers it: each field
/// unchanged when `None`.
#[derive(Debug, Clone, Default)]
pub struct Locale {
    pub country: Option<String>,
    pub language: Option<String>,
}

impl Locale {
    /// Checks the operator's values: a country is two upper-case letters (ISO 3166-1
    /// alpha-2), a language two letters (ISO 639-1, kept in lower case).
    pub fn parse(country: Option<String>, language: Option<String>) -> Result<Locale, ApiError> {
        let two_letters =
            |value: &str| value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic());
        if let Some(country) = &country {
            if !(two_letters(country) && country.bytes().all(|b| b.is_ascii_uppercase())) {
                return Err(ApiError::malformed(
                    "country: two upper-case letters (ISO 3166-1 alpha-2), e.g. MT",
                ));
            }
        }
        let language = match language {
            Some(language) if two_letters(&language) => Some(language.to_ascii_lowercase()),
            Some(_) => {
                return Err(ApiError::malformed(
                    "language: two letters (ISO 639-1), e.g. en",
                ))
            }
            None => None,
        };
        Ok(Locale { country, language })
    }
}

pub async fn upsert_player(
    store: &Store,
    currencies: &CurrencyTable,
    player_id: PlayerId,
    currency: Option<String>,
    status: Option<PlayerStatus>,
    locale: Locale,
) -> Result<player::Model, ServiceError> {
    if let Some(code) = &currency {
        currencies.currency(code).map_err(ApiError::from)?;
    }
    let player_id = Arc::new(player_id);
    let currency = Arc::new(currency);
    let locale = Arc::new(locale);
    store
        .write(Box::new(move |txn| {
            let (player_id, currency, locale) =
                (player_id.clone(), currency.clone(), locale.clone());
            Box::pin(async move {
                write_player(txn, &player_id, currency.as_deref(), status, &locale).await
            })
        }))
        .await
}

async fn write_player(
    txn: &DatabaseTransaction,
    player_id: &PlayerId,
    currency: Option<&str>,
    status: Option<PlayerStatus>,
    locale: &Locale,
) -> Result<player::Model, ServiceError> {
    let now = Utc::now();
    let existing = player::Entity::find_by_id(player_id.as_str())
        .lock_exclusive()
        .one(txn)
        .await?;
    let Some(existing) = existing else {
        // Without a currency this can only be an update, of a player that does not exist.
        let currency = currency.ok_or_else(|| {
            ApiError::new(
                ErrorCode::PlayerNotFound,
                format!("player {player_id} does not exist; send its currency to create it"),
            )
        })?;
        let created = player::ActiveModel {
            id: Set(player_id.as_str().to_owned()),
            currency: Set(currency.to_owned()),
            status: Set(status.unwrap_or(PlayerStatus::Active).as_str().to_owned()),
            balance_minor: Set(0),
            ledger_head: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            country: Set(locale.country.clone()),
            language: Set(locale.language.clone()),
            event_sequence: Set(0),
        };
        return Ok(player::Entity::insert(created)
            .exec_with_returning(txn)
            .await?);
    };
    if currency.is_some_and(|c| c != existing.currency) {
        return Err(ApiError::new(
            ErrorCode::CurrencyImmutable,
            format!(
                "the player's currency is {} and cannot change",
                existing.currency
            ),
        )
        .into());
    }
    let changed = |new: Option<&str>, old: Option<&str>| new.is_some() && new != old;
    let status_changes = status.is_some_and(|s| s.as_str() != existing.status);
    let country_changes = changed(locale.country.as_deref(), existing.country.as_deref());
    let language_changes = changed(locale.language.as_deref(), existing.language.as_deref());
    if !(status_changes || country_changes || language_changes) {
        return Ok(existing);
    }
    let updated = player::Model {
        status: status.map_or(existing.status.clone(), |s| s.as_str().to_owned()),
        country: locale.country.clone().or(existing.country.clone()),
        language: locale.language.clone().or(existing.language.clone()),
        updated_at: now,
        ..existing
    };
    player::Entity::update_many()
        .col_expr(player::Column::Status, Expr::value(updated.status.as_str()))
        .col_expr(
            player::Column::Country,
            Expr::value(updated.country.clone()),
        )
        .col_expr(
            player::Column::Language,
            Expr::value(updated.language.clone()),
        )
        .col_expr(player::Column::UpdatedAt, Expr::value(now))
        .filter(player::Column::Id.eq(player_id.as_str()))
        .exec(txn)
        .await?;
    Ok(updated)
}

/// Blocks or unblocks a player for a staff member, with the audit row in the same
/// transaction. `NOT_FOUND`-style refusal when the player does not exist.
pub async fn set_player_status(
    store: &Store,
    player_id: PlayerId,
    status: PlayerStatus,
    staff: crate::wallet::operations::StaffAction,
) -> Result<player::Model, ServiceError> {
    let player_id = Arc::new(player_id);
    let staff = Arc::new(staff);
    store
        .write(Box::new(move |txn| {
            let (player_id, staff) = (player_id.clone(), staff.clone());
            Box::pin(async move {
                let before = player::Entity::find_by_id(player_id.as_str())
                    .one(txn)
                    .await?
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::PlayerNotFound,
                            format!("no player {}", player_id.as_str()),
                        )
                    })?;
                let after =
                    write_player(txn, &player_id, None, Some(status), &Locale::default()).await?;
                let details = serde_json::json!({ "from": before.status, "to": after.status });
                crate::audit::record(
                    txn,
                    &staff.actor,
                    if status == PlayerStatus::Blocked {
                        "player.block"
                    } else {
                        "player.unblock"
                    },
                    "PLAYER",
                    player_id.as_str(),
                    &staff.reason,
                    details,
                    Utc::now(),
                )
                .await?;
                Ok(after)
            })
        }))
        .await
}

pub async fn find_player(
    store: &Store,
    player_id: &PlayerId,
) -> Result<player::Model, ServiceError> {
    let player = player::Entity::find_by_id(player_id.as_str())
        .one(store.reader())
        .await?;
    // Its balance only once durable (see `Store::settled`).
    store.settled().await;
    player.ok_or_else(|| {
        ApiError::new(
            ErrorCode::PlayerNotFound,
            format!("player {player_id} does not exist"),
        )
        .into()
    })
}

/// The staff member and reason of an operator action, validated.
pub fn staff_action(
    requested_by: Option<String>,
    reason: String,
) -> Result<crate::wallet::operations::StaffAction, ApiError> {
    let actor = requested_by.unwrap_or_else(|| "operator-api".to_owned());
    if actor.trim().is_empty() || actor.chars().count() > 128 {
        return Err(ApiError::malformed("requested_by: 1–128 characters"));
    }
    if reason.trim().is_empty() || reason.len() > 1024 {
        return Err(ApiError::malformed("reason: required, at most 1024 bytes"));
    }
    Ok(crate::wallet::operations::StaffAction { actor, reason })
}

/// A provider's bet, for staff actions; anything else is `404 REFERENCE_NOT_FOUND`.
pub async fn find_bet(
    store: &Store,
    provider_id: &ProviderId,
    bet_id: &crate::domain::TransactionId,
) -> Result<crate::db::entities::wallet_transaction::Model, ServiceError> {
    use crate::db::entities::wallet_transaction as wtx;
    wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(provider_id.as_str()))
        .filter(wtx::Column::TransactionId.eq(bet_id.as_str()))
        .filter(wtx::Column::Op.eq("BET"))
        .one(store.reader())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ReferenceNotFound,
                format!("no bet {bet_id} of provider {provider_id}"),
            )
            .into()
        })
}

/// The provider with this display name: how the PAM names a studio (docs/PAM.md). `None`
/// when no provider has it; an error when several do, since the PAM could not tell them
/// apart.
pub async fn provider_named(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<ProviderId>, ServiceError> {
    let ids: Vec<String> = provider::Entity::find()
        .select_only()
        .column(provider::Column::Id)
        .filter(provider::Column::Name.eq(name))
        .limit(2)
        .into_tuple()
        .all(db)
        .await?;
    match ids.as_slice() {
        [] => Ok(None),
        [id] => ProviderId::parse(id.clone())
            .map(Some)
            .map_err(|error| ServiceError::Bug(format!("provider id {id:?}: {error}"))),
        _ => Err(ApiError::malformed(format!(
            "several providers are named {name:?}: give each studio a name of its own"
        ))
        .into()),
    }
}
