//! A finding's JSON details read for people: one line for narrow cells, labelled facts,
//! the two sides of the finding side by side, and the amounts an export needs in decimal
//! and in minor units.
//!
//! The details are written by the reconciliation checks (`reconcile/checks.rs`) and the
//! statement matching (`reconcile/matching.rs`); a shape this module does not know still
//! reads as facts.
use app::model::{ComparedField, Comparison, Fact};
use serde_json::{Map, Value};

use super::amounts::decimal;
use crate::domain::CurrencyTable;
use crate::reconcile::{BALANCE_MISMATCH, CLEARING_MISMATCH, PENDING_ROLLBACK};

/// The fields of a statement's side, in the order people compare them.
const STATEMENT_FIELDS: [&str; 5] = ["op", "player_id", "round_id", "amount", "state"];

/// A finding's details as `key: value · key: value`, for a table cell; other text as it
/// is. Nested objects (a statement row, the wallet's side) read as `key=value` inside
/// their key, a wire amount as a decimal with its currency, and `kind` is left out: the
/// table has a column for it.
pub fn details_text(details: &str) -> String {
    let Some(fields) = object(details) else {
        return details.to_owned();
    };
    fields
        .iter()
        .filter(|(key, value)| !value.is_null() && key.as_str() != "kind")
        .map(|(key, value)| format!("{key}: {}", value_text(value)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The details as labelled facts and, when the finding has two sides, their comparison;
/// the compared fields are not repeated among the facts.
pub fn facts_and_comparison(kind: &str, details: &str) -> (Vec<Fact>, Option<Comparison>) {
    let Some(fields) = object(details) else {
        let facts = (!details.is_empty()).then(|| Fact {
            name: "details".to_owned(),
            value: details.to_owned(),
        });
        return (facts.into_iter().collect(), None);
    };
    let (comparison, compared): (Option<Comparison>, &[&str]) = match kind {
        BALANCE_MISMATCH => (
            minor_pair(&fields, "balance_minor", "ledger_sum_minor", 1).map(|(left, right)| {
                pair("Player balance", "Sum of the player's ledger", left, right)
            }),
            &["balance_minor", "ledger_sum_minor"],
        ),
        // The check holds when the clearing account and the players' net cancel out.
        CLEARING_MISMATCH => (
            minor_pair(&fields, "clearing_sum_minor", "players_net_minor", -1).map(
                |(left, right)| pair("Clearing account", "Players' net, negated", left, right),
            ),
            &["clearing_sum_minor", "players_net_minor"],
        ),
        _ if fields.contains_key("reported") || fields.contains_key("wallet") => (
            Some(statement_sides(&fields)),
            &["reported", "wallet", "op"],
        ),
        _ => (None, &[]),
    };
    let facts = fields
        .iter()
        .filter(|(key, value)| {
            !value.is_null() && key.as_str() != "kind" && !compared.contains(&key.as_str())
        })
        .map(|(key, value)| Fact {
            name: key.clone(),
            value: value_text(value),
        })
        .collect();
    (facts, comparison)
}

/// An amount of a finding, as an export writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    pub minor: i64,
    pub scale: u32,
    pub currency: String,
}

impl Amount {
    pub fn decimal(&self) -> String {
        decimal(self.minor, self.scale)
    }
}

/// The amounts a finding is about: what the provider reported and what the wallet holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingAmounts {
    pub reported: Option<Amount>,
    pub wallet: Option<Amount>,
}

/// The amounts of a statement finding (both sides) or an orphan bet (the wallet's side);
/// none for the other kinds, whose details hold no currency.
pub fn finding_amounts(currencies: &CurrencyTable, kind: &str, details: &str) -> FindingAmounts {
    let Some(fields) = object(details) else {
        return FindingAmounts::default();
    };
    if kind == PENDING_ROLLBACK {
        let wallet = fields["amount_minor"]
            .as_i64()
            .zip(fields["currency"].as_str())
            .map(|(minor, currency)| Amount {
                minor,
                scale: currencies
                    .currency(currency)
                    .map(|c| c.scale())
                    .unwrap_or(0),
                currency: currency.to_owned(),
            });
        return FindingAmounts {
            reported: None,
            wallet,
        };
    }
    let side = |name: &str| {
        fields
            .get(name)
            .and_then(|side| wire_amount(&side["amount"]))
    };
    FindingAmounts {
        reported: side("reported"),
        wallet: side("wallet"),
    }
}

fn object(details: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(details) {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

/// Two minor-unit fields; `sign` turns the right one round where the check wants them
/// to cancel out rather than match.
fn minor_pair(
    fields: &Map<String, Value>,
    left: &str,
    right: &str,
    sign: i64,
) -> Option<(i64, i64)> {
    Some((
        fields.get(left)?.as_i64()?,
        sign * fields.get(right)?.as_i64()?,
    ))
}

fn pair(left: &str, right: &str, left_minor: i64, right_minor: i64) -> Comparison {
    Comparison {
        left: left.to_owned(),
        right: right.to_owned(),
        left_missing: false,
        right_missing: false,
        fields: vec![ComparedField {
            name: "amount (minor units)".to_owned(),
            left: Some(left_minor.to_string()),
            right: Some(right_minor.to_string()),
            differs: left_minor != right_minor,
        }],
    }
}

/// A statement finding: the provider's row against the wallet's record. A field counts
/// as different only when both sides state it (`null` included) and the texts differ; a
/// side the finding lacks altogether is marked missing instead.
fn statement_sides(fields: &Map<String, Value>) -> Comparison {
    let reported = fields.get("reported").and_then(Value::as_object);
    let wallet = fields.get("wallet").and_then(Value::as_object);
    let mut names: Vec<String> = STATEMENT_FIELDS.iter().map(|n| (*n).to_owned()).collect();
    for side in [reported, wallet].into_iter().flatten() {
        for key in side.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    let compared = names
        .into_iter()
        .filter_map(|name| {
            let left = reported.and_then(|side| side.get(&name));
            let right = wallet.and_then(|side| side.get(&name));
            if left.is_none_or(Value::is_null) && right.is_none_or(Value::is_null) {
                return None;
            }
            let text = |value: Option<&Value>| value.filter(|v| !v.is_null()).map(value_text);
            let differs = match (left, right) {
                (Some(left), Some(right)) => text(Some(left)) != text(Some(right)),
                _ => false,
            };
            Some(ComparedField {
                left: text(left),
                right: text(right),
                differs,
                name,
            })
        })
        .collect();
    Comparison {
        left: "Provider reported".to_owned(),
        right: "Wallet".to_owned(),
        left_missing: reported.is_none(),
        right_missing: wallet.is_none(),
        fields: compared,
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(fields) => wire_amount(value)
            .map(|amount| format!("{} {}", amount.decimal(), amount.currency))
            .unwrap_or_else(|| {
                fields
                    .iter()
                    .filter(|(_, inner)| !inner.is_null())
                    .map(|(key, inner)| format!("{key}={}", value_text(inner)))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        other => other.to_string(),
    }
}

/// `{"value":"250","currency":"EUR","scale":2}`, the wire form of money.
fn wire_amount(value: &Value) -> Option<Amount> {
    Some(Amount {
        minor: value.get("value")?.as_str()?.parse().ok()?,
        currency: value.get("currency")?.as_str()?.to_owned(),
        scale: u32::try_from(value.get("scale")?.as_u64()?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMOUNT_MISMATCH: &str = r#"{"kind":"AMOUNT_MISMATCH","transaction_id":"w-16","op":"WIN","report_id":"r-1","reported":{"op":"WIN","player_id":"p-1","round_id":null,"amount":{"value":"1","currency":"USD","scale":2},"state":"COMMITTED"},"wallet":{"op":"WIN","player_id":"p-1","state":"COMMITTED","amount":{"value":"250","currency":"USD","scale":2}}}"#;

    #[test]
    fn details_read_as_key_value_pairs() {
        assert_eq!(
            details_text(r#"{"player_id":"p-1","amount_minor":700,"round_id":null}"#),
            "player_id: p-1 · amount_minor: 700"
        );
        assert_eq!(details_text("plain words"), "plain words");
    }

    #[test]
    fn statement_details_read_as_one_line_with_amounts() {
        let details = r#"{"kind":"AMOUNT_MISMATCH","transaction_id":"w-16","reported":{"op":"WIN","round_id":null,"amount":{"value":"1","currency":"USD","scale":2},"state":"COMMITTED"},"wallet":{"amount":{"value":"-250","currency":"JPY","scale":0}}}"#;
        assert_eq!(
            details_text(details),
            "transaction_id: w-16 · reported: op=WIN amount=0.01 USD state=COMMITTED · \
             wallet: amount=-250 JPY"
        );
    }

    #[test]
    fn a_statement_finding_compares_the_reported_row_with_the_wallet_field_by_field() {
        let (facts, comparison) = facts_and_comparison("AMOUNT_MISMATCH", AMOUNT_MISMATCH);
        let comparison = comparison.expect("two sides");
        let row = |name: &str| {
            comparison
                .fields
                .iter()
                .find(|field| field.name == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name} is compared"))
        };
        assert_eq!(row("amount").left.as_deref(), Some("0.01 USD"));
        assert_eq!(row("amount").right.as_deref(), Some("2.50 USD"));
        assert!(row("amount").differs);
        assert!(!row("state").differs && !row("op").differs);
        assert!(
            comparison
                .fields
                .iter()
                .all(|field| field.name != "round_id"),
            "a field neither side states is left out"
        );
        let names: Vec<&str> = facts.iter().map(|fact| fact.name.as_str()).collect();
        assert_eq!(names, ["transaction_id", "report_id"]);
    }

    #[test]
    fn a_side_missing_altogether_is_marked_missing_not_different() {
        let details = r#"{"kind":"MISSING_IN_WALLET","transaction_id":"b-1","op":"BET","reported":{"op":"BET","player_id":"p-1","amount":{"value":"500","currency":"EUR","scale":2},"state":"COMMITTED"}}"#;
        let (_, comparison) = facts_and_comparison("MISSING_IN_WALLET", details);
        let comparison = comparison.expect("two sides");
        assert!(comparison.right_missing && !comparison.left_missing);
        assert!(comparison.fields.iter().all(|field| !field.differs));
        assert!(comparison.fields.iter().all(|field| field.right.is_none()));
    }

    #[test]
    fn an_internal_balance_finding_compares_the_balance_with_its_ledger() {
        let (facts, comparison) = facts_and_comparison(
            BALANCE_MISMATCH,
            r#"{"balance_minor":700,"ledger_sum_minor":650}"#,
        );
        let comparison = comparison.expect("two sides");
        assert_eq!(comparison.fields[0].left.as_deref(), Some("700"));
        assert_eq!(comparison.fields[0].right.as_deref(), Some("650"));
        assert!(comparison.fields[0].differs);
        assert!(facts.is_empty());
        let (_, clearing) = facts_and_comparison(
            CLEARING_MISMATCH,
            r#"{"clearing_sum_minor":-500,"players_net_minor":500}"#,
        );
        assert!(!clearing.expect("two sides").fields[0].differs);
    }

    #[test]
    fn other_findings_are_facts_only() {
        let (facts, comparison) = facts_and_comparison(
            "STALE_ROUND",
            r#"{"player_id":"p-1","round_id":"r-1","game_id":null}"#,
        );
        assert!(comparison.is_none());
        assert_eq!(
            facts,
            [
                Fact {
                    name: "player_id".to_owned(),
                    value: "p-1".to_owned()
                },
                Fact {
                    name: "round_id".to_owned(),
                    value: "r-1".to_owned()
                }
            ]
        );
    }

    #[test]
    fn amounts_come_in_minor_units_with_their_scale() {
        let currencies = CurrencyTable::default();
        let amounts = finding_amounts(&currencies, "AMOUNT_MISMATCH", AMOUNT_MISMATCH);
        let reported = amounts.reported.expect("reported");
        assert_eq!((reported.minor, reported.decimal()), (1, "0.01".to_owned()));
        assert_eq!(amounts.wallet.expect("wallet").decimal(), "2.50");
        let orphan = finding_amounts(
            &currencies,
            PENDING_ROLLBACK,
            r#"{"amount_minor":700,"currency":"EUR","player_id":"p-1"}"#,
        );
        assert_eq!(orphan.reported, None);
        assert_eq!(orphan.wallet.expect("wallet").decimal(), "7.00");
    }
}
