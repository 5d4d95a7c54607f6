//! What an attempt's row keeps. A key's first execution (and a replay of it) would
//! otherwise store the same request, answer and fingerprint twice: in the key's row of
//! `wallet_transactions`, which keeps them as long as the money data, and in the attempt
//! log. The log keeps them only where they say something the key's row does not; the
//! dispute page shows the key's copy in their place (docs/PERFORMANCE.md, "Bytes per
//! transaction"). A replay keeps its request (it may be worded differently) but not its
//! answer: that is the key's first answer with `replayed: true`, the attempt's request id
//! and the balance its row keeps (`idempotency::Answer::into_body`).
use sea_orm::ActiveValue::Set;
use sea_orm::{DbBackend, Statement};

use super::counters::Tally;
use super::Outcome;
use crate::db::entities::attempt;

/// Paths of a protocol that answers in its own words rather than with the key's stored
/// answer: the PAM (docs/PAM.md). Its attempts keep their answers.
const OWN_WORDS_PREFIX: &str = "/pam/";

/// Whether an attempt to `endpoint` was answered in its protocol's own words, not with its
/// key's stored answer.
pub fn answered_in_own_words(endpoint: &str) -> bool {
    endpoint.starts_with(OWN_WORDS_PREFIX)
}

/// Whether an attempt of `outcome` keeps its bodies empty, because they are its key's
/// first request and answer.
pub fn bodies_are_the_keys(outcome: &str) -> bool {
    outcome == Outcome::First.as_str() || outcome == Outcome::Declined.as_str()
}

/// Empties what the key's row holds already: the bodies of the key's first execution,
/// and the fingerprint of every attempt that matched the key's (all but a conflict's).
/// Called after the attempt counters took the record's amount from the fingerprint.
pub fn drop_the_keys_copies(record: &mut attempt::ActiveModel) {
    let Some(outcome) = record.outcome.try_as_ref().cloned() else {
        return;
    };
    let Some(Some(_)) = record.transaction_id.try_as_ref() else {
        return;
    };
    if outcome == Outcome::Conflict.as_str() {
        return;
    }
    if outcome == Outcome::Replay.as_str() || bodies_are_the_keys(&outcome) {
        record.fingerprint = Set(None);
    }
    let own_words = matches!(record.endpoint.try_as_ref(), Some(e) if answered_in_own_words(e));
    if bodies_are_the_keys(&outcome) {
        record.request_body = Set(String::new());
        if !own_words {
            record.response_body = Set(String::new());
        }
    }
    // A wallet replay's key is found again by (provider, transaction id); the operator's
    // attempts carry no provider, so theirs keep their answers.
    let of_provider = matches!(record.provider_id.try_as_ref(), Some(Some(_)));
    if outcome == Outcome::Replay.as_str() && of_provider && !own_words {
        record.response_body = Set(String::new());
    }
}

/// A replay's answer as it was sent, rebuilt from its key's first answer and the balance
/// its row keeps; `None` for any other attempt, or a replay whose row keeps its answer.
/// `first_body` is asked only for a replay to rebuild.
pub fn replay_body<'a>(
    attempt: &attempt::Model,
    first_body: impl FnOnce() -> std::borrow::Cow<'a, str>,
    http_status: u16,
    currencies: &crate::domain::CurrencyTable,
) -> Option<String> {
    if attempt.outcome != Outcome::Replay.as_str() || !attempt.response_body.is_empty() {
        return None;
    }
    let balance = match (attempt.balance_minor, &attempt.balance_currency) {
        (Some(minor), Some(currency)) => Some(crate::domain::Money::new(
            crate::domain::MinorUnits::from_stored(minor).ok()?,
            currencies.currency(currency).ok()?,
        )),
        _ => None,
    };
    let answer = crate::idempotency::Answer {
        http_status,
        first_body: first_body().into_owned(),
        replayed: true,
        balance,
    };
    Some(answer.into_body(&attempt.request_id))
}

/// The statements that write a batch of attempt records: the counters' upsert (from the
/// records as captured) and the records' insert (without the key's copies), for one
/// transaction. On SQLite one row per statement, like the money batches' writes
/// (`db::sql::statements_of`): the text of a multi-row statement changes with the
/// batch's size, so each was parsed again, and pushed the money path's prepared
/// statements out of the writer's cache.
pub fn log_statements(records: Vec<attempt::ActiveModel>, backend: DbBackend) -> LogBatch {
    let tally = Tally::of(&records);
    let mut statements: Vec<Statement> = crate::db::sql::statements_of(backend, records)
        .into_iter()
        .filter_map(|rows| log_insert(rows, backend))
        .collect();
    match backend {
        DbBackend::Postgres => statements.extend(tally.upsert_statement(backend)),
        _ => statements.extend(tally.upsert_statements(backend, 1)),
    }
    LogBatch {
        statements,
        replayed: tally.replayed_amounts(),
    }
}

/// A batch of attempt records ready to write, and what its replays add to `/metrics`.
pub struct LogBatch {
    pub statements: Vec<Statement>,
    /// What the batch's replays would have moved a second time, by currency (minor units).
    pub replayed: std::collections::BTreeMap<String, i64>,
}

/// The records' insert alone, without the key's copies; their counters are the caller's
/// to write (`server seed` adds up a whole history's before writing them once).
pub fn log_insert(mut records: Vec<attempt::ActiveModel>, backend: DbBackend) -> Option<Statement> {
    records.iter_mut().for_each(drop_the_keys_copies);
    crate::db::sql::insert_many(backend, records)
}
