//! Sending one step of a round the way its delivery says (normally, dropped, as a storm,
//! spoilt first), checking every answer against the model, and writing what the wallet
//! committed into the provider's statement book.
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::check::{self, Expect};
use super::client::{Tamper, WireAnswer};
use super::faults::Delivery;
use super::model::Expected;
use super::player::{PendingResend, SimPlayer};
use super::provider::SimProvider;
use super::scenario::{Action, Op, Step};
use super::statement::BookLine;
use super::Run;

/// Attempts of one request while the wallet does not answer or answers 5xx.
const DELIVERY_ATTEMPTS: u32 = 6;
/// Far outside the contract's 300 s window.
const STALE_BY: Duration = Duration::from_secs(600);
/// The longest pause between attempts, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Dropped answers a player waits to resend at most.
const MAX_PENDING_RESENDS: usize = 64;

/// The answer to a request after retries, if any came.
pub(super) struct Delivered {
    pub answer: Option<WireAnswer>,
    /// An earlier attempt went unanswered or failed with 500: it may have executed, so
    /// the answer may be a replay.
    pub uncertain: bool,
}

/// Sends `body` until the wallet gives a final answer: 503 means nothing was committed
/// (wait and resend); 500 and no answer leave the outcome unknown (resend: the
/// idempotency key makes it safe).
pub(super) async fn deliver(
    run: &Run,
    provider: &SimProvider,
    path: &str,
    body: &[u8],
) -> Delivered {
    let mut uncertain = false;
    for attempt in 0..DELIVERY_ATTEMPTS {
        let backoff = Duration::from_millis(100 << attempt).min(MAX_BACKOFF);
        match provider.wallet.post(path, body, Tamper::None).await {
            Ok(answer) if answer.is_retryable_failure() => {
                run.tally.request(Some(&answer));
                uncertain |= answer.status == 500;
                tokio::time::sleep(answer.retry_after.unwrap_or(backoff).min(MAX_BACKOFF)).await;
            }
            Ok(answer) => {
                run.tally.request(Some(&answer));
                return Delivered {
                    answer: Some(answer),
                    uncertain,
                };
            }
            Err(_) => {
                run.tally.request(None);
                uncertain = true;
                tokio::time::sleep(backoff).await;
            }
        }
    }
    Delivered {
        answer: None,
        uncertain: true,
    }
}

impl SimPlayer {
    /// One operation of a round, with its fault. Holds the provider's gate shared, so a
    /// statement never closes its period while this request is in flight.
    pub(super) async fn exchange(&mut self, run: &Run, provider_index: usize, step: Step) {
        let provider = &run.providers[provider_index];
        let _in_flight = provider.gate.read().await;
        let body = step.op.body(&self.body_parts(provider_index));
        let expected = self.model.execute(&step.op);
        if let Some(fault) = step.delivery.fault_name() {
            run.tally.fault(fault);
        }
        let first = match step.delivery {
            Delivery::Storm { copies } => {
                self.storm(run, provider, &step.op, &body, &expected, copies)
                    .await
            }
            delivery => {
                self.spoilt_attempt(run, provider, &step.op, &body, delivery)
                    .await;
                self.send_once(run, provider, &step.op, &body, &expected)
                    .await
            }
        };
        let Some(first) = first else {
            self.needs_resync = true;
            return;
        };
        self.write_book(provider, &step.op, &expected, &first);
        if let Delivery::Dropped { retry_after } = step.delivery {
            // Past the bound, the resend goes out before the next round instead of later.
            let retry_after = if self.resends.len() < MAX_PENDING_RESENDS {
                retry_after
            } else {
                Duration::ZERO
            };
            self.resends.push(PendingResend {
                due: Instant::now() + retry_after,
                provider: provider_index,
                path: step.op.path(),
                body,
                transaction_id: step.op.transaction_id.clone(),
                first: first.clone(),
            });
        }
        if step.probe_conflict {
            self.probe_conflict(run, provider, provider_index, &step.op)
                .await;
        }
    }

    async fn send_once(
        &mut self,
        run: &Run,
        provider: &SimProvider,
        op: &Op,
        body: &[u8],
        expected: &Expected,
    ) -> Option<WireAnswer> {
        let delivered = deliver(run, provider, op.path(), body).await;
        let answer = delivered.answer?;
        let expect = if delivered.uncertain {
            Expect::FreshOrReplay
        } else {
            Expect::Fresh
        };
        let found = check::differences(&answer, expected, self.model.balance_minor(), expect);
        self.record(&run.tally, &op.transaction_id, found, &answer);
        Some(answer)
    }

