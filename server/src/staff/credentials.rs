//! Checking a username and password, and recording a sign-in.
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use app::model::{Role, Viewer};

use super::password::{self, MAX_PASSWORD_CHARS};
use super::users::normalize_username;
use crate::audit;
use crate::db::entities::staff_user;
use crate::db::Store;
use crate::error::ServiceError;

/// Longer input is no username at all; checked before touching the database.
const MAX_USERNAME_BYTES: usize = 256;

/// The user these credentials belong to, if they are right and the user is enabled.
///
/// Unknown users, disabled users and wrong passwords all cost one argon2 verification and
/// all answer `None`, so neither the answer nor its timing tells which usernames exist.
pub async fn authenticate(
    store: &Store,
    username: &str,
    candidate: &str,
) -> anyhow::Result<Option<Viewer>> {
    let username = normalize_username(username);
    if username.len() > MAX_USERNAME_BYTES || candidate.chars().count() > MAX_PASSWORD_CHARS {
        password::verify_dummy("").await?;
        return Ok(None);
    }
    let user = staff_user::Entity::find()
        .filter(staff_user::Column::Username.eq(username.as_str()))
        .one(store.reader())
        .await?;
    let Some(user) = user.filter(|user| !user.disabled) else {
        password::verify_dummy(candidate).await?;
        return Ok(None);
    };
    if !password::verify(candidate, &user.password_hash).await? {
        return Ok(None);
    }
    Ok(Role::parse(&user.role).map(|role| Viewer {
        user_id: user.id,
        username: user.username,
        role,
        must_change_password: user.must_change_password,
        mfa_enrolled: user.totp_secret.is_some(),
        must_enroll_mfa: false,
        mfa_at: None,
    }))
}

/// Stamps `last_login_at` and writes `staff.login` to the audit log, in one transaction.
pub async fn record_login(
    store: &Store,
    viewer: &Viewer,
    client: &str,
) -> Result<(), ServiceError> {
    let (user_id, username, client) = (viewer.user_id, viewer.username.clone(), client.to_owned());
    store
        .write(Box::new(move |txn| {
            let (username, client) = (username.clone(), client.clone());
            Box::pin(async move {
                let now = Utc::now();
                staff_user::Entity::update_many()
                    .col_expr(staff_user::Column::LastLoginAt, Expr::value(now))
                    .filter(staff_user::Column::Id.eq(user_id))
                    .exec(txn)
                    .await?;
                let details = json!({ "client": client });
                audit::record(
                    txn,
                    &username,
                    "staff.login",
                    "staff_user",
                    &user_id.to_string(),
                    "",
                    details,
                    now,
                )
                .await
            })
        }))
        .await
}

/// Writes `staff.logout` to the audit log.
pub async fn record_logout(store: &Store, viewer: &Viewer) -> Result<(), ServiceError> {
    let (user_id, username) = (viewer.user_id, viewer.username.clone());
    store
        .write(Box::new(move |txn| {
            let username = username.clone();
            Box::pin(async move {
                audit::record(
                    txn,
                    &username,
                    "staff.logout",
                    "staff_user",
                    &user_id.to_string(),
                    "",
                    json!({}),
                    Utc::now(),
                )
                .await
            })
        }))
        .await
}
