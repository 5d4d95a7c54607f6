//! The provider-facing wallet: its operations (bet, win, rollback, round close), its
//! lookups, provider keys and request signing, and its wire types. The HTTP side of
//! `/wallet/v1` (routes, authentication, rate limit) is `crate::http::wallet`.
pub mod keys;
pub mod lookups;
pub mod operations;
pub mod rate_limit;
pub mod signing;
pub mod wire;
