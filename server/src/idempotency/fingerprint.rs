//! The fingerprint: the fields that give a request its meaning. Two requests with one key
//! are the same request only if every fingerprint field matches.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    fields: BTreeMap<String, Value>,
    /// The fields as JSON, printed once: the attempt log needs the text.
    json: OnceLock<String>,
    /// The values alone, printed once: the key's row and a replay's comparison need it.
    stored: OnceLock<String>,
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
        self.stored = OnceLock::new();
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
            ..Fingerprint::default()
        }
    }

    /// What the key's row keeps: a tag of the field names, then the values alone, as a
    /// JSON array in the order of the sorted names. Every fingerprint of one scope has
    /// the same names (the wallet's operations one set, the operator's adjustments
    /// another), so the names are not stored again in every row: about a third of the
    /// text with them. The tag (8 hex digits of the names' SHA-256) keeps a later change
    /// of the names from pairing values with the wrong names: another tag differs in
    /// every field, so it can only ever be a conflict, never a wrong replay.
    /// Rows written before this form keep the object with names; both are read.
    pub fn as_stored(&self) -> &str {
        self.stored.get_or_init(|| {
            let tag = Value::String(self.names_tag());
            let values: Vec<&Value> = std::iter::once(&tag).chain(self.fields.values()).collect();
            serde_json::to_string(&values).unwrap_or_default()
        })
    }

    fn names_tag(&self) -> String {
        use sha2::{Digest, Sha256};
        let names: Vec<&str> = self.fields.keys().map(String::as_str).collect();
        hex::encode(&Sha256::digest(names.join(",").as_bytes())[..4])
    }

    /// Whether a stored fingerprint ([`Fingerprint::as_stored`], or the object of older
    /// rows) means the same request. Equal text is the common, cheap case.
    pub fn matches_stored(&self, stored: &str) -> bool {
        self.as_stored() == stored || self.differing_from_stored(stored).is_empty()
    }

    /// The wire names of the fields that differ from a stored fingerprint, sorted. A
    /// stored array of other names (its tag) differs in every field.
    pub fn differing_from_stored(&self, stored: &str) -> Vec<String> {
        if stored.trim_start().starts_with('{') {
            return self.differing_fields(&Fingerprint::from_json(stored));
        }
        let values: Vec<Value> = serde_json::from_str(stored).unwrap_or_default();
        let same_names = values.first().and_then(Value::as_str) == Some(&self.names_tag());
        if !same_names || values.len() != self.fields.len() + 1 {
            return self.fields.keys().cloned().collect();
        }
        self.fields
            .iter()
            .zip(&values[1..])
            .filter(|((_, mine), theirs)| mine != theirs)
            .map(|((name, _), _)| name.clone())
            .collect()
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
    fn the_stored_form_keeps_values_and_still_names_what_differs() {
        let a = Fingerprint::new()
            .with("op", "BET")
            .with("amount.value", "100")
            .with("round_closed", false);
        assert!(
            a.as_stored().ends_with(r#","100","BET",false]"#),
            "{}",
            a.as_stored()
        );
        assert!(a.matches_stored(a.as_stored()));
        let b = Fingerprint::new()
            .with("op", "BET")
            .with("amount.value", "101")
            .with("round_closed", false);
        assert!(!a.matches_stored(b.as_stored()));
        assert_eq!(a.differing_from_stored(b.as_stored()), vec!["amount.value"]);
        // A row written with names is read as before.
        assert!(a.matches_stored(&a.to_json()));
        assert_eq!(a.differing_from_stored(&b.to_json()), vec!["amount.value"]);
        // Another shape, or the same values under other names, differs in every field.
        assert_eq!(a.differing_from_stored(r#"["100"]"#).len(), 3);
        let renamed = Fingerprint::new()
            .with("op", "BET")
            .with("amount.valu", "100")
            .with("round_closed", false);
        assert!(!a.matches_stored(renamed.as_stored()));
        assert_eq!(a.differing_from_stored(renamed.as_stored()).len(), 3);
        assert!(!a.matches_stored("not json"));
    }

    #[test]
    fn fingerprints_survive_storage() {
        let a = Fingerprint::new()
            .with("round_closed", false)
            .with("round_id", Value::Null);
        assert_eq!(Fingerprint::from_json(&a.to_json()), a);
    }
}
