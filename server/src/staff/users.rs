//! Staff users: the first admin, and what an admin may do to users.
//!
//! Every change runs in one transaction with its `staff_audit` row, after checking inside
//! that transaction that the actor is still an enabled admin. The enabled admins' rows are
//! locked first (PostgreSQL; SQLite has one writer anyway), so two admins disabling each
//! other at the same moment cannot leave the console without an admin.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::json;

use app::model::{Role, Viewer};

use super::password::{self, generate_password, Password, PasswordError};
use super::session_store::DbSessionStore;
use crate::audit;
use crate::db::entities::staff_user;
use crate::db::Store;
use crate::error::ServiceError;

/// The username of the admin created at first start.
pub const FIRST_ADMIN: &str = "admin";
const USERNAME_CHARS: std::ops::RangeInclusive<usize> = 3..=64;
/// `staff_audit.subject_type` of user actions.
const SUBJECT: &str = "staff_user";

/// A staff user as the users page shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Set by a reset: the user must choose a new password before anything else.
    pub must_change_password: bool,
}

/// Who manages users: an admin signed in to the console, or whoever runs `server users` on
/// a machine that can write the database (and so could change it anyway). The command
/// line needs no admin, which is how a lost admin password is recovered.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Admin(&'a Viewer),
    /// The name the audit log records, e.g. `command line (root)`.
    CommandLine(&'a str),
}

impl<'a> From<&'a Viewer> for Actor<'a> {
    fn from(viewer: &'a Viewer) -> Actor<'a> {
        Actor::Admin(viewer)
    }
}

/// An [`Actor`] that units of work (which may run twice) can own.
#[derive(Debug, Clone)]
pub(super) enum ActorKey {
    Admin(i64),
    CommandLine(String),
}

impl Actor<'_> {
    pub(super) fn key(self) -> ActorKey {
        match self {
            Actor::Admin(viewer) => ActorKey::Admin(viewer.user_id),
            Actor::CommandLine(name) => ActorKey::CommandLine(name.to_owned()),
        }
    }

    /// Refuses an admin who is no longer one; the command line may always.
    pub(super) async fn require_admin(
        self,
        db: &impl ConnectionTrait,
    ) -> Result<(), UserAdminError> {
        match self {
            Actor::Admin(viewer) => require_admin(db, viewer.user_id).await,
            Actor::CommandLine(_) => Ok(()),
        }
    }
}

