//! Bad input is refused with 400/413, never a 5xx, never changes state and is never
//! recorded: the corrected request with the same transaction id executes normally.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const MALFORMED: &[&str] = &["MALFORMED_REQUEST"];
const INVALID_AMOUNT: &[&str] = &["INVALID_AMOUNT"];
/// A wrong JSON type inside a money object is both a type error and a bad amount.
const EITHER: &[&str] = &["MALFORMED_REQUEST", "INVALID_AMOUNT"];

/// One bad request: what it is, its raw body, the status and the acceptable codes.
struct Case {
    name: String,
    body: Vec<u8>,
    status: u16,
    codes: &'static [&'static str],
}

fn case(name: &str, body: &Value, codes: &'static [&'static str]) -> Case {
    Case {
        name: name.to_owned(),
        body: serde_json::to_vec(body).expect("serialise"),
        status: 400,
        codes,
    }
}

fn raw_case(name: &str, body: &[u8], codes: &'static [&'static str]) -> Case {
    Case {
        name: name.to_owned(),
        body: body.to_vec(),
        status: 400,
        codes,
    }
}

fn with(base: &Value, pointer: &str, value: Value) -> Value {
    let mut body = base.clone();
    *body
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {base}")) = value;
    body
}

fn with_field(base: &Value, field: &str, value: Value) -> Value {
    let mut body = base.clone();
    body[field] = value;
    body
}

fn without(base: &Value, field: &str) -> Value {
    let mut body = base.clone();
    body.as_object_mut().expect("object").remove(field);
    body
}

/// Invalid id values for any id field.
fn bad_ids() -> Vec<(&'static str, Value)> {
    vec![
        ("empty", json!("")),
        ("129 characters", json!("a".repeat(129))),
        ("a space", json!("has space")),
        ("a slash", json!("a/b")),
        ("a non-ASCII letter", json!("café")),
        ("a newline", json!("a\nb")),
        ("a number", json!(42)),
        ("null", Value::Null),
    ]
}

/// Sends every case, checks each refusal, then checks that nothing was stored or moved.
async fn assert_all_refused(app: &TestApp, provider: &TestProvider, path: &str, cases: Vec<Case>) {
    let transactions = app.transaction_count().await;
    let entries = app.ledger_entry_count().await;
    for case in cases {
        let response = provider
            .call_raw(Method::POST, path, case.body.clone())
            .send()
            .await;
        assert_eq!(
            response.status, case.status,
            "{path}: {}: body {}",
            case.name, response.body
        );
        assert!(
            response
                .code()
                .is_some_and(|code| case.codes.contains(&code)),
            "{path}: {}: expected one of {:?}, got {}",
            case.name,
            case.codes,
            response.body
        );
        assert_eq!(response.body["status"], "ERROR", "{path}: {}", case.name);
        assert_eq!(
            response.body["error"]["retryable"], false,
            "{path}: {}",
            case.name
        );
    }
    assert_eq!(
        app.transaction_count().await,
        transactions,
        "{path}: bad input was recorded"
    );
    assert_eq!(
        app.ledger_entry_count().await,
        entries,
        "{path}: bad input moved money"
    );
}

fn amount_cases(base: &Value, field: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for value in [
        "-100",
        "01",
        "00",
        "1.5",
        "",
        "1e3",
        " 100",
        "100 ",
        "+100",
        "1_000",
        "0x10",
        "１２",
        "1000000000000000000",
    ] {
        cases.push(case(
            &format!("{field}.value {value:?}"),
            &with(base, &format!("/{field}/value"), json!(value)),
            INVALID_AMOUNT,
        ));
    }
    for (scale, codes) in [
        (json!(3), INVALID_AMOUNT),
        (json!(0), INVALID_AMOUNT),
        (json!(-2), EITHER),
        (json!("2"), EITHER),
    ] {
        cases.push(case(
            &format!("{field}.scale {scale}"),
            &with(base, &format!("/{field}/scale"), scale),
            codes,
        ));
    }
    for currency in ["XXX", "eur", "EU", "EURO"] {
        cases.push(case(
            &format!("{field}.currency {currency}"),
            &with(base, &format!("/{field}/currency"), json!(currency)),
            INVALID_AMOUNT,
        ));
    }
    // A field of the money object of the wrong JSON type says what to fix.
    for (what, path, value) in [
        ("value a number", "value", json!(100)),
        ("value null", "value", json!(null)),
        ("currency a number", "currency", json!(978)),
        ("scale a string", "scale", json!("2")),
    ] {
        cases.push(case(
            &format!("{field}.{what}"),
            &with(base, &format!("/{field}/{path}"), value),
            INVALID_AMOUNT,
        ));
    }
    cases.push(case(
        &format!("{field} a string"),
        &with_field(base, field, json!("100")),
        EITHER,
    ));
    cases.push(case(
        &format!("{field} without value"),
        &without_in(base, field, "value"),
        MALFORMED,
    ));
    cases.push(case(
        &format!("{field} without currency"),
        &without_in(base, field, "currency"),
        MALFORMED,
    ));
    cases.push(case(
        &format!("{field} with an extra field"),
        &with(base, &format!("/{field}"), {
            let mut money = base[field].clone();
            money["sign"] = json!("-");
            money
        }),
        MALFORMED,
    ));
    cases
}

