//! The `Oncewallet-Signature` header (docs/EVENTS.md, "Verifying a delivery"):
//! `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a delivery's `t` may be from the receiver's clock.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The header's value for `body` signed at `t`.
pub fn header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Why a receiver refuses a delivery.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the header is not t=…,v1=…")]
    Malformed,
    #[error("t is more than {TOLERANCE_SECONDS} s from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// What a receiver does with a delivery: the check the receiver in docs/EVENTS.md makes,
/// used by the tests against the server's own deliveries.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), Refused> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(Refused::Malformed);
    };
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(Refused::Stale);
    }
    if bool::from(mac(secret, t, body).ct_eq(&v1)) {
        Ok(())
    } else {
        Err(Refused::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec-0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let body = br#"{"event_id":"evt_1"}"#;
        let signed = header(SECRET, 1_700_000_000, body);
        assert_eq!(verify(SECRET, &signed, body, 1_700_000_100), Ok(()));
        assert_eq!(
            verify(SECRET, &signed, br#"{"event_id":"evt_2"}"#, 1_700_000_100),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(
                "another secret of thirty-two chars!!",
                &signed,
                body,
                1_700_000_100
            ),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &signed, body, 1_700_000_000 + TOLERANCE_SECONDS + 1),
            Err(Refused::Stale)
        );
        assert_eq!(
            verify(SECRET, "v1=00", body, 1_700_000_000),
            Err(Refused::Malformed)
        );
    }

    #[test]
    fn the_mac_covers_the_time_and_the_body_joined_by_a_dot() {
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            header("key", 1_700_000_000, b"{}"),
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