/// Why a user-admin action was refused. Only `Unavailable` is the server's fault.
#[derive(Debug, thiserror::Error)]
pub enum UserAdminError {
    /// The actor is not an enabled admin (any more): only admins manage users.
    #[error("only an admin can manage staff users")]
    Forbidden,
    /// No user has this id.
    #[error("no staff user has id {0}")]
    NotFound(i64),
    /// No user has this name.
    #[error("no staff user is called {0:?}")]
    UnknownUsername(String),
    /// The username is not 3–64 characters of `a-z 0-9 . _ -`.
    #[error("a username is 3 to 64 characters: lower-case letters, digits, '.', '_' or '-'")]
    InvalidUsername,
    /// Another user has this name (the unique index said so).
    #[error("the username {0:?} is taken")]
    UsernameTaken(String),
    /// The new password does not meet the policy.
    #[error(transparent)]
    WeakPassword(#[from] PasswordError),
    /// The change would leave no enabled admin, and nobody could manage users any more.
    #[error("this is the last enabled admin; make another user admin first")]
    LastAdmin,
    /// An admin disabling their own account would lock themselves out by mistake.
    #[error("you cannot disable your own account")]
    SelfDisable,
    /// The current password given to change one's own was wrong.
    #[error("the current password is not right")]
    WrongPassword,
    /// The new password is the current one.
    #[error("the new password must differ from the current one")]
    SamePassword,
    /// No signed-in session has this handle (it may have ended meanwhile).
    #[error("no signed-in session is {0:?}; it may have ended already")]
    UnknownSession(String),
    /// The database failed; nothing was changed.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
}

impl From<DbErr> for UserAdminError {
    fn from(error: DbErr) -> UserAdminError {
        UserAdminError::Unavailable(error.into())
    }
}

impl From<ServiceError> for UserAdminError {
    fn from(error: ServiceError) -> UserAdminError {
        UserAdminError::Unavailable(error.into())
    }
}

/// Trims and lower-cases a username as typed, for lookups and rate limiting.
pub fn normalize_username(text: &str) -> String {
    text.trim().to_lowercase()
}

/// A valid, normalized username.
pub fn parse_username(text: &str) -> Result<String, UserAdminError> {
    let name = normalize_username(text);
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if USERNAME_CHARS.contains(&name.len()) && name.chars().all(allowed) {
        Ok(name)
    } else {
        Err(UserAdminError::InvalidUsername)
    }
}

fn view(row: staff_user::Model) -> Result<StaffUser, UserAdminError> {
    let role = Role::parse(&row.role).ok_or_else(|| {
        UserAdminError::Unavailable(anyhow::anyhow!(
            "user {} has unknown role {:?}",
            row.id,
            row.role
        ))
    })?;
    Ok(StaffUser {
        id: row.id,
        username: row.username,
        role,
        disabled: row.disabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_login_at: row.last_login_at,
        must_change_password: row.must_change_password,
    })
}

/// The id of the user called `username` (as typed: trimmed, any case).
pub async fn user_id(store: &Store, username: &str) -> Result<i64, UserAdminError> {
    let name = normalize_username(username);
    staff_user::Entity::find()
        .filter(staff_user::Column::Username.eq(name.as_str()))
        .one(store.reader())
        .await?
        .map(|row| row.id)
        .ok_or(UserAdminError::UnknownUsername(name))
}

/// The signed-in identity of an enabled user, or `None` for a missing or disabled one.
pub async fn load_viewer(store: &Store, user_id: i64) -> Result<Option<Viewer>, DbErr> {
    let row = staff_user::Entity::find_by_id(user_id)
        .filter(staff_user::Column::Disabled.eq(false))
        .one(store.reader())
        .await?;
    Ok(row.and_then(|row| {
        Some(Viewer {
            role: Role::parse(&row.role)?,
            user_id: row.id,
            username: row.username,
            must_change_password: row.must_change_password,
            mfa_enrolled: row.totp_secret.is_some(),
            must_enroll_mfa: false,
            mfa_at: None,
        })
    }))
}

/// Every staff user, by name. Admins only.
pub async fn list_users<'a>(
    store: &Store,
    actor: impl Into<Actor<'a>>,
) -> Result<Vec<StaffUser>, UserAdminError> {
    actor.into().require_admin(store.reader()).await?;
    staff_user::Entity::find()
        .order_by_asc(staff_user::Column::Username)
        .all(store.reader())
        .await?
        .into_iter()
        .map(view)
        .collect()
}

/// Creates an enabled user. Admins only; audited as `staff.user_created`.
pub async fn create_user<'a>(
    store: &Store,
    actor: impl Into<Actor<'a>>,
    username: &str,
    password: String,
    role: Role,
) -> Result<StaffUser, UserAdminError> {
    let username = parse_username(username)?;
    let password = Password::parse(password)?;
    let actor = actor.into();
    // Checked before hashing too, so that nobody else can make the server hash.
    actor.require_admin(store.reader()).await?;
    let phc = password::hash(&password)
        .await
        .map_err(UserAdminError::Unavailable)?;
    let actor = actor.key();
    run(store, move |txn| {
        let (username, phc, actor) = (username.clone(), phc.clone(), actor.clone());
        Box::pin(async move {
            let actor = lock_admins_and_check(txn, &actor).await?;
            let now = Utc::now();
            let inserted = staff_user::Entity::insert(new_user(&username, phc, role, now))
                .on_conflict(
                    OnConflict::column(staff_user::Column::Username)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
            if inserted == 0 {
                return Err(UserAdminError::UsernameTaken(username));
            }
            let user = find_by_name(txn, &username).await?;
            let details = json!({ "username": username, "role": role.as_str() });
            record(txn, &actor, "staff.user_created", user.id, details, now).await?;
            view(user)
        })
    })
    .await
}

/// Changes a user's role. Admins only; refuses demoting the last enabled admin; ends the
/// user's sessions, so the new role starts with a new sign-in; audited as
/// `staff.role_changed`.
pub async fn set_role<'a>(
    store: &Store,
    actor: impl Into<Actor<'a>>,
    user_id: i64,
    role: Role,
) -> Result<StaffUser, UserAdminError> {
    let actor = actor.into().key();
    run(store, move |txn| {
        let actor = actor.clone();
        Box::pin(async move {
            let admins = lock_enabled_admins(txn).await?;
            let actor = check_actor(&admins, &actor)?;
            let user = find(txn, user_id).await?;
            if user.role == role.as_str() {
                return view(user);
            }
            if is_last_enabled_admin(&admins, &user) {
                return Err(UserAdminError::LastAdmin);
            }
            let now = Utc::now();
            let from = user.role.clone();
            let user = update(
                txn,
                user,
                |row| row.role = Set(role.as_str().to_owned()),
                now,
            )
            .await?;
            // Whoever holds the user's sessions signs in again under the new role.
            let sessions_ended = DbSessionStore::end_sessions_of(txn, user_id).await?;
            let details = json!({
                "from": from,
                "to": role.as_str(),
                "sessions_ended": sessions_ended,
            });
            record(txn, &actor, "staff.role_changed", user_id, details, now).await?;
            view(user)
        })
    })
    .await
}