fn without_in(base: &Value, object: &str, field: &str) -> Value {
    let mut body = base.clone();
    body[object].as_object_mut().expect("object").remove(field);
    body
}

/// The shape errors every money operation shares.
fn common_cases(base: &Value, required: &[&str], id_fields: &[&str]) -> Vec<Case> {
    let mut cases = vec![
        raw_case("not JSON", b"{not json", MALFORMED),
        raw_case("an empty body", b"", MALFORMED),
        raw_case("JSON null", b"null", MALFORMED),
        raw_case("a JSON string", b"\"bet\"", MALFORMED),
        raw_case(
            "a truncated object",
            &serde_json::to_vec(base).expect("serialise")[..20],
            MALFORMED,
        ),
        raw_case(
            "invalid UTF-8",
            b"{\"transaction_id\": \"\xff\xfe\"}",
            MALFORMED,
        ),
        case("a JSON array", &json!([base]), MALFORMED),
        case(
            "an unknown field",
            &with_field(base, "bonus_multiplier", json!(2)),
            MALFORMED,
        ),
        case(
            "metadata a string",
            &with_field(base, "metadata", json!("note")),
            MALFORMED,
        ),
        case(
            "metadata an array",
            &with_field(base, "metadata", json!([1, 2])),
            MALFORMED,
        ),
        case(
            "metadata over 4 KiB",
            &with_field(base, "metadata", json!({ "blob": "m".repeat(4_200) })),
            MALFORMED,
        ),
        case(
            "round_closed a string",
            &with_field(base, "round_closed", json!("yes")),
            MALFORMED,
        ),
    ];
    for field in required {
        cases.push(case(
            &format!("without {field}"),
            &without(base, field),
            MALFORMED,
        ));
    }
    for field in id_fields {
        for (what, value) in bad_ids() {
            // An optional id given as null reads as absent, which is valid.
            if value.is_null() && *field == "reference_transaction_id" {
                continue;
            }
            cases.push(case(
                &format!("{field} {what}"),
                &with_field(base, field, value),
                MALFORMED,
            ));
        }
    }
    cases
}

