//! Who is signed in, for admins: every active console session with its user, address,
//! start and last request, and ending one (docs/SECURITY.md, "Sessions").
//!
//! A session is named by a handle, a hash of its id: the id is the cookie's secret, and an
//! admin's page must not hand out the means to ride another person's session.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use app::model::Role;

use super::session::{ADDRESS_KEY, LOGIN_AT_KEY, SEEN_AT_KEY};
use super::session_store::USER_ID_KEY;
use super::users::{lock_admins_and_check, record, run, Actor, UserAdminError};
use crate::db::entities::{staff_session, staff_user};
use crate::db::Store;

/// Hex digits of a handle: 64 bits, unique among the few sessions a console has.
const HANDLE_HEX: usize = 16;

/// One signed-in session as the users page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    pub handle: String,
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// The client address at sign-in (`unknown` for sessions from before it was kept).
    pub address: String,
    pub started_at: Option<DateTime<Utc>>,
    /// To the minute: the session records a request at most once a minute.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When it ends without another request.
    pub expires_at: DateTime<Utc>,
}

/// The handle that names a session on the page and in the audit log.
pub fn handle_of(session_id: &str) -> String {
    let digest = Sha256::digest(session_id.as_bytes());
    hex::encode(digest)[..HANDLE_HEX].to_owned()
}

/// Every signed-in session that has not expired, most recent request first. Admins only.
pub async fn list_sessions<'a>(
    store: &Store,
    actor: impl Into<Actor<'a>>,
) -> Result<Vec<ActiveSession>, UserAdminError> {
    let db = store.reader();
    actor.into().require_admin(db).await?;
    let rows = staff_session::Entity::find()
        .filter(staff_session::Column::ExpiryDate.gt(Utc::now()))
        .filter(staff_session::Column::UserId.is_not_null())
        .all(db)
        .await?;
    let users: HashMap<i64, staff_user::Model> = staff_user::Entity::find()
        .filter(staff_user::Column::Id.is_in(rows.iter().filter_map(|row| row.user_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|user| (user.id, user))
        .collect();
    let mut sessions: Vec<ActiveSession> = rows
        .into_iter()
        .filter_map(|row| {
            let user = users.get(&row.user_id?)?;
            active_session(row, user)
        })
        .collect();
    sessions.sort_by(|a, b| (b.last_seen_at, &b.handle).cmp(&(a.last_seen_at, &a.handle)));
    Ok(sessions)
}

fn active_session(row: staff_session::Model, user: &staff_user::Model) -> Option<ActiveSession> {
    let data: Map<String, Value> = serde_json::from_str(&row.data).ok()?;
    let time = |key: &str| {
        data.get(key)
            .and_then(Value::as_i64)
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
    };
    // A row whose user id disagrees with its data is not a signed-in session.
    (data.get(USER_ID_KEY).and_then(Value::as_i64) == Some(user.id)).then(|| ActiveSession {
        handle: handle_of(&row.id),
        user_id: user.id,
        username: user.username.clone(),
        role: Role::parse(&user.role).unwrap_or(Role::Support),
        address: data
            .get(ADDRESS_KEY)
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned(),
        started_at: time(LOGIN_AT_KEY),
        last_seen_at: time(SEEN_AT_KEY),
        expires_at: row.expiry_date,
    })
}

/// Ends the session with this handle: its browser is signed out at its next request.
/// Admins only (an admin may end their own); audited as `staff.session_ended`.
pub async fn end_session<'a>(
    store: &Store,
    actor: impl Into<Actor<'a>>,
    handle: &str,
) -> Result<(), UserAdminError> {
    let actor = actor.into().key();
    let handle = handle.trim().to_ascii_lowercase();
    run(store, move |txn| {
        let (actor, handle) = (actor.clone(), handle.clone());
        Box::pin(async move {
            let actor = lock_admins_and_check(txn, &actor).await?;
            // A console has a handful of sessions: finding one by its handle reads them.
            let found = staff_session::Entity::find()
                .filter(staff_session::Column::UserId.is_not_null())
                .all(txn)
                .await?
                .into_iter()
                .find(|row| handle_of(&row.id) == handle)
                .ok_or_else(|| UserAdminError::UnknownSession(handle.clone()))?;
            staff_session::Entity::delete_by_id(found.id.clone())
                .exec(txn)
                .await?;
            let user_id = found.user_id.unwrap_or_default();
            let details = json!({ "session": handle });
            record(
                txn,
                &actor,
                "staff.session_ended",
                user_id,
                details,
                Utc::now(),
            )
            .await?;
            Ok(())
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_names_a_session_without_revealing_its_id() {
        let id = "p0XKqNlmU2F1Dt1cLk0aWg";
        let handle = handle_of(id);
        assert_eq!(handle.len(), HANDLE_HEX);
        assert!(!id.contains(&handle) && !handle.contains(id));
        assert_eq!(handle, handle_of(id));
        assert_ne!(handle, handle_of("another-session-id"));
    }
}
