//! A key's request as its row keeps it. The request is read only for disputes (the trace
//! page), so it is kept compressed: zstd against a dictionary of the wallet API's field
//! names, which a request of a few hundred bytes mostly consists of, takes a bet's 240
//! bytes to about 100 (docs/PERFORMANCE.md, bytes per transaction).
//!
//! The stored form is one version byte, then a zstd frame. Rows packed with a dictionary
//! must be read with it forever: a different dictionary gets a new version byte, and
//! [`unpack`] keeps reading every version it ever wrote.
use std::cell::RefCell;
use std::sync::LazyLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::CParameter;

const VERSION_1: u8 = 1;

/// Version 1's dictionary: a request of each operation with its ids left out. Never edit.
const DICTIONARY_1: &str = concat!(
    r#"{"adjustment_id":"","direction":"CREDIT","amount":{"value":"","currency":"EUR","scale":2},"reason":"deposit"}"#,
    r#"{"transaction_id":"","player_id":"","round_id":"","game_id":"","target_transaction_id":"","amount_hint":{"value":"","currency":"EUR","scale":2},"reason":"provider timeout"}"#,
    r#"{"transaction_id":"","player_id":"","round_id":"","game_id":""}"#,
    r#"{"transaction_id":"","player_id":"","round_id":"","game_id":"","amount":{"value":"","currency":"USD","scale":2},"kind":"WIN","reference_transaction_id":"","round_closed":true,"metadata":{}}"#,
    r#"{"transaction_id":"","player_id":"","round_id":"","game_id":"","session_token":"[redacted]","amount":{"value":"","currency":"EUR","scale":2},"kind":"BET","round_closed":false}"#,
);

/// zstd's default level: a request packs in microseconds.
const LEVEL: i32 = 3;
/// More than any request the wallet accepts.
const MAX_UNPACKED_BYTES: usize = 1 << 20;

static ENCODER: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICTIONARY_1.as_bytes(), LEVEL));
static DECODER: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICTIONARY_1.as_bytes()));

thread_local! {
    /// One compression context per thread, made once.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
}

/// The request packed, or `None` if packing would not make it smaller (the row then keeps
/// the text).
pub fn pack(text: &str) -> Option<Vec<u8>> {
    let frame = COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let mut compressor = Compressor::with_prepared_dictionary(&ENCODER).ok()?;
            // The frame's checksum and dictionary id would be 5 bytes of 100.
            compressor
                .set_parameter(CParameter::ChecksumFlag(false))
                .ok()?;
            compressor
                .set_parameter(CParameter::DictIdFlag(false))
                .ok()?;
            *cell = Some(compressor);
        }
        cell.as_mut()?.compress(text.as_bytes()).ok()
    })?;
    if frame.len() + 1 >= text.len() {
        return None;
    }
    let mut packed = Vec::with_capacity(frame.len() + 1);
    packed.push(VERSION_1);
    packed.extend_from_slice(&frame);
    Some(packed)
}

/// The request's text, or `None` for bytes this version cannot read.
pub fn unpack(packed: &[u8]) -> Option<String> {
    let (&version, frame) = packed.split_first()?;
    if version != VERSION_1 {
        return None;
    }
    let mut decompressor = Decompressor::with_prepared_dictionary(&DECODER).ok()?;
    let bytes = decompressor.decompress(frame, MAX_UNPACKED_BYTES).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_comes_back_byte_for_byte_and_smaller() {
        let bet = r#"{"transaction_id":"tx-8f1c2a","player_id":"p-42","round_id":"r-9","game_id":"slots","session_token":"[redacted]","amount":{"value":"1050","currency":"EUR","scale":2},"kind":"BET"}"#;
        let packed = pack(bet).expect("packs");
        assert!(
            packed.len() < bet.len() / 2,
            "{} of {}",
            packed.len(),
            bet.len()
        );
        assert_eq!(unpack(&packed).as_deref(), Some(bet));
    }

    #[test]
    fn any_text_comes_back_and_unknown_versions_are_refused() {
        let odd = "{\"note\":\"a \\\"quoted\\\" word, é, ✓, \\u0000, {braces}\"}".repeat(3);
        if let Some(packed) = pack(&odd) {
            assert_eq!(unpack(&packed).as_deref(), Some(odd.as_str()));
        }
        assert_eq!(pack("{}"), None, "too small to gain");
        let mut packed = pack(&odd).expect("packs");
        packed[0] = 2;
        assert_eq!(unpack(&packed), None);
        assert_eq!(unpack(&[]), None);
    }
}
