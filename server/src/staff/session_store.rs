//! tower-sessions' storage over the application database, on SQLite and PostgreSQL alike.
//!
//! Reads use the reader connection; every write goes through [`Store::write`], because on
//! SQLite one writer task owns the only write connection.
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use crate::db::entities::staff_session;
use crate::db::Store;
use crate::error::ServiceError;

/// The signed-in user's id (`i64`) in a session's data; the store copies it into
/// `staff_sessions.user_id`, so that a user's sessions can be listed and ended.
pub const USER_ID_KEY: &str = "staff.user_id";

/// How often expired sessions are deleted. Expired rows are already ignored when loading,
/// so this only keeps the table small.
const CLEANUP_PERIOD: Duration = Duration::from_secs(10 * 60);
/// A fresh 128-bit id colliding is not expected once in the life of the universe; the
/// bound is there so that a bug cannot loop forever.
const MAX_CREATE_ATTEMPTS: u32 = 3;

/// Sessions as rows of `staff_sessions`.
#[derive(Clone)]
pub struct DbSessionStore {
    store: Store,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSessionStore")
            .field("engine", &self.store.engine())
            .finish()
    }
}

impl DbSessionStore {
    pub fn new(store: Store) -> DbSessionStore {
        DbSessionStore { store }
    }

    /// Deletes every session of one user: for a disabled user or a reset password. Runs
    /// inside the caller's transaction.
    pub async fn end_sessions_of(
        txn: &impl sea_orm::ConnectionTrait,
        user_id: i64,
    ) -> Result<u64, sea_orm::DbErr> {
        let result = staff_session::Entity::delete_many()
            .filter(staff_session::Column::UserId.eq(user_id))
            .exec(txn)
            .await?;
        Ok(result.rows_affected)
    }
}

/// Deletes expired sessions every [`CLEANUP_PERIOD`] for as long as the process runs.
pub fn spawn_cleanup(store: Store) {
    let sessions = DbSessionStore::new(store);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(CLEANUP_PERIOD);
        loop {
            interval.tick().await;
            if let Err(error) = sessions.delete_expired().await {
                tracing::warn!(%error, "deleting expired staff sessions failed");
            }
        }
    });
}

struct Row {
    id: String,
    data: String,
    expiry_date: DateTime<Utc>,
    user_id: Option<i64>,
}

impl Row {
    fn of(record: &Record) -> session_store::Result<Row> {
        Ok(Row {
            id: record.id.to_string(),
            data: serde_json::to_string(&record.data)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?,
            expiry_date: to_chrono(record.expiry_date),
            user_id: record
                .data
                .get(USER_ID_KEY)
                .and_then(serde_json::Value::as_i64),
        })
    }

    fn active_model(&self) -> staff_session::ActiveModel {
        staff_session::ActiveModel {
            id: Set(self.id.clone()),
            data: Set(self.data.clone()),
            expiry_date: Set(self.expiry_date),
            user_id: Set(self.user_id),
        }
    }
}

fn to_chrono(at: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn to_time(at: DateTime<Utc>) -> session_store::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(at.timestamp())
        .map(|t| {
            t + tower_sessions::cookie::time::Duration::nanoseconds(
                at.timestamp_subsec_nanos().into(),
            )
        })
        .map_err(|e| session_store::Error::Decode(e.to_string()))
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

impl DbSessionStore {
    /// Inserts the row unless its id exists; `true` when inserted.
    async fn insert_new(&self, row: Row) -> session_store::Result<bool> {
        let model = row.active_model();
        let inserted = self
            .store
            .write(Box::new(move |txn| {
                let model = model.clone();
                Box::pin(async move {
                    let rows = staff_session::Entity::insert(model)
                        .on_conflict(
                            OnConflict::column(staff_session::Column::Id)
                                .do_nothing()
                                .to_owned(),
                        )
                        .exec_without_returning(txn)
                        .await?;
                    Ok::<_, ServiceError>(rows == 1)
                })
            }))
            .await
            .map_err(backend)?;
        Ok(inserted)
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        for _ in 0..MAX_CREATE_ATTEMPTS {
            if self.insert_new(Row::of(record)?).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(backend("could not find an unused session id"))
    }

    /// Updates an existing session and never recreates one: a session deleted meanwhile
    /// (signed out in another tab, user disabled) stays deleted.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let row = Row::of(record)?;
        let id = row.id.clone();
        let mut changes = row.active_model();
        changes.id = NotSet;
        self.store
            .write(Box::new(move |txn| {
                let (id, changes) = (id.clone(), changes.clone());
                Box::pin(async move {
                    staff_session::Entity::update_many()
                        .set(changes)
                        .filter(staff_session::Column::Id.eq(id))
                        .exec(txn)
                        .await?;
                    Ok::<_, ServiceError>(())
                })
            }))
            .await
            .map_err(backend)
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let found = staff_session::Entity::find_by_id(session_id.to_string())
            .filter(staff_session::Column::ExpiryDate.gt(Utc::now()))
            .one(self.store.reader())
            .await
            .map_err(backend)?;
        let Some(row) = found else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *session_id,
            data: serde_json::from_str(&row.data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: to_time(row.expiry_date)?,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let id = session_id.to_string();
        self.store
            .write(Box::new(move |txn| {
                let id = id.clone();
                Box::pin(async move {
                    staff_session::Entity::delete_by_id(id).exec(txn).await?;
                    Ok::<_, ServiceError>(())
                })
            }))
            .await
            .map_err(backend)
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let deleted = self
            .store
            .write(Box::new(|txn| {
                Box::pin(async move {
                    let result = staff_session::Entity::delete_many()
                        .filter(staff_session::Column::ExpiryDate.lte(Utc::now()))
                        .exec(txn)
                        .await?;
                    Ok::<_, ServiceError>(result.rows_affected)
                })
            }))
            .await
            .map_err(backend)?;
        if deleted > 0 {
            tracing::debug!(deleted, "deleted expired staff sessions");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_dates_survive_the_round_trip_through_chrono() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_123_456_789).unwrap();
        assert_eq!(to_time(to_chrono(at)).unwrap(), at);
    }
}
