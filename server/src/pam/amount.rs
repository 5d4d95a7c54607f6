//! PAM amounts: JSON numbers with up to six decimals (`12.500000`). They are read as the
//! decimal text they are, never through a binary float, and refused rather than rounded
//! when they hold more than the currency's minor units (docs/PAM.md, "Amounts").
use serde_json::value::RawValue;

use crate::domain::{Currency, MinorUnits, Money};

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountRefusal {
    /// Below zero.
    Negative,
    /// Not a plain decimal number, too large, or finer than the currency's minor unit.
    Invalid(String),
}

/// Reads `raw` (a JSON number, or a string holding one) as money in `currency`. Trailing
/// zeros are not decimals: `10.500000` is 10.50 EUR, `10.505000` is refused.
pub fn parse(field: &str, raw: &RawValue, currency: &Currency) -> Result<Money, AmountRefusal> {
    let text = raw.get().trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let invalid = |why: &str| AmountRefusal::Invalid(format!("{field}: {text} {why}"));
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !plain(whole)
        || !plain(fraction)
        || (digits.contains('.') && fraction.is_empty())
    {
        return Err(invalid("is not a plain decimal number"));
    }
    let fraction = fraction.trim_end_matches('0');
    let whole = whole.trim_start_matches('0');
    if negative && !(whole.is_empty() && fraction.is_empty()) {
        return Err(AmountRefusal::Negative);
    }
    let scale = currency.scale() as usize;
    if fraction.len() > scale {
        return Err(invalid(&format!(
            "has more decimals than {} has minor units ({scale})",
            currency.code()
        )));
    }
    let minor = format!("{whole}{fraction:0<scale$}");
    let minor = minor.trim_start_matches('0');
    MinorUnits::parse(if minor.is_empty() { "0" } else { minor })
        .map(|minor| Money::new(minor, currency.clone()))
        .map_err(|_| invalid("is too large"))
}

/// `minor` units of a currency with `scale` decimals, as the JSON number the PAM reads:
/// `1050` at scale 2 is `10.50`.
pub fn to_json(minor: i64, scale: u32) -> Box<RawValue> {
    let sign = if minor < 0 { "-" } else { "" };
    let digits = minor.unsigned_abs().to_string();
    let scale = scale as usize;
    let text = if scale == 0 {
        format!("{sign}{digits}")
    } else {
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        format!("{sign}{whole}.{fraction}")
    };
    // Digits, a dot and a sign: always a JSON number.
    RawValue::from_string(text).unwrap_or_default()
}

/// Money as the PAM's JSON number.
pub fn money_json(money: &Money) -> Box<RawValue> {
    to_json(money.minor.get(), money.currency.scale())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CurrencyTable;

    fn eur() -> Currency {
        CurrencyTable::default().currency("EUR").unwrap()
    }

    fn read(text: &str) -> Result<i64, AmountRefusal> {
        let raw = RawValue::from_string(text.to_owned()).unwrap();
        parse("cashAmount", &raw, &eur()).map(|m| m.minor.get())
    }

    #[test]
    fn decimal_text_is_read_exactly() {
        assert_eq!(read("10.500000"), Ok(1050));
        assert_eq!(read("10.5"), Ok(1050));
        assert_eq!(read("10"), Ok(1000));
        assert_eq!(read("0.000000"), Ok(0));
        assert_eq!(read("-0.000000"), Ok(0));
        assert_eq!(read("\"0.01\""), Ok(1));
        assert_eq!(read("\"007.10\""), Ok(710));
        // 0.1 + 0.2 through a float would not be 0.30.
        assert_eq!(read("0.30"), Ok(30));
        assert_eq!(read("9999999999999999.99"), Ok(999_999_999_999_999_999));
    }

    #[test]
    fn finer_than_the_currency_negative_or_odd_text_is_refused() {
        assert!(
            matches!(read("10.505000"), Err(AmountRefusal::Invalid(m)) if m.contains("more decimals"))
        );
        assert_eq!(read("-1.00"), Err(AmountRefusal::Negative));
        for odd in [
            // JSON's own numbers the wallet does not take, and strings holding no number.
            "1e3", "1E-2", "true", "null", "[]", "\"\"", "\"1.\"", "\".5\"", "\"NaN\"", "\"1,5\"",
            "\"+1\"", "\"-\"",
        ] {
            assert!(matches!(read(odd), Err(AmountRefusal::Invalid(_))), "{odd}");
        }
        assert!(
            matches!(read("99999999999999999999"), Err(AmountRefusal::Invalid(m)) if m.contains("too large"))
        );
    }

    #[test]
    fn amounts_are_written_with_the_currency_s_decimals() {
        assert_eq!(to_json(1050, 2).get(), "10.50");
        assert_eq!(to_json(5, 2).get(), "0.05");
        assert_eq!(to_json(0, 2).get(), "0.00");
        assert_eq!(to_json(12, 0).get(), "12");
        assert_eq!(to_json(1, 8).get(), "0.00000001");
    }
}