/// A correctly signed request whose body is over 64 KiB.
fn oversized(base: &Value) -> Vec<u8> {
    let mut huge = base.clone();
    huge["metadata"] = json!({ "blob": "h".repeat(70 * 1024) });
    serde_json::to_vec(&huge).expect("serialise")
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_with_413_and_the_corrected_request_executes() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    let cases = vec![Case {
        name: "a bet over 64 KiB".to_owned(),
        body: oversized(&bet),
        status: 413,
        codes: MALFORMED,
    }];

    // Section 4 puts the 413 after authentication, so the helper also checks that it
    // is signed like every answer but the two 401s.
    assert_all_refused(&app, &provider, "/wallet/v1/bet", cases).await;

    provider.bet(&bet).await.assert_ok().assert_fresh();
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn bad_bets_are_refused_unrecorded_and_the_corrected_bet_executes() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let bet = player.bet(&player.new_round(), 100);
    let mut cases = common_cases(
        &bet,
        &[
            "transaction_id",
            "player_id",
            "round_id",
            "game_id",
            "amount",
            "session_token",
        ],
        &["transaction_id", "player_id", "round_id", "game_id"],
    );
    cases.extend(amount_cases(&bet, "amount"));
    for kind in [json!("WIN"), json!("JACKPOT"), json!("bet"), json!(1)] {
        cases.push(case(
            &format!("kind {kind}"),
            &with_field(&bet, "kind", kind),
            MALFORMED,
        ));
    }
    cases.push(case(
        "session_token a number",
        &with_field(&bet, "session_token", json!(7)),
        MALFORMED,
    ));

    assert_all_refused(&app, &provider, "/wallet/v1/bet", cases).await;

    provider.assert_balance(&player, 1_000).await;
    provider.bet(&bet).await.assert_ok().assert_fresh();
    provider.assert_balance(&player, 900).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn bad_wins_are_refused_unrecorded_and_the_corrected_win_executes() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    let win = player.win_for(&round, 300, &tx_id(&bet));
    let mut cases = common_cases(
        &win,
        &[
            "transaction_id",
            "player_id",
            "round_id",
            "game_id",
            "amount",
        ],
        &[
            "transaction_id",
            "player_id",
            "round_id",
            "game_id",
            "reference_transaction_id",
        ],
    );
    cases.extend(amount_cases(&win, "amount"));
    for kind in [json!("BET"), json!("FREE_BET"), json!("BONUS"), json!(3)] {
        cases.push(case(
            &format!("kind {kind}"),
            &with_field(&win, "kind", kind),
            MALFORMED,
        ));
    }

    assert_all_refused(&app, &provider, "/wallet/v1/win", cases).await;

    provider.assert_balance(&player, 900).await;
    provider.win(&win).await.assert_ok().assert_fresh();
    provider.assert_balance(&player, 1_200).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn bad_rollbacks_are_refused_unrecorded_and_the_corrected_rollback_executes() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    let bet = player.bet(&round, 100);
    provider.bet(&bet).await.assert_ok();
    let mut rollback = player.rollback(&round, &tx_id(&bet));
    rollback["amount_hint"] = player.money(100);
    let mut cases = common_cases(
        &rollback,
        &[
            "transaction_id",
            "player_id",
            "round_id",
            "game_id",
            "target_transaction_id",
        ],
        &[
            "transaction_id",
            "player_id",
            "round_id",
            "game_id",
            "target_transaction_id",
        ],
    );
    cases.extend(amount_cases(&rollback, "amount_hint"));
    cases.push(case(
        "reason a number",
        &with_field(&rollback, "reason", json!(5)),
        MALFORMED,
    ));

    assert_all_refused(&app, &provider, "/wallet/v1/rollback", cases).await;

    provider.assert_balance(&player, 900).await;
    let response = provider.rollback(&rollback).await;
    response.assert_ok().assert_fresh();
    assert_eq!(response.tx()["outcome"], "REFUNDED");
    provider.assert_balance(&player, 1_000).await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn bad_round_closes_are_refused_unrecorded_and_the_corrected_close_executes() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();
    let close = player.close_round(&round);
    let mut cases = common_cases(
        &close,
        &["transaction_id", "player_id", "round_id", "game_id"],
        &["transaction_id", "player_id", "round_id", "game_id"],
    );
    // round_closed belongs to the other operations; a close has only the four ids.
    cases.retain(|c| c.name != "round_closed a string" && !c.name.starts_with("metadata"));
    cases.push(case(
        "an amount",
        &with_field(&close, "amount", player.money(100)),
        MALFORMED,
    ));

    assert_all_refused(&app, &provider, "/wallet/v1/rounds/close", cases).await;

    let response = provider.close_round(&close).await;
    response.assert_ok().assert_fresh();
    assert_eq!(response.tx()["round_state"], "CLOSED");
    provider
        .bet(&player.bet(&round, 100))
        .await
        .assert_error("ROUND_CLOSED");
    provider.assert_balance(&player, 900).await;
}

#[tokio::test]
async fn a_promo_win_may_omit_the_round_but_a_win_may_not() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = player.new_round();
    provider.bet(&player.bet(&round, 100)).await.assert_ok();

    for kind in ["WIN", "FREE_WIN"] {
        let mut win = without(&player.win(&round, 100), "round_id");
        win["kind"] = json!(kind);
        provider.win(&win).await.assert_error("MALFORMED_REQUEST");
    }
    let mut promo = without(&player.win(&round, 100), "round_id");
    promo["kind"] = json!("PROMO_WIN");
    provider.win(&promo).await.assert_ok();

    provider.assert_balance(&player, 1_000).await;
}

