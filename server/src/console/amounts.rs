//! Amounts as people read them: minor units placed by their currency's scale.
use crate::domain::CurrencyTable;

/// `1250` EUR as `12.50 EUR`; an unknown currency shows its minor units.
pub fn money_text(currencies: &CurrencyTable, amount_minor: i64, currency: &str) -> String {
    let scale = currencies
        .currency(currency)
        .map(|c| c.scale())
        .unwrap_or(0);
    format!("{} {currency}", decimal(amount_minor, scale))
}

/// Minor units as a decimal string with `scale` digits after the point.
pub fn decimal(amount_minor: i64, scale: u32) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let digits = amount_minor.unsigned_abs().to_string();
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_place_the_point_by_scale() {
        assert_eq!(decimal(1250, 2), "12.50");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(-5, 3), "-0.005");
        assert_eq!(decimal(700, 0), "700");
        assert_eq!(decimal(0, 8), "0.00000000");
    }
}
