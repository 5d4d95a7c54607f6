//! The double-entry ledger and its hash chain.
//!
//! - [`accounts`]: the names of the accounts money moves between.
//! - [`posting`]: one movement as two entries that sum to zero, decided in memory; the
//!   wallet's money path, the seed and the bench's baseline all post through it.
//! - [`chain`]: each player's postings linked by SHA-256 in commit order, and the walk
//!   that verifies them (`server verify-trail`, reconciliation, seals).
pub mod accounts;
pub mod chain;
pub mod posting;

pub use accounts::{cashier_account, player_account, provider_account};
pub use posting::{post, posting, Account, Direction, NewEntry, Posted};
