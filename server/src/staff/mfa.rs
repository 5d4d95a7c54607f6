//! The console's second factor: TOTP codes (RFC 6238: SHA-1, 6 digits, 30 s steps, one
//! step of clock skew either way) from an authenticator app, and ten one-time recovery
//! codes for a lost device (docs/SECURITY.md, "Second factor").
//!
//! Enrolment stores a pending secret and shows it as a QR code drawn here as SVG; the
//! first right code makes it the user's secret and hands out the recovery codes, shown
//! once and stored only as SHA-256 hashes (they are 50 random bits each, so a slow hash
//! adds nothing). A code is accepted once: the step it matched is remembered and no code
//! of that step or an earlier one passes again.
use chrono::Utc;
use rand::Rng;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, EntityTrait, QuerySelect};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use super::session_store::DbSessionStore;
use super::users::{lock_admins_and_check, record, run, Actor, UserAdminError};
use crate::db::entities::staff_user;
use crate::db::Store;

/// The issuer an authenticator app shows beside the account.
const ISSUER: &str = "oncewallet";
const DIGITS: usize = 6;
const STEP_SECS: u64 = 30;
/// Secret bytes: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
/// Letters and digits that do not read alike; 10 of them carry 50 bits.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_CHARS: usize = 10;

/// What enrolment shows: the QR code, and the secret as text for typing it in.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_url: String,
    /// An `<svg>` element, without an XML declaration, to inline in the page.
    pub qr_svg: String,
}

/// How a code was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Totp,
    /// A recovery code, now used up; `left` remain.
    RecoveryCode {
        left: usize,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("that code is not right (or was already used); try the next one")]
    WrongCode,
    #[error("start the set-up again: no second factor is being set up")]
    NotEnrolling,
    #[error("a second factor is already set up; reset it first")]
    AlreadyEnrolled,
    #[error(transparent)]
    Users(#[from] UserAdminError),
}

impl From<sea_orm::DbErr> for MfaError {
    fn from(error: sea_orm::DbErr) -> MfaError {
        MfaError::Users(error.into())
    }
}

fn totp(secret_base32: &str, username: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        bytes,
        Some(ISSUER.to_owned()),
        username.to_owned(),
    )
    .ok()
}

/// The time step `code` is right for, within one step of `now`, if it is later than
/// `last_step`.
fn matching_step(
    secret: &str,
    username: &str,
    code: &str,
    now: u64,
    last_step: Option<i64>,
) -> Option<i64> {
    let totp = totp(secret, username)?;
    let code = code.trim().replace(' ', "");
    let current = now / STEP_SECS;
    (current.saturating_sub(1)..=current + 1)
        .filter(|step| last_step.is_none_or(|last| (*step as i64) > last))
        .find(|step| {
            let expected = totp.generate(step * STEP_SECS);
            bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
        })
        .map(|step| step as i64)
}

fn hash_recovery_code(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// Ten fresh recovery codes (`abcde-fghjk`) and their hashes.
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let mut rng = rand::thread_rng();
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..RECOVERY_CHARS)
                .map(|_| char::from(RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let hashes = codes.iter().map(|code| hash_recovery_code(code)).collect();
    (codes, hashes)
}

/// The user's row, locked until the transaction ends on PostgreSQL: two sign-ins with the
/// same code at the same moment must not both read the old last step (SQLite's single
/// writer already runs them one after the other).
async fn locked_user(
    txn: &DatabaseTransaction,
    user_id: i64,
) -> Result<staff_user::Model, UserAdminError> {
    staff_user::Entity::find_by_id(user_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(UserAdminError::NotFound(user_id))
}

fn now_secs() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

/// Starts (or restarts) enrolment for `user_id`: a new pending secret, its QR code.
pub async fn begin_enrolment(store: &Store, user_id: i64) -> Result<Enrolment, MfaError> {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::thread_rng().fill(&mut bytes);
    let secret = match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(text) => text,
        Secret::Raw(_) => unreachable!("to_encoded gives the encoded form"),
    };
    let username = {
        let secret = secret.clone();
        run(store, move |txn| {
            let secret = secret.clone();
            Box::pin(async move {
                let user = locked_user(txn, user_id).await?;
                if user.totp_secret.is_some() {
                    return Ok(Err(MfaError::AlreadyEnrolled));
                }
                let username = user.username.clone();
                let mut row: staff_user::ActiveModel = user.into();
                row.totp_pending_secret = Set(Some(secret));
                staff_user::Entity::update(row).exec(txn).await?;
                Ok(Ok(username))
            })
        })
        .await??
    };
    let otpauth_url = totp(&secret, &username)
        .map(|totp| totp.get_url())
        .ok_or(MfaError::NotEnrolling)?;
    Ok(Enrolment {
        qr_svg: qr_svg(&otpauth_url),
        secret,
        otpauth_url,
    })
}

fn qr_svg(text: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return String::new();
    };
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    // Inlined in the page: the XML declaration has no place there.
    match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    }
}

