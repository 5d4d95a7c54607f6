//! The OpenAPI document, generated from the handlers and wire types, served at
//! `/api-docs/openapi.json` (the browsable UI is in `docs_ui`).
//!
//! The document is checked against the running server by Schemathesis in the test command
//! (docs/API.md, "The OpenAPI document"): every answer's status and shape must be in it,
//! and every constraint the server enforces must be stated, so that requests the document
//! calls valid are not refused and requests it calls invalid are.
use std::collections::BTreeMap;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::domain::schema::{CurrencyCode, Id};
use crate::domain::CurrencyTable;
use crate::http::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oncewallet",
        description = "A casino wallet whose money operations count exactly once, however often they are retried. \
            Provider API requests are signed with HMAC-SHA256: the X-Wallet-Key-Id, X-Wallet-Timestamp and \
            X-Wallet-Signature headers of every wallet operation (see docs/API.md, \"Signing\"); answers to \
            signed requests are signed the same way. The operator API takes a bearer token."
    ),
    components(schemas(Id, CurrencyCode, crate::wallet::wire::ErrorResponse)),
    tags((name = "wallet", description = "Provider API: balance, bet, win, rollback, round close, lookups, statements"),
         (name = "operator", description = "Operator API: providers, players, adjustments, sessions, refunds, findings and runs, trail seals"))
)]
struct Root;

/// The document this server serves, as JSON: the derived one, with what the derive cannot
/// say added in one place (the common answers and signing headers, the server's currency
/// table, rules between fields).
pub fn document(currencies: &CurrencyTable) -> Value {
    let mut doc = Root::openapi();
    doc.merge(super::wallet::ApiDoc::openapi());
    doc.merge(super::operator::ApiDoc::openapi());
    doc.merge(super::reconcile::ApiDoc::openapi());
    doc.merge(super::seal::ApiDoc::openapi());
    doc.merge(super::webhooks::ApiDoc::openapi());
    let mut doc = serde_json::to_value(doc).expect("the document serialises");
    let components = &mut doc["components"];
    components["securitySchemes"]["bearer"] = json!({ "type": "http", "scheme": "bearer" });
    components["responses"] = common_responses();
    currency_schemas(&mut components["schemas"], currencies);
    cross_field_rules(&mut components["schemas"]);
    add_common_parts(&mut doc["paths"]);
    doc
}

pub fn router(currencies: &CurrencyTable) -> Router<AppState> {
    let doc = document(currencies);
    Router::new()
        .route(
            "/api-docs/openapi.json",
            get(move || async move { Json(doc) }),
        )
        .layer(crate::http::compression())
}

fn error_answer(description: &str, retry_after: bool) -> Value {
    let mut response = json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorResponse" } } }
    });
    if retry_after {
        response["headers"] = json!({ "Retry-After": {
            "description": "Seconds to wait before retrying",
            "required": true,
            "schema": { "type": "string", "pattern": "^[0-9]+$" }
        }});
    }
    response
}

/// The answers every operation of an API can give, whatever it does: in one place, and
/// referenced by each operation (`add_common_parts`).
fn common_responses() -> Value {
    json!({
        "BadRequest": error_answer(
            "MALFORMED_REQUEST: bad JSON, a missing, unknown or ill-formed field or parameter; \
             INVALID_AMOUNT: an amount or currency outside the contract. Not recorded.",
            false,
        ),
        "SignatureRefused": error_answer(
            "INVALID_SIGNATURE: a signing header missing, an unknown key or a signature that does \
             not verify; STALE_REQUEST: a timestamp more than 300 s off (sign again and resend). \
             Not signed.",
            false,
        ),
        "TokenRefused": error_answer("UNAUTHORIZED: a missing or wrong bearer token", false),
        "TooLarge": error_answer(
            "MALFORMED_REQUEST: the body exceeds 64 KiB (16 MiB for statements)",
            false,
        ),
        "RateLimited": error_answer(
            "RATE_LIMITED: the signing key sent more requests than WALLET_RATE_LIMIT_PER_KEY \
             allows; nothing was done",
            true,
        ),
        "InternalError": error_answer(
            "INTERNAL_ERROR: the outcome is unknown; retrying the same request is safe",
            false,
        ),
        "Unavailable": error_answer(
            "TEMPORARY_UNAVAILABLE: the database is unreachable or overloaded, or \
             TRANSACTION_IN_PROGRESS: the same transaction is running; nothing was committed, \
             retry",
            true,
        ),
    })
}

/// The signing headers every wallet API request carries (docs/API.md, "Signing").
fn signing_headers() -> [Value; 3] {
    let header = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "header", "required": true, "description": description, "schema": schema });
    [
        header(
            "X-Wallet-Key-Id",
            "The id of one of the provider's keys",
            json!({ "$ref": "#/components/schemas/Id" }),
        ),
        header(
            "X-Wallet-Timestamp",
            "Unix time in milliseconds, within 300 s of the server's clock",
            json!({ "type": "string", "pattern": "^[0-9]{1,18}$", "example": "1764950400000" }),
        ),
        header(
            "X-Wallet-Signature",
            "v1= and the lowercase hex HMAC-SHA256, keyed with the key's secret, of \
             \"v1\\n\" + METHOD + \"\\n\" + PATH_AND_QUERY + \"\\n\" + TIMESTAMP + \"\\n\" + \
             hex(SHA256(the raw body))",
            json!({ "type": "string", "pattern": "^v1=[0-9a-f]{64}$" }),
        ),
    ]
}

