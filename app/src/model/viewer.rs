//! Who is looking at the console, and what their role lets them do.
//!
//! The server decides; these types only carry its answer to the pages, which hide what a
//! role cannot use. Every server function checks the role again on the server.
use serde::{Deserialize, Serialize};

/// Staff roles, each including everything the one before it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Read-only: search, trace, export.
    Support,
    /// Also acts on money and findings: refunds, acknowledgements, blocks, statements.
    Operator,
    /// Also manages staff users and their roles.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Support, Role::Operator, Role::Admin];

    /// The name stored in the database and shown on pages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Support => "support",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// The signed-in staff member behind a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// Someone else set this user's password: until they choose their own, the console
    /// shows them only the account page (`/account`).
    #[serde(default)]
    pub must_change_password: bool,
    /// The user has a second factor (TOTP).
    #[serde(default)]
    pub mfa_enrolled: bool,
    /// Their role needs a second factor (`WALLET_MFA_REQUIRED`) and they have none yet:
    /// until they set one up, the console shows them only the account page.
    #[serde(default)]
    pub must_enroll_mfa: bool,
    /// When this session last checked a code (Unix seconds): at sign-in, or confirmed since
    /// for a refund, a role change or a user reset.
    #[serde(default)]
    pub mfa_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest_and_round_trip_through_their_names() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Support));
        assert!(!Role::Support.allows(Role::Operator));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
