//! Request and response signatures (docs/API.md, "Signing"): HMAC-SHA256 over a canonical
//! string that hashes the raw body bytes, so nothing is ever re-serialised before
//! verifying.
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How far a request's timestamp may be from the server's clock.
pub const MAX_CLOCK_SKEW_MS: i64 = 300_000;

/// `"v1\n" + METHOD + "\n" + PATH_AND_QUERY + "\n" + TIMESTAMP + "\n" + hex(SHA256(body))`
pub fn request_canonical(
    method: &str,
    path_and_query: &str,
    timestamp_ms: &str,
    body: &[u8],
) -> String {
    format!(
        "v1\n{method}\n{path_and_query}\n{timestamp_ms}\n{}",
        hex::encode(Sha256::digest(body))
    )
}

/// `"v1-response\n" + STATUS_CODE + "\n" + TIMESTAMP + "\n" + hex(SHA256(body))`
pub fn response_canonical(status: u16, timestamp_ms: &str, body: &[u8]) -> String {
    format!(
        "v1-response\n{status}\n{timestamp_ms}\n{}",
        hex::encode(Sha256::digest(body))
    )
}

/// The header value: `v1=` and the lowercase hex HMAC.
pub fn sign(secret: &str, canonical: &str) -> String {
    format!(
        "v1={}",
        hex::encode(mac(secret, canonical).finalize().into_bytes())
    )
}

/// Checks a `v1=<hex>` header value in constant time.
pub fn verify(secret: &str, canonical: &str, header_value: &str) -> bool {
    let Some(given) = header_value.strip_prefix("v1=") else {
        return false;
    };
    let Ok(given) = hex::decode(given) else {
        return false;
    };
    mac(secret, canonical).verify_slice(&given).is_ok()
}

fn mac(secret: &str, canonical: &str) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(canonical.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked examples in docs/API.md ("Test vectors"), made here from fixed inputs:
    /// the test fails when the page and the code disagree, and
    /// `ONCEWALLET_WRITE_DOCS=1 cargo test -p server --lib signing` rewrites the page.
    #[test]
    fn the_test_vectors_in_the_api_docs_are_what_the_code_computes() {
        const BEGIN: &str = "<!-- signing vectors: made by server/src/wallet/signing.rs -->";
        const END: &str = "<!-- end of signing vectors -->";
        let secret = "s3cr3t-key-of-provider-acme";
        let body = r#"{"transaction_id":"tx-1001","player_id":"p-42","round_id":"r-9","game_id":"slots-1","session_token":"tok-abc","amount":{"value":"1050","currency":"EUR","scale":2}}"#;
        let request = request_canonical("POST", "/wallet/v1/bet", "1764950400000", body.as_bytes());
        let answer = r#"{"status":"OK"}"#;
        let response = response_canonical(200, "1764950400123", answer.as_bytes());
        let block = format!(
            "{BEGIN}\n\
             A request, to check signing code against:\n\n\
             | | |\n|---|---|\n\
             | secret | `{secret}` |\n\
             | method, path | `POST` `/wallet/v1/bet` |\n\
             | `X-Wallet-Timestamp` | `1764950400000` |\n\
             | body (exact bytes, no newline at the end) | `{body}` |\n\
             | SHA-256 of the body | `{}` |\n\
             | `X-Wallet-Signature` | `{}` |\n\n\
             The canonical string (four newlines, none at the end):\n\n\
             ```\n{request}\n```\n\n\
             An answer to check a response signature against: status `200`, \
             `X-Wallet-Timestamp: 1764950400123`, body `{answer}`, canonical string\n\n\
             ```\n{response}\n```\n\n\
             and `X-Wallet-Signature: {}`.\n\
             {END}",
            hex::encode(Sha256::digest(body.as_bytes())),
            sign(secret, &request),
            sign(secret, &response),
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md");
        let page = std::fs::read_to_string(path).expect("docs/API.md");
        let (Some(start), Some(end)) = (page.find(BEGIN), page.find(END)) else {
            panic!("docs/API.md has no signing vectors between {BEGIN} and {END}");
        };
        let current = &page[start..end + END.len()];
        if std::env::var_os("ONCEWALLET_WRITE_DOCS").is_some() {
            let updated = page.replace(current, &block);
            std::fs::write(path, updated).expect("write docs/API.md");
            return;
        }
        assert_eq!(
            current, block,
            "docs/API.md's signing vectors are stale; rerun with ONCEWALLET_WRITE_DOCS=1"
        );
        assert!(verify(secret, &request, &sign(secret, &request)));
    }
    use proptest::prelude::*;

    #[test]
    fn a_signature_verifies_and_a_changed_body_does_not() {
        let canonical = request_canonical("POST", "/wallet/v1/bet", "1700000000000", b"{}");
        let signature = sign("secret-secret-secret", &canonical);
        assert!(signature.starts_with("v1=") && signature.len() == 3 + 64);
        assert!(verify("secret-secret-secret", &canonical, &signature));
        let other = request_canonical("POST", "/wallet/v1/bet", "1700000000000", b"{ }");
        assert!(!verify("secret-secret-secret", &other, &signature));
        assert!(!verify("another-secret-xx", &canonical, &signature));
    }

    #[test]
    fn canonical_strings_hash_the_raw_body() {
        // sha256("") is well known; a GET signs an empty body.
        assert_eq!(
            request_canonical("GET", "/x?a=1", "5", b""),
            "v1\nGET\n/x?a=1\n5\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    proptest! {
        #[test]
        fn garbage_signatures_never_verify_or_panic(header in ".{0,80}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let canonical = request_canonical("POST", "/p", "1", &body);
            let real = sign("k", &canonical);
            prop_assume!(header != real);
            prop_assert!(!verify("k", &canonical, &header));
        }

        #[test]
        fn a_signature_verifies_for_exactly_what_was_signed(
            secret in ".{1,40}",
            path in "/[ -~]{0,40}",
            timestamp in "[0-9]{1,15}",
            body in proptest::collection::vec(any::<u8>(), 0..128),
            flip in any::<prop::sample::Index>(),
            part in 0usize..4,
        ) {
            let canonical = request_canonical("POST", &path, &timestamp, &body);
            let signature = sign(&secret, &canonical);
            prop_assert!(verify(&secret, &canonical, &signature));
            // Change one part by one character or byte: the signature no longer holds.
            let changed = match part {
                0 => request_canonical("PUT", &path, &timestamp, &body),
                1 => request_canonical("POST", &(path.clone() + "x"), &timestamp, &body),
                2 => request_canonical("POST", &path, &(timestamp.clone() + "0"), &body),
                _ => {
                    let mut body = body.clone();
                    if body.is_empty() {
                        body.push(0);
                    } else {
                        let i = flip.index(body.len());
                        body[i] ^= 1;
                    }
                    request_canonical("POST", &path, &timestamp, &body)
                }
            };
            prop_assert!(!verify(&secret, &changed, &signature));
            let other_secret = format!("{secret}x");
            prop_assert!(!verify(&other_secret, &canonical, &signature));
        }
    }
}