/// Confirms enrolment with the first code from the app: the pending secret becomes the
/// user's, and ten recovery codes are returned, to be shown once. Audited as
/// `staff.mfa_enrolled`.
pub async fn confirm_enrolment(
    store: &Store,
    user_id: i64,
    code: &str,
) -> Result<Vec<String>, MfaError> {
    let (codes, hashes) = new_recovery_codes();
    let code = code.to_owned();
    run(store, move |txn| {
        let (code, hashes) = (code.clone(), hashes.clone());
        Box::pin(async move {
            let user = locked_user(txn, user_id).await?;
            if user.totp_secret.is_some() {
                return Ok(Err(MfaError::AlreadyEnrolled));
            }
            let Some(pending) = user.totp_pending_secret.clone() else {
                return Ok(Err(MfaError::NotEnrolling));
            };
            let Some(step) = matching_step(&pending, &user.username, &code, now_secs(), None)
            else {
                return Ok(Err(MfaError::WrongCode));
            };
            let (username, now) = (user.username.clone(), Utc::now());
            let mut row: staff_user::ActiveModel = user.into();
            row.totp_secret = Set(Some(pending));
            row.totp_pending_secret = Set(None);
            row.totp_last_step = Set(Some(step));
            row.recovery_codes = Set(Some(json!(hashes).to_string()));
            row.updated_at = Set(now);
            staff_user::Entity::update(row).exec(txn).await?;
            let actor = super::users::Checked {
                name: username,
                user_id: Some(user_id),
            };
            record(txn, &actor, "staff.mfa_enrolled", user_id, json!({}), now).await?;
            Ok(Ok(()))
        })
    })
    .await??;
    Ok(codes)
}

/// Checks a code from `user_id`'s app, or one of their recovery codes (used up by this).
/// A recovery code is audited as `staff.mfa_recovery_code_used`.
pub async fn verify(store: &Store, user_id: i64, code: &str) -> Result<Accepted, MfaError> {
    let code = code.to_owned();
    run(store, move |txn| {
        let code = code.clone();
        Box::pin(async move {
            let user = locked_user(txn, user_id).await?;
            let Some(secret) = user.totp_secret.clone() else {
                return Ok(Err(MfaError::NotEnrolling));
            };
            if let Some(step) = matching_step(
                &secret,
                &user.username,
                &code,
                now_secs(),
                user.totp_last_step,
            ) {
                let mut row: staff_user::ActiveModel = user.into();
                row.totp_last_step = Set(Some(step));
                staff_user::Entity::update(row).exec(txn).await?;
                return Ok(Ok(Accepted::Totp));
            }
            let mut left: Vec<String> = user
                .recovery_codes
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            let hash = hash_recovery_code(&code);
            let Some(index) = left
                .iter()
                .position(|known| bool::from(known.as_bytes().ct_eq(hash.as_bytes())))
            else {
                return Ok(Err(MfaError::WrongCode));
            };
            left.remove(index);
            let (username, now, remaining) = (user.username.clone(), Utc::now(), left.len());
            let mut row: staff_user::ActiveModel = user.into();
            row.recovery_codes = Set(Some(json!(left).to_string()));
            staff_user::Entity::update(row).exec(txn).await?;
            let actor = super::users::Checked {
                name: username,
                user_id: Some(user_id),
            };
            let details = json!({ "recovery_codes_left": remaining });
            record(
                txn,
                &actor,
                "staff.mfa_recovery_code_used",
                user_id,
                details,
                now,
            )
            .await?;
            Ok(Ok(Accepted::RecoveryCode { left: remaining }))
        })
    })
    .await?
}

/// How many recovery codes `row` has left.
pub fn recovery_codes_left(row: &staff_user::Model) -> usize {
    row.recovery_codes
        .as_deref()
        .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
        .map_or(0, |codes| codes.len())
}

/// Removes `user_id`'s second factor (a lost device) and ends their sessions; they set up
/// a new one at their next sign-in. Admins or the command line; audited as
/// `staff.mfa_reset`.
pub async fn reset<'a>(
    store: &Store,
    actor: impl Into<Actor<'a>>,
    user_id: i64,
) -> Result<u64, UserAdminError> {
    let actor = actor.into().key();
    run(store, move |txn| {
        let actor = actor.clone();
        Box::pin(async move {
            let actor = lock_admins_and_check(txn, &actor).await?;
            let user = locked_user(txn, user_id).await?;
            let now = Utc::now();
            let mut row: staff_user::ActiveModel = user.into();
            row.totp_secret = Set(None);
            row.totp_pending_secret = Set(None);
            row.totp_last_step = Set(None);
            row.recovery_codes = Set(None);
            row.updated_at = Set(now);
            staff_user::Entity::update(row).exec(txn).await?;
            let sessions_ended = DbSessionStore::end_sessions_of(txn, user_id).await?;
            let details = json!({ "sessions_ended": sessions_ended });
            record(txn, &actor, "staff.mfa_reset", user_id, details, now).await?;
            Ok(sessions_ended)
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // "12345678901234567890"

    #[test]
    fn codes_match_rfc_6238_and_work_once() {
        // RFC 6238, appendix B, SHA-1 at 59 s: 94287082 (8 digits); 6 digits: 287082.
        assert_eq!(matching_step(SECRET, "a", "287082", 59, None), Some(1));
        assert_eq!(matching_step(SECRET, "a", "287 082", 59, None), Some(1));
        assert_eq!(
            matching_step(SECRET, "a", "287082", 59, Some(1)),
            None,
            "used"
        );
        assert_eq!(
            matching_step(SECRET, "a", "287082", 60 + 29, None),
            Some(1),
            "skew"
        );
        assert_eq!(
            matching_step(SECRET, "a", "287082", 59 + 95, None),
            None,
            "too late"
        );
        assert_eq!(matching_step(SECRET, "a", "000000", 59, None), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_match_their_hashes_loosely() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(
            codes.iter().collect::<std::collections::HashSet<_>>().len(),
            RECOVERY_CODES
        );
        assert_eq!(hash_recovery_code(&codes[0]), hashes[0]);
        assert_eq!(
            hash_recovery_code(&codes[0].to_uppercase().replace('-', " ")),
            hashes[0]
        );
    }

    #[test]
    fn the_qr_code_is_an_inline_svg() {
        let svg = qr_svg("otpauth://totp/oncewallet:alice?secret=ABC&issuer=oncewallet");
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.ends_with("</svg>"));
    }
}