/// Disables or re-enables a user. Admins only; refuses disabling oneself or the last
/// enabled admin. Disabling ends all of the user's sessions. Audited as
/// `staff.user_disabled` / `staff.user_enabled`.
pub async fn set_disabled<'a>(
    store: &Store,
    actor: impl Into<Actor<'a>>,
    user_id: i64,
    disabled: bool,
) -> Result<StaffUser, UserAdminError> {
    let actor = actor.into().key();
    run(store, move |txn| {
        let actor = actor.clone();
        Box::pin(async move {
            let admins = lock_enabled_admins(txn).await?;
            let actor = check_actor(&admins, &actor)?;
            let user = find(txn, user_id).await?;
            if user.disabled == disabled {
                return view(user);
            }
            if disabled && actor.user_id == Some(user.id) {
                return Err(UserAdminError::SelfDisable);
            }
            if disabled && is_last_enabled_admin(&admins, &user) {
                return Err(UserAdminError::LastAdmin);
            }
            let now = Utc::now();
            let user = update(txn, user, |row| row.disabled = Set(disabled), now).await?;
            let sessions_ended = if disabled {
                DbSessionStore::end_sessions_of(txn, user_id).await?
            } else {
                0
            };
            let action = if disabled {
                "staff.user_disabled"
            } else {
                "staff.user_enabled"
            };
            let details = json!({ "sessions_ended": sessions_ended });
            record(txn, &actor, action, user_id, details, now).await?;
            view(user)
        })
    })
    .await
}

/// Sets a new password and ends all of the user's sessions; with `must_change` the user
/// must choose their own password at the next sign-in. Admins and the command line only;
/// audited as `staff.password_reset` (without the password).
pub async fn reset_password<'a>(
    store: &Store,
    actor: impl Into<Actor<'a>>,
    user_id: i64,
    password: String,
    must_change: bool,
) -> Result<StaffUser, UserAdminError> {
    let password = Password::parse(password)?;
    let actor = actor.into();
    actor.require_admin(store.reader()).await?;
    let phc = password::hash(&password)
        .await
        .map_err(UserAdminError::Unavailable)?;
    let actor = actor.key();
    run(store, move |txn| {
        let (phc, actor) = (phc.clone(), actor.clone());
        Box::pin(async move {
            let actor = lock_admins_and_check(txn, &actor).await?;
            let user = find(txn, user_id).await?;
            let now = Utc::now();
            let user = update(
                txn,
                user,
                |row| {
                    row.password_hash = Set(phc);
                    row.must_change_password = Set(must_change);
                },
                now,
            )
            .await?;
            let sessions_ended = DbSessionStore::end_sessions_of(txn, user_id).await?;
            let details = json!({
                "sessions_ended": sessions_ended,
                "must_change_password": must_change,
            });
            record(txn, &actor, "staff.password_reset", user_id, details, now).await?;
            view(user)
        })
    })
    .await
}

/// A signed-in user chooses a new password: `current` must be right and `new` must meet
/// the policy and differ from it. Clears the must-change mark and ends all of the user's
/// sessions, this one too (a stolen session does not outlive the change; the user signs
/// in again with the new password); audited as `staff.password_changed`.
pub async fn change_own_password(
    store: &Store,
    viewer: &Viewer,
    current: &str,
    new: String,
) -> Result<(), UserAdminError> {
    let row = staff_user::Entity::find_by_id(viewer.user_id)
        .filter(staff_user::Column::Disabled.eq(false))
        .one(store.reader())
        .await?
        .ok_or(UserAdminError::Forbidden)?;
    if !password::verify(current, &row.password_hash)
        .await
        .map_err(UserAdminError::Unavailable)?
    {
        return Err(UserAdminError::WrongPassword);
    }
    if current == new {
        return Err(UserAdminError::SamePassword);
    }
    let phc = password::hash(&Password::parse(new)?)
        .await
        .map_err(UserAdminError::Unavailable)?;
    let (user_id, username, verified) =
        (viewer.user_id, viewer.username.clone(), row.password_hash);
    run(store, move |txn| {
        let (phc, username, verified) = (phc.clone(), username.clone(), verified.clone());
        Box::pin(async move {
            // Locked, and checked again: a reset or a disable that landed since the check
            // above wins, rather than being overwritten.
            let user = staff_user::Entity::find_by_id(user_id)
                .lock_exclusive()
                .one(txn)
                .await?
                .ok_or(UserAdminError::Forbidden)?;
            if user.disabled {
                return Err(UserAdminError::Forbidden);
            }
            if user.password_hash != verified {
                return Err(UserAdminError::WrongPassword);
            }
            let now = Utc::now();
            update(
                txn,
                user,
                |row| {
                    row.password_hash = Set(phc);
                    row.must_change_password = Set(false);
                },
                now,
            )
            .await?;
            let sessions_ended = DbSessionStore::end_sessions_of(txn, user_id).await?;
            let actor = Checked {
                name: username,
                user_id: Some(user_id),
            };
            let details = json!({ "sessions_ended": sessions_ended });
            record(txn, &actor, "staff.password_changed", user_id, details, now).await?;
            Ok(())
        })
    })
    .await
}