#[tokio::test]
async fn inputs_at_the_limits_are_accepted() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let round = "r".repeat(128);

    let mut bet = player.bet(&round, 100);
    bet["transaction_id"] = json!(format!("Az09._:-{}", "x".repeat(120)));
    bet["metadata"] = json!({ "blob": "m".repeat(3_000), "nested": { "list": [1, 2, 3] } });
    provider.bet(&bet).await.assert_ok();
    provider.assert_balance(&player, 900).await;

    // 18 digits parse; the bet is then declined for funds, not for its amount.
    let big = player.bet(&round, MAX_BALANCE_MINOR);
    provider.bet(&big).await.assert_error("INSUFFICIENT_FUNDS");
    provider.assert_balance(&player, 900).await;
}

// --- Property tests for the parsers ----------------------------------------------

fn is_canonical_amount(value: &str) -> bool {
    value == "0"
        || (!value.is_empty()
            && value.len() <= 18
            && !value.starts_with('0')
            && value.bytes().all(|b| b.is_ascii_digit()))
}

fn is_valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

#[test]
fn any_amount_string_is_either_parsed_or_invalid_amount() {
    let rt = runtime();
    let (app, provider, player) = rt.block_on(async {
        let app = spawn_app().await;
        let provider = TestProvider::new(&app).await;
        let player = TestPlayer::new(&provider, "EUR").await;
        (app, provider, player)
    });
    let strategy = prop_oneof![
        "(0|[1-9][0-9]{0,17})",
        "[0-9]{0,22}",
        "[-+ .,eE0-9xX_]{0,20}",
        any::<String>(),
    ];

    runner(48)
        .run(&strategy, |value| {
            rt.block_on(async {
                let mut bet = player.bet(&player.new_round(), 1);
                bet["amount"]["value"] = json!(value);
                let response = provider.bet(&bet).await;
                if is_canonical_amount(&value) {
                    prop_assert_ne!(
                        response.status,
                        400,
                        "{:?} is a valid amount: {}",
                        value,
                        response.body
                    );
                } else {
                    prop_assert_eq!(response.status, 400, "{:?}: {}", value, response.body);
                    prop_assert_eq!(
                        response.code(),
                        Some("INVALID_AMOUNT"),
                        "{:?}: {}",
                        value,
                        response.body
                    );
                }
                Ok(())
            })
        })
        .unwrap_or_else(|failure| panic!("{failure}"));

    rt.block_on(async move {
        provider.assert_balance(&player, 0).await;
        assert_invariants(&app).await;
    });
}

#[test]
fn any_transaction_id_is_either_accepted_or_malformed_request() {
    let rt = runtime();
    let (app, provider, player) = rt.block_on(async {
        let app = spawn_app().await;
        let provider = TestProvider::new(&app).await;
        let player = TestPlayer::new(&provider, "EUR").await;
        (app, provider, player)
    });
    let strategy = prop_oneof![
        "[A-Za-z0-9._:-]{1,128}",
        "[A-Za-z0-9._:-]{120,140}",
        "[A-Za-z0-9 ._:/#?%-]{0,10}",
        any::<String>(),
    ];

    runner(48)
        .run(&strategy, |suffix| {
            rt.block_on(async {
                // A per-case prefix keeps valid ids unique between cases.
                let id = if suffix.is_empty() {
                    suffix.clone()
                } else {
                    format!("{}{suffix}", &unique_id("p")[..10])
                };
                let mut bet = player.bet(&player.new_round(), 100);
                bet["transaction_id"] = json!(id);
                let response = provider.bet(&bet).await;
                if is_valid_id(&id) {
                    // A balance of zero: the valid bet is declined for funds, and recorded.
                    prop_assert_eq!(
                        response.code(),
                        Some("INSUFFICIENT_FUNDS"),
                        "{:?}: {}",
                        id,
                        response.body
                    );
                } else {
                    prop_assert_eq!(response.status, 400, "{:?}: {}", id, response.body);
                    prop_assert_eq!(
                        response.code(),
                        Some("MALFORMED_REQUEST"),
                        "{:?}: {}",
                        id,
                        response.body
                    );
                }
                Ok(())
            })
        })
        .unwrap_or_else(|failure| panic!("{failure}"));

    rt.block_on(async move {
        provider.assert_balance(&player, 0).await;
        assert_invariants(&app).await;
    });
}

#[tokio::test]
async fn a_money_object_sent_as_an_array_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 1_000).await;
    let mut bet = player.bet(&player.new_round(), 100);
    bet["amount"] = serde_json::json!(["100", "EUR", 2]);
    provider.bet(&bet).await.assert_error("MALFORMED_REQUEST");
    provider.assert_balance(&player, 1_000).await;
    assert_eq!(app.stored_state(&provider, &tx_id(&bet)).await, None);
}
