//! Money: integer minor units with an explicit scale, never floats.
use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest amount or balance the contract allows: 18 decimal digits.
pub const MAX_MINOR: i64 = 999_999_999_999_999_999;

/// Why an amount was refused; each maps to `400 INVALID_AMOUNT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount.value must be a base-10 string of digits without sign or leading zeros, at most 18 digits")]
    BadValue,
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    #[error("scale {given} is wrong for {currency}: the wallet uses {expected}")]
    WrongScale {
        currency: String,
        given: u32,
        expected: u32,
    },
    #[error("the result would exceed 18 digits")]
    Overflow,
}

/// A non-negative amount of minor units, at most [`MAX_MINOR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MinorUnits(i64);

impl MinorUnits {
    pub const ZERO: MinorUnits = MinorUnits(0);

    /// Parses the contract's `value`: digits only, no sign, no leading zeros, ≤ 18 digits.
    pub fn parse(value: &str) -> Result<Self, AmountError> {
        let well_formed = !value.is_empty()
            && value.len() <= 18
            && value.bytes().all(|b| b.is_ascii_digit())
            && (value == "0" || !value.starts_with('0'));
        if !well_formed {
            return Err(AmountError::BadValue);
        }
        value
            .parse::<i64>()
            .map(MinorUnits)
            .map_err(|_| AmountError::BadValue)
    }

    /// Trusted construction from stored data (the database CHECKs keep it in range).
    pub fn from_stored(minor: i64) -> Result<Self, AmountError> {
        if (0..=MAX_MINOR).contains(&minor) {
            Ok(MinorUnits(minor))
        } else {
            Err(AmountError::Overflow)
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: MinorUnits) -> Result<MinorUnits, AmountError> {
        self.0
            .checked_add(other.0)
            .filter(|sum| *sum <= MAX_MINOR)
            .map(MinorUnits)
            .ok_or(AmountError::Overflow)
    }

    /// `None` when the result would be negative.
    pub fn checked_sub(self, other: MinorUnits) -> Option<MinorUnits> {
        (self.0 >= other.0).then(|| MinorUnits(self.0 - other.0))
    }
}

impl fmt::Display for MinorUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A currency code the wallet knows, with its scale.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency {
    code: String,
    scale: u32,
}

impl Currency {
    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }
}

/// The currencies the wallet accepts and their scales: ISO 4217 exponents by default,
/// plus BTC and USDT, overridable by configuration.
#[derive(Debug, Clone)]
pub struct CurrencyTable {
    scales: HashMap<String, u32>,
}

/// Codes outside ISO 4217 that the wallet knows out of the box.
const EXTRA_SCALES: &[(&str, u32)] = &[("BTC", 8), ("USDT", 6)];

impl Default for CurrencyTable {
    /// Every ISO 4217 code that has a minor unit (the `iso_currency` crate's table; gold,
    /// special drawing rights and the like have none and are left out), then
    /// [`EXTRA_SCALES`].
    fn default() -> Self {
        use iso_currency::IntoEnumIterator;
        let iso = iso_currency::Currency::iter().filter_map(|currency| {
            currency
                .exponent()
                .map(|exponent| (currency.code().to_owned(), u32::from(exponent)))
        });
        let extra = EXTRA_SCALES
            .iter()
            .map(|(code, scale)| ((*code).to_owned(), *scale));
        CurrencyTable {
            scales: iso.chain(extra).collect(),
        }
    }
}

