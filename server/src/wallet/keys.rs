//! The provider keys the signature check needs, cached in memory. Every wallet request
//! needs its key's secret before anything else; read from the database each time it is
//! one more query per request (on a replay, half of its database work).
//!
//! On SQLite one server process owns the file, every key change goes through its
//! operator API, and that clears the cache when it commits, so a removed key stops
//! working at once as the contract says. On PostgreSQL several processes share the
//! database, and a key replaced through one of them must stop working on all of them at
//! once: there a money operation uses the cached key and has it confirmed by its own
//! first read (`money::SigningKey`), and every other request reads its key
//! ([`KeyUse`]; docs/PERFORMANCE.md).
//!
//! A cached key is also re-read after [`KEY_TTL`] (a key table restored from a backup
//! beside the running process). Unknown key ids are cached too (a flood of made-up ids
//! costs one query per id and second), and the cache holds at most [`MAX_KEYS`] ids.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};

use crate::db::entities::provider_key;
use crate::db::{Engine, Store};

/// How long a cached key (or its absence) is believed.
pub const KEY_TTL: Duration = Duration::from_secs(1);
/// Key ids held at most; past this the cache starts over.
pub const MAX_KEYS: usize = 10_000;
/// How often the keys' last uses are written.
pub const USAGE_WRITE_EVERY: Duration = Duration::from_secs(10);

/// How sure a lookup must be that the key still stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Nothing later in the request looks at the key again.
    Final,
    /// The request's money operation confirms the key in its first read
    /// (`money::SigningKey`): a cached copy will do.
    ConfirmedLater,
}

#[derive(Clone)]
pub struct KeyCache {
    inner: Arc<Mutex<Inner>>,
    /// Other processes change keys too (PostgreSQL): only a lookup whose key is
    /// confirmed later may use the cache.
    shared: bool,
    /// When each key last signed a request that verified, not yet written to
    /// `provider_keys.last_used_at` ([`spawn_usage_writer`]).
    used: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
}

#[derive(Default)]
struct Inner {
    keys: HashMap<String, (Instant, Option<provider_key::Model>)>,
    /// Bumped by every clear: a read that began before a clear must not put back what
    /// the clear removed.
    generation: u64,
}

impl KeyCache {
    /// A cache for the engine's database: PostgreSQL's keys are shared with other
    /// processes.
    pub fn for_engine(engine: Engine) -> KeyCache {
        KeyCache {
            inner: Arc::default(),
            shared: engine == Engine::Postgres,
            used: Arc::default(),
        }
    }

    /// Whether a key got for `key_use` may come from the cache unconfirmed, so that the
    /// request's own read must confirm it (a money operation on PostgreSQL).
    pub fn needs_confirmation(&self, key_use: KeyUse) -> bool {
        self.shared && key_use == KeyUse::ConfirmedLater
    }

    /// The key, from the cache or the database.
    pub async fn get(
        &self,
        store: &Store,
        key_id: &str,
        key_use: KeyUse,
    ) -> Result<Option<provider_key::Model>, DbErr> {
        if self.shared && key_use == KeyUse::Final {
            return read_key(store, key_id).await;
        }
        let cache = &self.inner;
        let generation = {
            let inner = lock(cache);
            if let Some((fetched, key)) = inner.keys.get(key_id) {
                if fetched.elapsed() < KEY_TTL {
                    return Ok(key.clone());
                }
            }
            inner.generation
        };
        let key = read_key(store, key_id).await?;
        let mut inner = lock(cache);
        if inner.generation == generation {
            if inner.keys.len() >= MAX_KEYS {
                inner.keys.clear();
            }
            inner
                .keys
                .insert(key_id.to_owned(), (Instant::now(), key.clone()));
        }
        Ok(key)
    }

    /// Forgets every key: call after the key set changed.
    pub fn clear(&self) {
        let mut inner = lock(&self.inner);
        inner.keys.clear();
        inner.generation += 1;
    }
}

impl KeyCache {
    /// Notes that `key_id` just signed a request that verified. A map insert under a
    /// lock held for nanoseconds: the request path never waits for the database here.
    pub fn record_use(&self, key_id: &str) {
        let now = Utc::now();
        let mut used = lock_any(&self.used);
        if let Some(at) = used.get_mut(key_id) {
            *at = now;
        } else if used.len() < MAX_KEYS {
            used.insert(key_id.to_owned(), now);
        }
    }

    /// The uses not yet written, for a listing that must be current.
    pub fn pending_use(&self, key_id: &str) -> Option<DateTime<Utc>> {
        lock_any(&self.used).get(key_id).copied()
    }

    fn take_uses(&self) -> HashMap<String, DateTime<Utc>> {
        std::mem::take(&mut *lock_any(&self.used))
    }
}

/// Writes the keys' last uses to `provider_keys.last_used_at` every [`USAGE_WRITE_EVERY`],
/// one short transaction for all of them; a later time never goes back (several
/// processes may write the same key).
pub fn spawn_usage_writer(store: Store, keys: KeyCache) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(USAGE_WRITE_EVERY);
        loop {
            interval.tick().await;
            let uses = keys.take_uses();
            if uses.is_empty() {
                continue;
            }
            let uses = Arc::new(uses);
            let written = store
                .write(Box::new(move |txn| {
                    let uses = uses.clone();
                    Box::pin(async move {
                        for (key_id, at) in uses.iter() {
                            provider_key::Entity::update_many()
                                .col_expr(provider_key::Column::LastUsedAt, (*at).into())
                                .filter(provider_key::Column::KeyId.eq(key_id.as_str()))
                                .filter(
                                    sea_orm::Condition::any()
                                        .add(provider_key::Column::LastUsedAt.is_null())
                                        .add(provider_key::Column::LastUsedAt.lt(*at)),
                                )
                                .exec(txn)
                                .await?;
                        }
                        Ok::<_, crate::error::ServiceError>(())
                    })
                }))
                .await;
            if let Err(error) = written {
                tracing::warn!(%error, "writing the keys' last use failed; the next write carries on");
            }
        }
    });
}

/// One key from the database: on PostgreSQL on the per-request reads' own connections
/// (`db::PgReads`), one round trip.
async fn read_key(store: &Store, key_id: &str) -> Result<Option<provider_key::Model>, DbErr> {
    let Some(reads) = store.pg_reads() else {
        return provider_key::Entity::find_by_id(key_id)
            .one(store.reader())
            .await;
    };
    use sqlx::Row;
    let row = reads
        .fetch_optional(
            "SELECT key_id, provider_id, secret, created_at, last_used_at \
             FROM provider_keys WHERE key_id = $1",
            &[key_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let column = |name| row.try_get(name).map_err(crate::db::query_error);
    Ok(Some(provider_key::Model {
        key_id: column("key_id")?,
        provider_id: column("provider_id")?,
        secret: column("secret")?,
        created_at: row.try_get("created_at").map_err(crate::db::query_error)?,
        last_used_at: row
            .try_get("last_used_at")
            .map_err(crate::db::query_error)?,
    }))
}

fn lock_any<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock(cache: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Nothing is left half-done under this lock: a poisoned one is still valid.
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
