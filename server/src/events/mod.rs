//! Events out (docs/EVENTS.md): the outbox written with every change it describes,
//! webhook subscriptions, and their signed, retried, per-player-ordered delivery.
//!
//! - `outbox`: reading the outbox in commit order, numbering it on PostgreSQL, building
//!   bodies, writing finding events.
//! - `webhooks`: subscriptions and their stats, dead events and redelivery.
//! - `delivery`: the loop that sends events.
//! - `signature`: the `Oncewallet-Signature` header.
//!
//! The operator API's `/operator/v1/webhooks` is `http::webhooks`.
pub mod delivery;
pub mod outbox;
pub mod signature;
pub mod webhooks;

pub use delivery::{spawn, DeliveryConfig};

/// One per committed money movement.
pub const MONEY_MOVED: &str = "money.moved";
/// A reconciliation finding opened (or opened again).
pub const FINDING_OPENED: &str = "finding.opened";
/// A finding resolved, by a person or by the run that no longer found it.
pub const FINDING_RESOLVED: &str = "finding.resolved";
