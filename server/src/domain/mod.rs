//! Domain types: parsed once at the edge, valid wherever they are held.
mod ids;
mod money;

pub use ids::{GameId, IdError, KeyId, PlayerId, ProviderId, RoundId, TransactionId};
pub use money::{AmountError, Currency, CurrencyTable, MinorUnits, Money, WireMoney, MAX_MINOR};
