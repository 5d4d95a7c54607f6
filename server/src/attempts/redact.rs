//! Bodies stored in the attempt log: secrets replaced, size capped.
use serde_json::Value;

/// Stored bodies are cut at this many bytes.
pub const BODY_CAP_BYTES: usize = 64 * 1024;
/// JSON fields whose values are secrets wherever they appear.
const SECRET_FIELDS: [&str; 3] = ["secret", "session_token", "password"];

/// The body as text with secret fields replaced by `"[redacted]"`, at most 64 KiB.
pub fn redact_and_cap(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(mut json) => {
            redact(&mut json);
            json.to_string()
        }
        // Truncated or malformed JSON is stored as text, for the dispute it may start:
        // its secret fields are blanked by hand.
        Err(_) => redact_text(&String::from_utf8_lossy(body)),
    };
    cap(text)
}

/// In text that is not valid JSON, replaces the value after each secret field's key
/// (a string up to its closing quote or the end of the text, anything else up to the next
/// `,` or `}`) with `[redacted]`.
fn redact_text(text: &str) -> String {
    let mut out = text.to_owned();
    for field in SECRET_FIELDS {
        let key = format!("\"{field}\"");
        let mut from = 0;
        while let Some(found) = out[from..].find(&key) {
            let after_key = from + found + key.len();
            let rest = &out[after_key..];
            let Some(colon) = rest
                .find(|c: char| !c.is_whitespace())
                .filter(|i| rest[*i..].starts_with(':'))
            else {
                from = after_key;
                continue;
            };
            let value_at = after_key + colon + 1;
            let value = &out[value_at..];
            let start = value_at + (value.len() - value.trim_start().len());
            let end = value_end(&out, start);
            out.replace_range(start..end, "\"[redacted]\"");
            from = start + "\"[redacted]\"".len();
        }
    }
    out
}

/// Where the JSON value starting at `start` ends (exclusive), tolerating truncation.
fn value_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    if bytes.get(start) == Some(&b'"') {
        let mut i = start + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        return bytes.len();
    }
    text[start..]
        .find([',', '}'])
        .map_or(text.len(), |i| start + i)
}

/// Replaces every secret field's value, at any depth, with `"[redacted]"`.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if SECRET_FIELDS.contains(&key.as_str()) {
                    *field = Value::String("[redacted]".into());
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The text cut at [`BODY_CAP_BYTES`].
pub fn cap(mut text: String) -> String {
    if text.len() > BODY_CAP_BYTES {
        let mut cut = BODY_CAP_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("…[truncated]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let body = br#"{"name":"a","keys":[{"key_id":"k","secret":"s3cr3t-s3cr3t-s3cr3t"}],"session_token":"t"}"#;
        let stored = redact_and_cap(body);
        assert!(
            !stored.contains("s3cr3t") && !stored.contains("\"t\""),
            "{stored}"
        );
        assert!(stored.contains("\"key_id\":\"k\""));
    }

    #[test]
    fn secrets_in_truncated_or_malformed_bodies_are_redacted_too() {
        for body in [
            r#"{"keys":[{"key_id":"k","secret":"s3cr3t-s3cr3t"#,
            r#"{"keys":[{"key_id":"k","secret" : "s3cr3t-\"s3cr3t", "x": 1, "#,
            r#"{"session_token":"s3cr3t-tok","amount":{"#,
            r#"{"password": s3cr3t, "next": "/"#,
        ] {
            let stored = redact_and_cap(body.as_bytes());
            assert!(!stored.contains("s3cr3t"), "{body} -> {stored}");
            assert!(stored.contains("[redacted]"), "{stored}");
        }
        assert_eq!(
            redact_and_cap(b"not json, no secret"),
            "not json, no secret"
        );
        assert_eq!(redact_and_cap(br#"{"secret""#), r#"{"secret""#);
    }

    #[test]
    fn long_bodies_are_capped_on_a_char_boundary() {
        let body = "é".repeat(BODY_CAP_BYTES);
        let stored = redact_and_cap(body.as_bytes());
        assert!(stored.len() <= BODY_CAP_BYTES + "…[truncated]".len());
        assert!(stored.ends_with("[truncated]"));
    }
}