impl CurrencyTable {
    /// Adds or replaces currencies from `CODE=SCALE,CODE=SCALE`.
    pub fn with_overrides(mut self, spec: &str) -> Result<Self, String> {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (code, scale) = item
                .split_once('=')
                .ok_or_else(|| format!("expected CODE=SCALE, got {item:?}"))?;
            let code = code.trim();
            let valid_code = (3..=8).contains(&code.len())
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            let scale: u32 = scale
                .trim()
                .parse()
                .map_err(|_| format!("bad scale in {item:?}"))?;
            if !valid_code || scale > 18 {
                return Err(format!("bad currency {item:?}"));
            }
            self.scales.insert(code.to_owned(), scale);
        }
        Ok(self)
    }

    /// Every code and its scale, in no particular order.
    pub fn scales(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.scales
            .iter()
            .map(|(code, scale)| (code.as_str(), *scale))
    }

    pub fn currency(&self, code: &str) -> Result<Currency, AmountError> {
        self.scales
            .get(code)
            .map(|scale| Currency {
                code: code.to_owned(),
                scale: *scale,
            })
            .ok_or_else(|| AmountError::UnknownCurrency(code.to_owned()))
    }

    /// Parses the contract's money object.
    pub fn money(&self, wire: &WireMoney) -> Result<Money, AmountError> {
        let minor = MinorUnits::parse(&wire.value)?;
        let currency = self.currency(&wire.currency)?;
        if wire.scale != currency.scale {
            return Err(AmountError::WrongScale {
                currency: currency.code,
                given: wire.scale,
                expected: currency.scale,
            });
        }
        Ok(Money { minor, currency })
    }
}

/// A validated amount in a known currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub minor: MinorUnits,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: MinorUnits, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn to_wire(&self) -> WireMoney {
        WireMoney {
            value: self.minor.to_string(),
            currency: self.currency.code.clone(),
            scale: self.currency.scale,
        }
    }
}

/// The money object as it travels: `{ "value": "1050", "currency": "EUR", "scale": 2 }`.
///
/// A field of the wrong JSON type (`"value": 1050`, `"scale": "2"`) is read as a value
/// that [`CurrencyTable::money`] refuses, so the answer is `400 INVALID_AMOUNT`, which says
/// what to fix, rather than a generic malformed request (docs/API.md, "Money").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WireMoney {
    /// Minor units as a base-10 string: digits only, no sign, no leading zeros, ≤ 18 digits.
    #[schema(example = "1050")]
    #[serde(deserialize_with = "text_or_refused")]
    pub value: String,
    #[schema(example = "EUR")]
    #[serde(deserialize_with = "text_or_refused")]
    pub currency: String,
    #[schema(example = 2)]
    #[serde(deserialize_with = "scale_or_refused")]
    pub scale: u32,
}

/// A string as it is; any other JSON value as an empty string, which is neither a valid
/// amount nor a currency.
fn text_or_refused<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => text,
        _ => String::new(),
    })
}

