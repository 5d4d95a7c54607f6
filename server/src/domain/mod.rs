//! Domain types: parsed once at the edge, valid wherever they are held.
mod ids;
mod money;
pub mod schema;
mod states;

pub use ids::{GameId, IdError, KeyId, PlayerId, ProviderId, RoundId, TransactionId, WebhookId};
pub use money::{AmountError, Currency, CurrencyTable, MinorUnits, Money, WireMoney, MAX_MINOR};
pub use states::{player_status, OpType, PlayerStatus, RoundState, TxState, UnknownValue};
