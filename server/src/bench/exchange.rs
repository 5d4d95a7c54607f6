//! Sending one operation the way a provider does: signed, and sent again after a 5xx or a
//! lost connection until a definitive answer comes back; and checking that answer.
use std::time::{Duration, Instant};

use serde_json::Value;

use super::stats::Recorder;
use crate::simulate::client::{minor_units, UncheckedAnswer, WalletClient, WireAnswer};

/// Attempts per operation; with the back-off below that is about ten seconds of trying.
const MAX_ATTEMPTS: u32 = 100;
/// Back-off after a 5xx or a transport error, growing to this much.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// How an answer is counted: its status and, for errors, its code.
fn label(answer: &WireAnswer) -> String {
    match answer.code() {
        Some(code) => format!("{} {code}", answer.status),
        None => answer.status.to_string(),
    }
}

/// An operation's definitive answer (status below 500), and whether an earlier attempt
/// may have executed it (a 500 or a lost answer), so that a replay is a fair answer.
pub struct Definitive {
    pub answer: WireAnswer,
    pub retried_after_unknown: bool,
}

/// Sends `body` to `path` until the answer is definitive. 503s (load shed, transaction in
/// progress) are retried after a short pause rather than the full `Retry-After`, so that
/// a shed request costs the figures its latency and not a second of idling. `None` when
/// no definitive answer came within the attempt budget.
pub async fn send(
    wallet: &WalletClient,
    path: &str,
    body: &[u8],
    recorder: &mut Recorder,
) -> Option<Definitive> {
    let (answer, retried_after_unknown) = send_unchecked(wallet, path, body, recorder).await?;
    Some(Definitive {
        answer: answer.checked(wallet.key()),
        retried_after_unknown,
    })
}

/// [`send`] without parsing the definitive answer or checking its signature, for a
/// client that checks its answers after its clock stops; whether an earlier attempt may
/// have executed it.
pub async fn send_unchecked(
    wallet: &WalletClient,
    path: &str,
    body: &[u8],
    recorder: &mut Recorder,
) -> Option<(UncheckedAnswer, bool)> {
    let mut retried_after_unknown = false;
    for attempt in 0..MAX_ATTEMPTS {
        let started = Instant::now();
        let result = wallet.post_unchecked(path, body).await;
        let latency = started.elapsed();
        match result {
            Ok(answer) => {
                // A 200 is labelled by its status alone; an error also by its code.
                let label = match answer.status {
                    200 => "200".to_owned(),
                    _ => label(&answer.checked(wallet.key())),
                };
                recorder.request(latency, label);
                if answer.status < 500 {
                    recorder.operations += 1;
                    return Some((answer, retried_after_unknown));
                }
                // 503 means nothing was committed; 500 means nobody knows.
                retried_after_unknown |= answer.status != 503;
            }
            Err(_) => {
                recorder.request(latency, "transport error".to_owned());
                retried_after_unknown = true;
            }
        }
        let pause = Duration::from_millis(5 * u64::from(attempt + 1)).min(MAX_BACKOFF);
        tokio::time::sleep(pause).await;
    }
    recorder.unresolved += 1;
    None
}

/// What a first execution must look like.
pub struct Expected<'a> {
    pub what: &'a str,
    pub balance_after: i64,
    /// `transaction.outcome` of a rollback.
    pub outcome: Option<&'a str>,
}

/// The differences between a first execution's answer and the model, in words.
pub fn check_first(definitive: &Definitive, expected: &Expected<'_>) -> Option<String> {
    let answer = &definitive.answer;
    let mut out = Vec::new();
    if answer.signature_valid != Some(true) {
        out.push("answer not signed correctly".to_owned());
    }
    if answer.status != 200 {
        out.push(format!("status {} ({})", answer.status, answer.body));
    }
    if answer.replayed() && !definitive.retried_after_unknown {
        out.push("a first request answered as a replay".to_owned());
    }
    let tx = &answer.body["transaction"];
    if !answer.replayed() && minor_units(&tx["balance_after"]) != Some(expected.balance_after) {
        out.push(format!(
            "balance_after {:?}, model {}",
            minor_units(&tx["balance_after"]),
            expected.balance_after
        ));
    }
    if let Some(outcome) = expected.outcome {
        if tx["outcome"].as_str() != Some(outcome) {
            out.push(format!("outcome {}, model {outcome}", tx["outcome"]));
        }
    }
    (!out.is_empty()).then(|| format!("{}: {}", expected.what, out.join("; ")))
}

/// The differences between a resent request's answer and the first answer: same status,
/// `transaction` and `error`, `replayed: true`, and the balance as it is now.
pub fn check_replay(
    answer: &WireAnswer,
    first_status: u16,
    first_transaction: &Value,
    balance_now: Option<i64>,
) -> Option<String> {
    let mut out = Vec::new();
    if answer.signature_valid != Some(true) {
        out.push("answer not signed correctly".to_owned());
    }
    if answer.status != first_status {
        out.push(format!("status {}, first {first_status}", answer.status));
    }
    if !answer.replayed() {
        out.push("not answered as a replay".to_owned());
    }
    if &answer.body["transaction"] != first_transaction {
        out.push(format!(
            "transaction {}, first {first_transaction}",
            answer.body["transaction"]
        ));
    }
    if let Some(balance) = balance_now {
        if answer.balance_minor() != Some(balance) {
            out.push(format!(
                "balance {:?}, model {balance}",
                answer.balance_minor()
            ));
        }
    }
    (!out.is_empty()).then(|| format!("replay: {}", out.join("; ")))
}
