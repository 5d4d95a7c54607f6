//! The fingerprint: the fields that give a request its meaning. Two requests with one key
//! are the same request only if every fingerprint field matches.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    fields: BTreeMap<String, Value>,
    /// The fields as JSON, printed once: the attempt log, the key's row and a replay's
    /// comparison all need the text.
    json: OnceLock<String>,
}

impl PartialEq for Fingerprint {
    fn eq(&self, other: &Fingerprint) -> bool {
        self.fields == other.fields
    }
}

impl Fingerprint {
    pub fn new() -> Fingerprint {
        Fingerprint::default()
    }

    /// Adds a field under its wire name (`amount.value`, `round_closed`, …). Omitted
    /// optional fields are added as their default so that omission equals the default.
    pub fn with(mut self, wire_name: &str, value: impl Into<Value>) -> Fingerprint {
        self.fields.insert(wire_name.to_owned(), value.into());
        self.json = OnceLock::new();
        self
    }

    /// The fields as JSON (sorted keys).
    pub fn as_json(&self) -> &str {
        self.json
            .get_or_init(|| serde_json::to_string(&self.fields).unwrap_or_default())
    }

    pub fn to_json(&self) -> String {
        self.as_json().to_owned()
    }

    pub fn from_json(stored: &str) -> Fingerprint {
        Fingerprint {
            fields: serde_json::from_str(stored).unwrap_or_default(),
            json: OnceLock::new(),
        }
    }

    /// Whether a stored fingerprint means the same request. Fingerprints are stored as
    /// this type prints them (sorted keys), so equal text is the common, cheap case.
    pub fn matches_json(&self, stored: &str) -> bool {
        self.as_json() == stored
            || self
                .differing_fields(&Fingerprint::from_json(stored))
                .is_empty()
    }

    /// The wire names of the fields that differ, sorted.
    pub fn differing_fields(&self, other: &Fingerprint) -> Vec<String> {
        let mut names: Vec<String> = self
            .fields
            .keys()
            .chain(other.fields.keys())
            .filter(|name| self.fields.get(*name) != other.fields.get(*name))
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_fingerprints_have_no_differences() {
        let a = Fingerprint::new()
            .with("op", "BET")
            .with("amount.value", "100");
        assert!(a.differing_fields(&a.clone()).is_empty());
    }

    #[test]
    fn differences_are_named_by_wire_field() {
        let a = Fingerprint::new()
            .with("op", "BET")
            .with("amount.value", "100");
        let b = Fingerprint::new()
            .with("op", "WIN")
            .with("amount.value", "100")
            .with("kind", "WIN");
        assert_eq!(
            a.differing_fields(&b),
            vec!["kind".to_owned(), "op".to_owned()]
        );
    }

    #[test]
    fn fingerprints_survive_storage() {
        let a = Fingerprint::new()
            .with("round_closed", false)
            .with("round_id", Value::Null);
        assert_eq!(Fingerprint::from_json(&a.to_json()), a);
    }
}