/// At start-up: when no enabled admin exists, creates `admin` with `password`, or with a
/// generated password that is returned so that start-up can print it once. `Ok(None)` when
/// an admin exists (the password is then ignored: it only seeds an empty console).
pub async fn ensure_first_admin(
    store: &Store,
    password: Option<String>,
) -> anyhow::Result<Option<String>> {
    if has_enabled_admin(store.reader()).await? {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(text) => (
            Password::parse(text).map_err(|e| anyhow::anyhow!("WALLET_ADMIN_PASSWORD: {e}"))?,
            false,
        ),
        None => (
            Password::parse(generate_password()).expect("generated passwords meet the policy"),
            true,
        ),
    };
    let phc = password::hash(&password).await?;
    let created = store
        .write(Box::new(move |txn| {
            let phc = phc.clone();
            Box::pin(async move { create_first_admin(txn, phc).await })
        }))
        .await?;
    match created {
        FirstAdmin::Created if generated => Ok(Some(password.expose().to_owned())),
        FirstAdmin::Created | FirstAdmin::Exists => Ok(None),
        FirstAdmin::NameTaken => anyhow::bail!(
            "no enabled admin exists, and the username {FIRST_ADMIN:?} belongs to a user who \
             is not an enabled admin; make that user an admin in the database"
        ),
    }
}

enum FirstAdmin {
    Created,
    /// Another process created one meanwhile.
    Exists,
    NameTaken,
}

async fn create_first_admin(
    txn: &DatabaseTransaction,
    phc: String,
) -> Result<FirstAdmin, ServiceError> {
    if has_enabled_admin(txn).await? {
        return Ok(FirstAdmin::Exists);
    }
    let now = Utc::now();
    let inserted = staff_user::Entity::insert(new_user(FIRST_ADMIN, phc, Role::Admin, now))
        .on_conflict(
            OnConflict::column(staff_user::Column::Username)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if inserted == 0 {
        // Several processes starting at once on PostgreSQL: our insert waited for another
        // process's admin to commit. Each statement sees what committed before it, so a
        // second look finds that admin; only a name held by a non-admin is a problem.
        if has_enabled_admin(txn).await? {
            return Ok(FirstAdmin::Exists);
        }
        return Ok(FirstAdmin::NameTaken);
    }
    let user = find_by_name(txn, FIRST_ADMIN).await?;
    audit::record(
        txn,
        "system",
        "staff.user_created",
        SUBJECT,
        &user.id.to_string(),
        "first start: no admin existed",
        json!({ "username": FIRST_ADMIN, "role": Role::Admin.as_str() }),
        now,
    )
    .await?;
    Ok(FirstAdmin::Created)
}

/// Runs a user-admin unit of work in one transaction. A refusal is returned as a value
/// (committing nothing, since every check comes before the first write); a database error
/// propagates so that PostgreSQL can retry the whole unit.
pub(super) async fn run<T, F>(store: &Store, work: F) -> Result<T, UserAdminError>
where
    T: Send + 'static,
    F: for<'c> Fn(
            &'c DatabaseTransaction,
        ) -> futures::future::BoxFuture<'c, Result<T, UserAdminError>>
        + Send
        + Sync
        + 'static,
{
    store
        .write(Box::new(move |txn| {
            let attempt = work(txn);
            Box::pin(async move {
                match attempt.await {
                    Ok(value) => Ok(Ok(value)),
                    Err(UserAdminError::Unavailable(error)) => Err(into_service_error(error)),
                    Err(refusal) => Ok(Err(refusal)),
                }
            })
        }))
        .await?
}