/// Adds what every operation of an API shares, unless the operation describes it itself:
/// the signing headers to wallet operations; the answers 400 to operations that read
/// parameters or a body, 401 (a signature or the bearer token), 413 to those with a body,
/// 429 to rate-limited wallet operations, 500 and 503 to all.
fn add_common_parts(paths: &mut Value) {
    let Some(paths) = paths.as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let wallet = path.starts_with("/wallet/");
        let rate_limited = wallet && path != "/wallet/v1/reconciliation/reports";
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut().filter_map(Value::as_object_mut) {
            if wallet {
                let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
                if let Some(parameters) = parameters.as_array_mut() {
                    parameters.extend(signing_headers());
                }
            }
            if let Some(body) = operation.get_mut("requestBody") {
                optional_body_is_left_out(body);
            }
            let has_body = operation.contains_key("requestBody");
            let has_input = has_body
                || operation
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|parameters| !parameters.is_empty());
            let mut wanted = vec![(
                "401",
                if wallet {
                    "SignatureRefused"
                } else {
                    "TokenRefused"
                },
            )];
            if has_input {
                wanted.push(("400", "BadRequest"));
            }
            if has_body {
                wanted.push(("413", "TooLarge"));
            }
            if rate_limited {
                wanted.push(("429", "RateLimited"));
            }
            wanted.extend([("500", "InternalError"), ("503", "Unavailable")]);
            let responses = operation.entry("responses").or_insert_with(|| json!({}));
            if let Some(responses) = responses.as_object_mut() {
                for (status, name) in wanted {
                    responses.entry(status).or_insert_with(
                        || json!({ "$ref": format!("#/components/responses/{name}") }),
                    );
                }
            }
        }
    }
}

/// An optional body (`Option<T>` in `request_body`) is left out, never sent as JSON `null`:
/// its schema is `T`'s, and `required: false` says it may be absent.
fn optional_body_is_left_out(body: &mut Value) {
    if body.get("required") == Some(&Value::Bool(true)) {
        return;
    }
    let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    for media in content.values_mut() {
        let schema = &mut media["schema"];
        let not_null = schema["oneOf"].as_array().and_then(|branches| {
            let rest: Vec<&Value> = branches
                .iter()
                .filter(|branch| branch.get("type") != Some(&json!("null")))
                .collect();
            (rest.len() == 1 && branches.len() == 2).then(|| rest[0].clone())
        });
        if let Some(not_null) = not_null {
            *schema = not_null;
        }
    }
    body["required"] = json!(false);
}

/// The money object and currency codes as this server accepts them: one branch per scale,
/// each listing the currencies of that scale, so that `scale` must be the currency's.
fn currency_schemas(schemas: &mut Value, currencies: &CurrencyTable) {
    let mut by_scale: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for (code, scale) in currencies.scales() {
        by_scale.entry(scale).or_default().push(code);
    }
    for codes in by_scale.values_mut() {
        codes.sort_unstable();
    }
    let mut all: Vec<&str> = by_scale.values().flatten().copied().collect();
    all.sort_unstable();
    let branches: Vec<Value> = by_scale
        .iter()
        .map(|(scale, codes)| {
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["value", "currency", "scale"],
                "properties": {
                    "value": {
                        "type": "string",
                        "pattern": "^(0|[1-9][0-9]{0,17})$",
                        "description": "Minor units as a base-10 string: digits only, no sign, no leading zeros, at most 18 digits",
                        "example": "1050"
                    },
                    "currency": { "type": "string", "enum": codes },
                    "scale": { "type": "integer", "enum": [scale] }
                }
            })
        })
        .collect();
    schemas["WireMoney"] = json!({
        "description": "Money: `value` in minor units of `currency`, whose `scale` must be the \
            wallet's for that currency (ISO 4217 exponents, BTC 8, USDT 6 and \
            WALLET_CURRENCY_SCALES). A field of the wrong JSON type or any other amount is \
            400 INVALID_AMOUNT.",
        "oneOf": branches,
        "example": { "value": "1050", "currency": "EUR", "scale": 2 }
    });
    schemas["CurrencyCode"] = json!({
        "type": "string",
        "description": "A currency the wallet accepts",
        "enum": all,
        "example": "EUR"
    });
}

/// Rules between fields, which the derived schemas cannot state.
fn cross_field_rules(schemas: &mut Value) {
    // A win that settles a bet names its round; only promotional and jackpot wins may not.
    schemas["WinRequest"]["anyOf"] = json!([
        { "required": ["round_id"], "properties": { "round_id": { "type": "string" } } },
        { "required": ["kind"], "properties": { "kind": { "enum": ["JACKPOT_WIN", "PROMO_WIN"] } } }
    ]);
    // A statement row without an amount is a rollback's.
    schemas["RawRow"]["anyOf"] = json!([
        { "required": ["amount"], "properties": { "amount": { "type": "object" } } },
        { "required": ["op"], "properties": { "op": { "enum": ["ROLLBACK"] } } }
    ]);
}
