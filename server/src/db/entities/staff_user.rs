use sea_orm::entity::prelude::*;

/// A console user. `role` is `support`, `operator` or `admin` (a CHECK enforces it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub username: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    /// Set by a reset: the user must choose a new password before anything else.
    pub must_change_password: bool,
    /// The TOTP secret (base32) once enrolled; `None` without a second factor.
    pub totp_secret: Option<String>,
    /// A secret shown for enrolment, kept until the first code confirms it.
    pub totp_pending_secret: Option<String>,
    /// The last time step a code was accepted for: a code works once.
    pub totp_last_step: Option<i64>,
    /// The unused recovery codes' SHA-256 hashes, as a JSON array of hex strings.
    #[sea_orm(column_type = "Text", nullable)]
    pub recovery_codes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
