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

use super::password::{self, Password, PasswordError};
use super::session_store::DbSessionStore;
use crate::audit;
use crate::db::entities::staff_user;
use crate::db::Store;
use crate::error::ServiceError;

/// The username of the admin created at first start.
pub const FIRST_ADMIN: &str = "admin";
/// How many characters a generated password has.
pub const GENERATED_PASSWORD_CHARS: usize = 20;
/// No letters or digits that read alike (0/O, 1/l/I).
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
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

/// A random password of [`GENERATED_PASSWORD_CHARS`] characters (about 117 bits).
pub fn generate_password() -> String {
    use rand::seq::SliceRandom;
    let mut rng = rand::thread_rng();
    (0..GENERATED_PASSWORD_CHARS)
        .map(|_| {
            char::from(
                *PASSWORD_ALPHABET
                    .choose(&mut rng)
                    .expect("non-empty alphabet"),
            )
        })
        .collect()
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
    })
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
        })
    }))
}

/// Every staff user, by name. Admins only.
pub async fn list_users(store: &Store, actor: &Viewer) -> Result<Vec<StaffUser>, UserAdminError> {
    require_admin(store.reader(), actor.user_id).await?;
    staff_user::Entity::find()
        .order_by_asc(staff_user::Column::Username)
        .all(store.reader())
        .await?
        .into_iter()
        .map(view)
        .collect()
}

/// Creates an enabled user. Admins only; audited as `staff.user_created`.
pub async fn create_user(
    store: &Store,
    actor: &Viewer,
    username: &str,
    password: String,
    role: Role,
) -> Result<StaffUser, UserAdminError> {
    let username = parse_username(username)?;
    let password = Password::parse(password)?;
    // Checked before hashing too, so that nobody else can make the server hash.
    require_admin(store.reader(), actor.user_id).await?;
    let phc = password::hash(&password)
        .await
        .map_err(UserAdminError::Unavailable)?;
    let actor_id = actor.user_id;
    run(store, move |txn| {
        let (username, phc) = (username.clone(), phc.clone());
        Box::pin(async move {
            let actor = lock_admins_and_check(txn, actor_id).await?;
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

/// Changes a user's role. Admins only; refuses demoting the last enabled admin; audited as
/// `staff.role_changed`.
pub async fn set_role(
    store: &Store,
    actor: &Viewer,
    user_id: i64,
    role: Role,
) -> Result<StaffUser, UserAdminError> {
    let actor_id = actor.user_id;
    run(store, move |txn| {
        Box::pin(async move {
            let admins = lock_enabled_admins(txn).await?;
            let actor = check_actor(&admins, actor_id)?;
            let user = find(txn, user_id).await?;
            if user.role == role.as_str() {
                return view(user);
            }
            if is_last_enabled_admin(&admins, &user) {
                return Err(UserAdminError::LastAdmin);
            }
            let now = Utc::now();
            let details = json!({ "from": user.role, "to": role.as_str() });
            let user = update(
                txn,
                user,
                |row| row.role = Set(role.as_str().to_owned()),
                now,
            )
            .await?;
            record(txn, &actor, "staff.role_changed", user_id, details, now).await?;
            view(user)
        })
    })
    .await
}

/// Disables or re-enables a user. Admins only; refuses disabling oneself or the last
/// enabled admin. Disabling ends all of the user's sessions. Audited as
/// `staff.user_disabled` / `staff.user_enabled`.
pub async fn set_disabled(
    store: &Store,
    actor: &Viewer,
    user_id: i64,
    disabled: bool,
) -> Result<StaffUser, UserAdminError> {
    let actor_id = actor.user_id;
    run(store, move |txn| {
        Box::pin(async move {
            let admins = lock_enabled_admins(txn).await?;
            let actor = check_actor(&admins, actor_id)?;
            let user = find(txn, user_id).await?;
            if user.disabled == disabled {
                return view(user);
            }
            if disabled && user.id == actor.id {
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

/// Sets a new password and ends all of the user's sessions. Admins only; audited as
/// `staff.password_reset` (without the password).
pub async fn reset_password(
    store: &Store,
    actor: &Viewer,
    user_id: i64,
    password: String,
) -> Result<StaffUser, UserAdminError> {
    let password = Password::parse(password)?;
    require_admin(store.reader(), actor.user_id).await?;
    let phc = password::hash(&password)
        .await
        .map_err(UserAdminError::Unavailable)?;
    let actor_id = actor.user_id;
    run(store, move |txn| {
        let phc = phc.clone();
        Box::pin(async move {
            let actor = lock_admins_and_check(txn, actor_id).await?;
            let user = find(txn, user_id).await?;
            let now = Utc::now();
            let user = update(txn, user, |row| row.password_hash = Set(phc), now).await?;
            let sessions_ended = DbSessionStore::end_sessions_of(txn, user_id).await?;
            let details = json!({ "sessions_ended": sessions_ended });
            record(txn, &actor, "staff.password_reset", user_id, details, now).await?;
            view(user)
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
async fn run<T, F>(store: &Store, work: F) -> Result<T, UserAdminError>
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

fn check_actor(
    admins: &[staff_user::Model],
    actor_id: i64,
) -> Result<staff_user::Model, UserAdminError> {
    admins
        .iter()
        .find(|admin| admin.id == actor_id)
        .cloned()
        .ok_or(UserAdminError::Forbidden)
}

async fn lock_admins_and_check(
    txn: &DatabaseTransaction,
    actor_id: i64,
) -> Result<staff_user::Model, UserAdminError> {
    let admins = lock_enabled_admins(txn).await?;
    check_actor(&admins, actor_id)
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

async fn record(
    txn: &DatabaseTransaction,
    actor: &staff_user::Model,
    action: &str,
    user_id: i64,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit::record(
        txn,
        &actor.username,
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

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let one = generate_password();
        assert_eq!(one.chars().count(), GENERATED_PASSWORD_CHARS);
        assert!(one.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
        assert_ne!(one, generate_password());
    }
}
