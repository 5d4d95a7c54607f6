//! Identifiers shared with providers and the operator: 1–128 characters of `[A-Za-z0-9._:-]`.
use std::fmt;

/// Longest identifier accepted, in characters (the contract's limit).
const MAX_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1–128 characters of [A-Za-z0-9._:-]")]
pub struct IdError;

fn is_valid_id(candidate: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&candidate.len())
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(candidate: impl Into<String>) -> Result<Self, IdError> {
                let candidate = candidate.into();
                if is_valid_id(&candidate) {
                    Ok(Self(candidate))
                } else {
                    Err(IdError)
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

identifier!(
    /// A webhook subscription's id, chosen by the operator (docs/EVENTS.md).
    WebhookId
);

identifier!(
    /// A provider's id for one money operation; with the provider it is the idempotency key.
    TransactionId
);
identifier!(
    /// A player, as the operator's platform names them.
    PlayerId
);
identifier!(
    /// A game round; rounds are scoped by (provider, player, round id).
    RoundId
);
identifier!(
    /// A game of a provider.
    GameId
);
identifier!(
    /// A game provider; taken from the authenticated key, never from a body.
    ProviderId
);
identifier!(
    /// The id of one of a provider's signing keys.
    KeyId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_accept_the_contract_alphabet() {
        assert!(TransactionId::parse("tx-1.a_b:C").is_ok());
        assert!(TransactionId::parse("x".repeat(128)).is_ok());
    }

    #[test]
    fn ids_refuse_empty_long_and_foreign_characters() {
        assert!(TransactionId::parse("").is_err());
        assert!(TransactionId::parse("x".repeat(129)).is_err());
        for bad in ["a b", "a/b", "é", "a\n", "'; drop table x;--", "a@b"] {
            assert!(PlayerId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_round_trips(candidate in ".{0,140}") {
            if let Ok(id) = RoundId::parse(candidate.clone()) {
                prop_assert_eq!(id.as_str(), candidate.as_str());
                prop_assert!(id.as_str().len() <= 128);
            }
        }
    }
}
