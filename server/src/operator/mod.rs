//! What the operator API does (`/operator/v1`): providers and keys, players, cashier
//! adjustments, refunds and game sessions, for the casino's own platform. Its HTTP side
//! (routes, the bearer token) is `crate::http::operator`.
pub mod adjustment;
pub mod refund;
pub mod service;
pub mod sessions;
pub mod wire;