    /// A bad signature or a stale timestamp first: refused before the key is looked up,
    /// so the correct request that follows executes normally.
    async fn spoilt_attempt(
        &mut self,
        run: &Run,
        provider: &SimProvider,
        op: &Op,
        body: &[u8],
        delivery: Delivery,
    ) {
        let (tamper, code) = match delivery {
            Delivery::BadSignatureFirst => (Tamper::WrongSecret, "INVALID_SIGNATURE"),
            Delivery::StaleFirst => (Tamper::StaleBy(STALE_BY), "STALE_REQUEST"),
            _ => return,
        };
        let answer = provider.wallet.post(op.path(), body, tamper).await;
        run.tally.request(answer.as_ref().ok());
        if let Ok(answer) = answer {
            let found = check::refusal_differences(&answer, code);
            self.record(&run.tally, &op.transaction_id, found, &answer);
        }
    }

    /// `copies` identical requests at once: exactly one executes, every other answer is
    /// its replay.
    async fn storm(
        &mut self,
        run: &Run,
        provider: &SimProvider,
        op: &Op,
        body: &[u8],
        expected: &Expected,
        copies: usize,
    ) -> Option<WireAnswer> {
        run.tally.duplicate_copies(copies as u64 - 1);
        let sends = (0..copies).map(|_| deliver(run, provider, op.path(), body));
        let delivered = join_all(sends).await;
        let uncertain = delivered.iter().any(|d| d.uncertain);
        let answers: Vec<WireAnswer> = delivered.into_iter().filter_map(|d| d.answer).collect();
        let executed = answers.iter().filter(|a| !a.replayed()).count();
        if executed > 1 || (executed == 0 && !uncertain) {
            run.tally.difference(format!(
                "{} {}: {copies} identical requests executed {executed} times",
                self.id, op.transaction_id
            ));
        }
        let first = answers
            .iter()
            .find(|a| !a.replayed())
            .or(answers.first())?
            .clone();
        let expect = if executed == 1 {
            Expect::Fresh
        } else {
            Expect::FreshOrReplay
        };
        let balance = self.model.balance_minor();
        let mut found = check::differences(&first, expected, balance, expect);
        for other in answers.iter().filter(|a| a.replayed()) {
            found.extend(check::replay_differences(other, &first, balance));
        }
        self.record(&run.tally, &op.transaction_id, found, &first);
        Some(first)
    }

    /// The same transaction id with another amount: a conflict, and nothing changes.
    async fn probe_conflict(
        &mut self,
        run: &Run,
        provider: &SimProvider,
        provider_index: usize,
        op: &Op,
    ) {
        let Some(other) = op.with_other_amount() else {
            return;
        };
        run.tally.fault("conflicting_replay");
        let body = other.body(&self.body_parts(provider_index));
        let Some(answer) = deliver(run, provider, other.path(), &body).await.answer else {
            return;
        };
        let found = check::conflict_differences(&answer, self.model.balance_minor());
        self.record(&run.tally, &op.transaction_id, found, &answer);
    }

    /// Sends a dropped request again: the provider must get the answer it never saw.
    pub(super) async fn resend(&mut self, run: &Run, resend: PendingResend) {
        let provider = &run.providers[resend.provider];
        let _in_flight = provider.gate.read().await;
        run.tally.dropped_retry();
        let Some(answer) = deliver(run, provider, resend.path, &resend.body)
            .await
            .answer
        else {
            self.needs_resync = true;
            return;
        };
        let found = check::replay_differences(&answer, &resend.first, self.model.balance_minor());
        self.record(&run.tally, &resend.transaction_id, found, &answer);
    }

    /// What the wallet committed for this provider goes into its statement book, and the
    /// bets the operation settled or rolled back change state there.
    fn write_book(
        &self,
        provider: &SimProvider,
        op: &Op,
        expected: &Expected,
        answer: &WireAnswer,
    ) {
        let (Some(statement_op), true) = (op.statement_op(), expected.is_success()) else {
            return;
        };
        let Some(committed_at) = check::committed_at(answer) else {
            return;
        };
        let amount_minor = match &op.action {
            Action::Rollback { .. } => expected.refunded.unwrap_or(0),
            _ => op.amount_minor().unwrap_or(0),
        };
        let (currency, scale) = self.currency();
        let mut book = provider.book();
        book.record(BookLine {
            transaction_id: op.transaction_id.clone(),
            op: statement_op,
            player_id: self.id.clone(),
            round_id: op.round_id.clone(),
            amount_minor,
            currency: currency.to_owned(),
            scale,
            state: "COMMITTED",
            committed_at,
        });
        for (bet, state) in &expected.changed_bets {
            book.set_state(bet, state);
        }
    }
}
