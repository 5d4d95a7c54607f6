//! The provider keys the signature check needs, cached in memory on SQLite. Every wallet
//! request needs its key's secret before anything else; read from the database each time
//! it is one more query per request (on a replay, half of its database work).
//!
//! Only on SQLite: there one server process owns the file, every key change goes through
//! its operator API, and that clears the cache when it commits, so a removed key stops
//! working at once as the contract says. On PostgreSQL several processes share the
//! database and a key replaced through one of them must stop working on all of them at
//! once, so every request reads its key (see docs/PERFORMANCE.md).
//!
//! A cached key is also re-read after [`KEY_TTL`] (a key table restored from a backup
//! beside the running process). Unknown key ids are cached too (a flood of made-up ids
//! costs one query per id and second), and the cache holds at most [`MAX_KEYS`] ids.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbErr, EntityTrait};

use crate::db::entities::provider_key;
use crate::db::Engine;

/// How long a cached key (or its absence) is believed.
pub const KEY_TTL: Duration = Duration::from_secs(1);
/// Key ids held at most; past this the cache starts over.
pub const MAX_KEYS: usize = 10_000;

#[derive(Clone)]
pub struct KeyCache {
    /// `None`: every lookup reads the database (PostgreSQL).
    inner: Option<Arc<Mutex<Inner>>>,
}

#[derive(Default)]
struct Inner {
    keys: HashMap<String, (Instant, Option<provider_key::Model>)>,
    /// Bumped by every clear: a read that began before a clear must not put back what
    /// the clear removed.
    generation: u64,
}

impl KeyCache {
    /// A cache for a database only this process writes keys to (SQLite), or a
    /// pass-through.
    pub fn for_engine(engine: Engine) -> KeyCache {
        KeyCache {
            inner: (engine == Engine::Sqlite).then(Arc::default),
        }
    }

    /// The key, from the cache or the database.
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        key_id: &str,
    ) -> Result<Option<provider_key::Model>, DbErr> {
        let Some(cache) = &self.inner else {
            return provider_key::Entity::find_by_id(key_id).one(db).await;
        };
        let generation = {
            let inner = lock(cache);
            if let Some((fetched, key)) = inner.keys.get(key_id) {
                if fetched.elapsed() < KEY_TTL {
                    return Ok(key.clone());
                }
            }
            inner.generation
        };
        let key = provider_key::Entity::find_by_id(key_id).one(db).await?;
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
        if let Some(cache) = &self.inner {
            let mut inner = lock(cache);
            inner.keys.clear();
            inner.generation += 1;
        }
    }
}

fn lock(cache: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Nothing is left half-done under this lock: a poisoned one is still valid.
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
