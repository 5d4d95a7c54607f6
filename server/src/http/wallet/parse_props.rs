//! Property tests of the request parsers: whatever bytes or JSON a
//! provider sends, parsing a money operation never panics, refuses only with the two
//! contract codes for bad input, and what it accepts holds valid ids and amounts.
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::domain::{CurrencyTable, ProviderId, TransactionId, MAX_MINOR};
use crate::error::{ApiError, ErrorCode};
use crate::http::parse_json_redacted;
use crate::idempotency::KeyedRequest;
use crate::money::Operation;
use crate::wallet::operations::{Bet, CloseRound, RequestContext, Rollback, Win};
use crate::wallet::wire::{BetRequest, CloseRoundRequest, RollbackRequest, WinRequest};

fn context() -> RequestContext {
    RequestContext {
        provider_id: ProviderId::parse("prov-1").expect("id"),
        currencies: Arc::new(CurrencyTable::default()),
        request_id: "req-1".to_owned(),
    }
}

/// Parses `body` as the operation at `path`, as the handlers do.
fn parse(path: &str, body: &[u8]) -> Result<KeyedRequest, ApiError> {
    fn run<R: serde::de::DeserializeOwned, O: Operation>(
        body: &[u8],
        parse: fn(R, String, RequestContext) -> Result<O, ApiError>,
    ) -> Result<KeyedRequest, ApiError> {
        let (request, stored) = parse_json_redacted::<R>(body)?;
        parse(request, stored, context()).map(|op| op.keyed().clone())
    }
    match path {
        "bet" => run::<BetRequest, Bet>(body, Bet::parse),
        "win" => run::<WinRequest, Win>(body, Win::parse),
        "rollback" => run::<RollbackRequest, Rollback>(body, Rollback::parse),
        _ => run::<CloseRoundRequest, CloseRound>(body, CloseRound::parse),
    }
}

/// Refusals of bad input are `MALFORMED_REQUEST` or `INVALID_AMOUNT`, nothing else.
fn refused_within_contract(result: &Result<KeyedRequest, ApiError>) -> bool {
    match result {
        Ok(_) => true,
        Err(error) => matches!(
            error.code,
            ErrorCode::MalformedRequest | ErrorCode::InvalidAmount
        ),
    }
}

fn accepted_is_valid(keyed: &KeyedRequest) -> bool {
    TransactionId::parse(keyed.transaction_id.as_str()).is_ok()
        && crate::domain::PlayerId::parse(keyed.player_id.clone()).is_ok()
        && keyed
            .amount
            .as_ref()
            .is_none_or(|m| (0..=MAX_MINOR).contains(&m.minor.get()))
}

const OPS: [&str; 4] = ["bet", "win", "rollback", "close"];

/// A valid body of each operation, the base the properties change.
fn valid(op: &str) -> Value {
    let mut body = json!({ "transaction_id": "tx-1", "player_id": "p-1", "round_id": "r-1",
                           "game_id": "g-1" });
    match op {
        "bet" => {
            body["session_token"] = json!("s");
            body["amount"] = json!({ "value": "100", "currency": "EUR", "scale": 2 });
        }
        "win" => body["amount"] = json!({ "value": "100", "currency": "EUR", "scale": 2 }),
        "rollback" => body["target_transaction_id"] = json!("tx-0"),
        _ => {}
    }
    body
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        "[A-Za-z0-9._:-]{1,20}".prop_map(Value::from),
        "(0|[1-9][0-9]{0,19})".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The field names the parsers know, plus noise.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "transaction_id",
            "player_id",
            "round_id",
            "game_id",
            "session_token",
            "amount",
            "kind",
            "round_closed",
            "metadata",
            "reference_transaction_id",
            "target_transaction_id",
            "amount_hint",
            "reason",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,16}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_parsed_or_refused_within_the_contract(
        op in prop::sample::select(OPS.to_vec()),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let result = parse(op, &body);
        prop_assert!(refused_within_contract(&result), "{:?}", result.err());
    }

    #[test]
    fn a_valid_body_with_one_field_replaced_is_valid_or_refused_within_the_contract(
        op in prop::sample::select(OPS.to_vec()),
        field in field_name(),
        value in any_json(),
    ) {
        let mut body = valid(op);
        body[&field] = value;
        let bytes = serde_json::to_vec(&body).expect("serialise");
        let result = parse(op, &bytes);
        prop_assert!(refused_within_contract(&result), "{}: {:?}", body, result.as_ref().err());
        if let Ok(keyed) = &result {
            prop_assert!(accepted_is_valid(keyed), "accepted {}", body);
        }
    }

    #[test]
    fn an_amount_is_accepted_exactly_when_it_is_canonical(
        value in prop_oneof!["(0|[1-9][0-9]{0,17})", "[-+0-9. eE]{0,22}", ".{0,8}"],
        scale in prop_oneof![Just(2u32), 0u32..20],
    ) {
        let mut body = valid("bet");
        body["amount"] = json!({ "value": value, "currency": "EUR", "scale": scale });
        let result = parse("bet", &serde_json::to_vec(&body).expect("serialise"));
        let canonical = (value == "0" || (!value.starts_with('0') && !value.is_empty()))
            && value.len() <= 18
            && value.bytes().all(|b| b.is_ascii_digit())
            && scale == 2;
        match result {
            Ok(keyed) => {
                prop_assert!(canonical, "accepted {value:?} at scale {scale}");
                prop_assert_eq!(keyed.amount.expect("amount").minor.to_string(), value);
            }
            Err(error) => {
                prop_assert!(!canonical, "refused {value:?}: {error:?}");
                prop_assert_eq!(error.code, ErrorCode::InvalidAmount);
            }
        }
    }
}

#[test]
fn the_valid_bases_parse() {
    for op in OPS {
        let bytes = serde_json::to_vec(&valid(op)).expect("serialise");
        assert!(parse(op, &bytes).is_ok(), "{op}");
    }
}
