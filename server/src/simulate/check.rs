//! Comparing the wallet's answers with what the model expects. Each function returns the
//! differences in words; an empty list is a correct answer.
use serde_json::Value;

use super::client::{minor_units, WireAnswer};
use super::model::Expected;

/// Whether an answer must be a first execution, a replay, or may be either (when an
/// earlier attempt went unanswered and may have executed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Fresh,
    FreshOrReplay,
}

/// An answer to a request the wallet should execute (or replay), against the model.
pub fn differences(
    answer: &WireAnswer,
    expected: &Expected,
    balance_now: i64,
    expect: Expect,
) -> Vec<String> {
    let mut out = signature_differences(answer);
    let tx = &answer.body["transaction"];
    same(&mut out, "HTTP status", answer.status, expected.status);
    same(&mut out, "error code", answer.code(), expected.code);
    if expect == Expect::Fresh && answer.replayed() {
        out.push("a first request was answered as a replay".to_owned());
    }
    same(
        &mut out,
        "transaction.state",
        tx["state"].as_str(),
        Some(expected.state),
    );
    if let Some(outcome) = expected.outcome {
        same(
            &mut out,
            "transaction.outcome",
            tx["outcome"].as_str(),
            Some(outcome),
        );
    }
    if let Some(round_state) = expected.round_state {
        same(
            &mut out,
            "transaction.round_state",
            tx["round_state"].as_str(),
            Some(round_state),
        );
    }
    if let Some(refunded) = expected.refunded {
        same(
            &mut out,
            "transaction.refunded",
            minor_units(&tx["refunded"]),
            Some(refunded),
        );
    }
    same(
        &mut out,
        "balance",
        answer.balance_minor(),
        Some(balance_now),
    );
    if expected.is_success() && !answer.replayed() {
        same(
            &mut out,
            "transaction.balance_after",
            minor_units(&tx["balance_after"]),
            Some(expected.balance_after),
        );
        if committed_at(answer).is_none() {
            out.push(format!(
                "no RFC 3339 transaction.committed_at in {}",
                answer.body
            ));
        }
    }
    out
}

/// A resent request must get the first answer again: same status, same `transaction`
/// and `error`, `replayed: true`, and the balance as it is now.
pub fn replay_differences(
    answer: &WireAnswer,
    first: &WireAnswer,
    balance_now: i64,
) -> Vec<String> {
    let mut out = signature_differences(answer);
    same(
        &mut out,
        "replayed HTTP status",
        answer.status,
        first.status,
    );
    if !answer.replayed() {
        out.push("a resent request was not answered as a replay".to_owned());
    }
    same_json(
        &mut out,
        "replayed transaction",
        &answer.body["transaction"],
        &first.body["transaction"],
    );
    same_json(
        &mut out,
        "replayed error",
        &answer.body["error"],
        &first.body["error"],
    );
    if first.balance_minor().is_some() {
        same(
            &mut out,
            "balance of the replay",
            answer.balance_minor(),
            Some(balance_now),
        );
    }
    out
}

/// The same key with another amount: `409 IDEMPOTENCY_CONFLICT` naming the amount, and
/// nothing changed.
pub fn conflict_differences(answer: &WireAnswer, balance_now: i64) -> Vec<String> {
    let mut out = signature_differences(answer);
    same(&mut out, "conflict HTTP status", answer.status, 409);
    same(
        &mut out,
        "conflict error code",
        answer.code(),
        Some("IDEMPOTENCY_CONFLICT"),
    );
    let names_amount = answer.body["error"]["details"]["fields"]
        .as_array()
        .is_some_and(|fields| fields.iter().any(|f| f == "amount.value"));
    if !names_amount {
        out.push(format!(
            "the conflict does not name amount.value: {}",
            answer.body
        ));
    }
    if let Some(balance) = answer.balance_minor() {
        same(&mut out, "balance after a conflict", balance, balance_now);
    }
    out
}

/// A deliberately spoilt request: refused with `code`, unsigned, nothing recorded.
pub fn refusal_differences(answer: &WireAnswer, code: &str) -> Vec<String> {
    let mut out = Vec::new();
    same(&mut out, "refusal HTTP status", answer.status, 401);
    same(&mut out, "refusal error code", answer.code(), Some(code));
    let retryable = code == "STALE_REQUEST";
    same(
        &mut out,
        "refusal retryable flag",
        answer.body["error"]["retryable"].as_bool(),
        Some(retryable),
    );
    out
}

/// A balance read: 200 and the model's balance.
pub fn balance_differences(answer: &WireAnswer, balance_now: i64) -> Vec<String> {
    let mut out = signature_differences(answer);
    same(&mut out, "balance HTTP status", answer.status, 200);
    same(
        &mut out,
        "balance",
        answer.balance_minor(),
        Some(balance_now),
    );
    out
}

/// `transaction.committed_at` of an answer.
pub fn committed_at(answer: &WireAnswer) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = answer.body["transaction"]["committed_at"].as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&chrono::Utc))
}

fn signature_differences(answer: &WireAnswer) -> Vec<String> {
    match answer.signature_valid {
        Some(true) => Vec::new(),
        Some(false) => vec![format!(
            "the {} answer's signature does not verify",
            answer.status
        )],
        None => vec![format!(
            "an unsigned {} answer: {}",
            answer.status, answer.body
        )],
    }
}

fn same<T: PartialEq + std::fmt::Debug>(out: &mut Vec<String>, what: &str, got: T, want: T) {
    if got != want {
        out.push(format!("{what}: wallet {got:?}, model {want:?}"));
    }
}

fn same_json(out: &mut Vec<String>, what: &str, got: &Value, want: &Value) {
    if got != want {
        out.push(format!("{what}: wallet {got}, first answer {want}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: Value) -> WireAnswer {
        WireAnswer {
            status,
            body,
            signature_valid: Some(true),
            retry_after: None,
        }
    }

    fn eur(minor: i64) -> Value {
        json!({ "value": minor.to_string(), "currency": "EUR", "scale": 2 })
    }

    #[test]
    fn a_replay_with_another_transaction_object_is_a_difference() {
        let first = answer(
            200,
            json!({ "replayed": false, "transaction": { "state": "COMMITTED" }, "balance": eur(5) }),
        );
        let replay = answer(
            200,
            json!({ "replayed": true, "transaction": { "state": "SETTLED" }, "balance": eur(5) }),
        );
        assert!(
            replay_differences(&first, &first, 5).len() == 1,
            "not replayed"
        );
        let found = replay_differences(&replay, &first, 5);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("replayed transaction"));
    }

    #[test]
    fn a_conflict_must_name_the_amount() {
        let conflict = answer(
            409,
            json!({ "error": { "code": "IDEMPOTENCY_CONFLICT", "details": { "fields": ["amount.value"] } } }),
        );
        assert!(conflict_differences(&conflict, 0).is_empty());
        let vague = answer(
            409,
            json!({ "error": { "code": "IDEMPOTENCY_CONFLICT", "details": {} } }),
        );
        assert_eq!(conflict_differences(&vague, 0).len(), 1);
    }
}