/// Gives a database error back its type, so the writer sees (and retries) what it is.
fn into_service_error(error: anyhow::Error) -> ServiceError {
    match error.downcast::<ServiceError>() {
        Ok(service) => service,
        Err(error) => match error.downcast::<DbErr>() {
            Ok(db) => ServiceError::Db(db),
            Err(other) => ServiceError::Db(DbErr::Custom(other.to_string())),
        },
    }
}

async fn has_enabled_admin(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(staff_user::Entity::find()
        .filter(staff_user::Column::Role.eq(Role::Admin.as_str()))
        .filter(staff_user::Column::Disabled.eq(false))
        .one(db)
        .await?
        .is_some())
}

async fn require_admin(db: &impl ConnectionTrait, actor_id: i64) -> Result<(), UserAdminError> {
    let actor = staff_user::Entity::find_by_id(actor_id).one(db).await?;
    match actor {
        Some(actor) if !actor.disabled && actor.role == Role::Admin.as_str() => Ok(()),
        _ => Err(UserAdminError::Forbidden),
    }
}

/// The enabled admins, locked for the rest of the transaction on PostgreSQL.
async fn lock_enabled_admins(txn: &DatabaseTransaction) -> Result<Vec<staff_user::Model>, DbErr> {
    staff_user::Entity::find()
        .filter(staff_user::Column::Role.eq(Role::Admin.as_str()))
        .filter(staff_user::Column::Disabled.eq(false))
        .order_by_asc(staff_user::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await
}

/// The actor as the audit log names it, after checking that an admin still is one.
pub(super) struct Checked {
    pub(super) name: String,
    /// `None` for the command line.
    pub(super) user_id: Option<i64>,
}

fn check_actor(admins: &[staff_user::Model], actor: &ActorKey) -> Result<Checked, UserAdminError> {
    match actor {
        ActorKey::Admin(actor_id) => admins
            .iter()
            .find(|admin| admin.id == *actor_id)
            .map(|admin| Checked {
                name: admin.username.clone(),
                user_id: Some(admin.id),
            })
            .ok_or(UserAdminError::Forbidden),
        ActorKey::CommandLine(name) => Ok(Checked {
            name: name.clone(),
            user_id: None,
        }),
    }
}

pub(super) async fn lock_admins_and_check(
    txn: &DatabaseTransaction,
    actor: &ActorKey,
) -> Result<Checked, UserAdminError> {
    let admins = lock_enabled_admins(txn).await?;
    check_actor(&admins, actor)
}

fn is_last_enabled_admin(admins: &[staff_user::Model], user: &staff_user::Model) -> bool {
    admins.len() == 1 && admins[0].id == user.id
}

async fn find(
    txn: &DatabaseTransaction,
    user_id: i64,
) -> Result<staff_user::Model, UserAdminError> {
    staff_user::Entity::find_by_id(user_id)
        .one(txn)
        .await?
        .ok_or(UserAdminError::NotFound(user_id))
}

async fn find_by_name(
    txn: &DatabaseTransaction,
    username: &str,
) -> Result<staff_user::Model, DbErr> {
    staff_user::Entity::find()
        .filter(staff_user::Column::Username.eq(username))
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("staff user {username} just inserted")))
}

fn new_user(
    username: &str,
    phc: String,
    role: Role,
    now: DateTime<Utc>,
) -> staff_user::ActiveModel {
    staff_user::ActiveModel {
        username: Set(username.to_owned()),
        password_hash: Set(phc),
        role: Set(role.as_str().to_owned()),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        must_change_password: Set(false),
        ..Default::default()
    }
}

async fn update(
    txn: &DatabaseTransaction,
    user: staff_user::Model,
    change: impl FnOnce(&mut staff_user::ActiveModel),
    now: DateTime<Utc>,
) -> Result<staff_user::Model, DbErr> {
    let mut row: staff_user::ActiveModel = user.into();
    change(&mut row);
    row.updated_at = Set(now);
    staff_user::Entity::update(row).exec(txn).await
}

pub(super) async fn record(
    txn: &DatabaseTransaction,
    actor: &Checked,
    action: &str,
    user_id: i64,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit::record(
        txn,
        &actor.name,
        action,
        SUBJECT,
        &user_id.to_string(),
        "",
        details,
        now,
    )
    .await
    .map_err(|error| match error {
        ServiceError::Db(db) => db,
        other => DbErr::Custom(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalized_and_restricted() {
        assert_eq!(parse_username("  Alice.Ops ").unwrap(), "alice.ops");
        assert!(parse_username("al").is_err());
        assert!(parse_username("alice smith").is_err());
        assert!(parse_username("<script>").is_err());
        assert!(parse_username(&"a".repeat(65)).is_err());
    }
}