/// A scale that fits `u32`; anything else as `u32::MAX`, which no currency has.
fn scale_or_refused<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    Ok(serde_json::Value::deserialize(deserializer)?
        .as_u64()
        .and_then(|scale| u32::try_from(scale).ok())
        .unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_field_of_the_wrong_json_type_is_an_invalid_amount() {
        let table = CurrencyTable::default();
        for body in [
            r#"{"value": 1050, "currency": "EUR", "scale": 2}"#,
            r#"{"value": null, "currency": "EUR", "scale": 2}"#,
            r#"{"value": "1050", "currency": 978, "scale": 2}"#,
            r#"{"value": "1050", "currency": "EUR", "scale": "2"}"#,
            r#"{"value": "1050", "currency": "EUR", "scale": -2}"#,
        ] {
            let wire: WireMoney = serde_json::from_str(body).expect(body);
            assert!(table.money(&wire).is_err(), "{body}");
        }
        let good: WireMoney =
            serde_json::from_str(r#"{"value": "1050", "currency": "EUR", "scale": 2}"#)
                .expect("ok");
        assert!(table.money(&good).is_ok());
        // A missing field stays a malformed request.
        assert!(serde_json::from_str::<WireMoney>(r#"{"currency": "EUR", "scale": 2}"#).is_err());
    }

    #[test]
    fn every_iso_currency_with_a_minor_unit_is_known_and_the_old_scales_stand() {
        let table = CurrencyTable::default();
        for (code, scale) in [
            ("NGN", 2),
            ("KES", 2),
            ("KZT", 2),
            ("GEL", 2),
            ("EGP", 2),
            ("UGX", 0),
        ] {
            assert_eq!(table.currency(code).map(|c| c.scale()), Ok(scale), "{code}");
        }
        assert!(table.currency("XAU").is_err(), "gold has no minor unit");
        assert_eq!(table.currency("BTC").map(|c| c.scale()), Ok(8));
        // The 47 codes the wallet knew before keep their scales (stored amounts are minor
        // units: a changed scale would change what they mean).
        #[rustfmt::skip]
        let before: &[(&str, u32)] = &[
            ("AED", 2), ("ARS", 2), ("AUD", 2), ("BGN", 2), ("BHD", 3), ("BRL", 2), ("CAD", 2),
            ("CHF", 2), ("CLP", 0), ("CNY", 2), ("COP", 2), ("CZK", 2), ("DKK", 2), ("EUR", 2),
            ("GBP", 2), ("HKD", 2), ("HUF", 2), ("IDR", 2), ("ILS", 2), ("INR", 2), ("ISK", 0),
            ("JOD", 3), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("MXN", 2), ("MYR", 2), ("NOK", 2),
            ("NZD", 2), ("OMR", 3), ("PEN", 2), ("PHP", 2), ("PLN", 2), ("RON", 2), ("RSD", 2),
            ("SEK", 2), ("SGD", 2), ("THB", 2), ("TND", 3), ("TRY", 2), ("TWD", 2), ("UAH", 2),
            ("USD", 2), ("VND", 0), ("ZAR", 2), ("BTC", 8), ("USDT", 6),
        ];
        for (code, scale) in before {
            assert_eq!(
                table.currency(code).map(|c| c.scale()),
                Ok(*scale),
                "{code}"
            );
        }
    }

    use proptest::prelude::*;

    fn wire(value: &str, currency: &str, scale: u32) -> WireMoney {
        WireMoney {
            value: value.to_owned(),
            currency: currency.to_owned(),
            scale,
        }
    }

    #[test]
    fn values_follow_the_contract() {
        for good in ["0", "1", "1050", "999999999999999999"] {
            assert!(MinorUnits::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-1",
            "+1",
            "01",
            "00",
            "1.5",
            "1e3",
            " 1",
            "1000000000000000000",
            "١",
        ] {
            assert_eq!(MinorUnits::parse(bad), Err(AmountError::BadValue), "{bad}");
        }
    }

    #[test]
    fn scale_and_currency_are_checked() {
        let table = CurrencyTable::default();
        assert!(table.money(&wire("100", "EUR", 2)).is_ok());
        assert!(table.money(&wire("100", "JPY", 0)).is_ok());
        assert!(matches!(
            table.money(&wire("100", "EUR", 3)),
            Err(AmountError::WrongScale { .. })
        ));
        assert!(matches!(
            table.money(&wire("100", "XXX", 2)),
            Err(AmountError::UnknownCurrency(_))
        ));
    }

    #[test]
    fn overrides_add_currencies() {
        let table = CurrencyTable::default()
            .with_overrides("XTS=4, EUR=2")
            .unwrap();
        assert_eq!(table.currency("XTS").unwrap().scale(), 4);
        assert!(CurrencyTable::default().with_overrides("eur=2").is_err());
    }

    #[test]
    fn additions_past_eighteen_digits_are_refused() {
        let max = MinorUnits::parse("999999999999999999").unwrap();
        assert_eq!(
            max.checked_add(MinorUnits::parse("1").unwrap()),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            MinorUnits::parse("5")
                .unwrap()
                .checked_sub(MinorUnits::parse("6").unwrap()),
            None
        );
    }

    proptest! {
        #[test]
        fn any_parsed_value_prints_back_identically(value in "[0-9]{1,20}") {
            if let Ok(minor) = MinorUnits::parse(&value) {
                prop_assert_eq!(minor.to_string(), value);
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(value in ".{0,30}") {
            let _ = MinorUnits::parse(&value);
        }
    }
}
