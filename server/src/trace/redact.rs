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
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    cap(text)
}

fn redact(value: &mut Value) {
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

fn cap(mut text: String) -> String {
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
    fn long_bodies_are_capped_on_a_char_boundary() {
        let body = "é".repeat(BODY_CAP_BYTES);
        let stored = redact_and_cap(body.as_bytes());
        assert!(stored.len() <= BODY_CAP_BYTES + "…[truncated]".len());
        assert!(stored.ends_with("[truncated]"));
    }
}
