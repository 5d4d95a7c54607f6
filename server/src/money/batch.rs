//! A batch of money operations as one unit of the writer: load, decide, write, in one
//! transaction. Every queued operation of a writer's batch is merged into one such unit.
use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sea_orm::{DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::oneshot;

use super::state::BatchState;
use super::{flush, load, money, Needs, Operation};
use crate::db::{sqlite_sync, Unit};
use crate::domain::CurrencyTable;
use crate::error::ServiceError;
use crate::idempotency::{first_answer, replay_answer, Answer, StoredAnswer};
use crate::telemetry::metrics;

/// One answer per operation of an item.
type Answers = Result<Vec<Answer>, ServiceError>;
type Reply = oneshot::Sender<Answers>;

struct Item {
    /// One operation, or a group that takes effect all or none (`money::execute_all`).
    operations: Vec<Arc<dyn Operation>>,
    currencies: Arc<CurrencyTable>,
    /// An answer per operation; a group that failed has the answers up to the first
    /// refusal, its last.
    result: Option<Answers>,
    /// Whether the item's decision was written (its answer depends on the commit).
    wrote: bool,
    reply: Reply,
}

/// The writer's unit for money operations.
pub struct MoneyBatch {
    items: Vec<Item>,
}

/// A unit for one operation, or for a group decided all or none, and the receiver of
/// their answers.
pub fn unit(
    operations: Vec<Arc<dyn Operation>>,
    currencies: Arc<CurrencyTable>,
) -> (Box<dyn Unit>, oneshot::Receiver<Answers>) {
    let (reply, answer) = oneshot::channel();
    let batch = MoneyBatch {
        items: vec![Item {
            operations,
            currencies,
            result: None,
            wrote: false,
            reply,
        }],
    };
    (Box::new(batch), answer)
}

impl Unit for MoneyBatch {
    fn run<'c>(&'c mut self, txn: &'c DatabaseTransaction, savepoint: bool) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            if !savepoint {
                return match run(txn, &mut self.items).await {
                    Ok(()) => true,
                    Err(error) => {
                        fail(&mut self.items, &error);
                        false
                    }
                };
            }
            // The batch failed as a whole: each operation again, alone, in a savepoint,
            // so that only the one that fails is undone (and a key lost to another
            // process is found and replayed).
            for item in &mut self.items {
                if let Err(error) = alone(txn, item).await {
                    fail(std::slice::from_mut(item), &error);
                }
            }
            true
        })
    }

    fn retry(&mut self) -> bool {
        false
    }

    fn answer(self: Box<Self>, commit: Result<(), DbErr>) {
        for item in self.items {
            let result = match (&commit, item.result) {
                (_, None) => Err(ServiceError::Db(DbErr::Custom(
                    "money batch not run".into(),
                ))),
                (Ok(()), Some(result)) => result,
                (Err(_), Some(Err(error))) => Err(error),
                // A failed commit of a decision that was written: the caller cannot be
                // told it did not happen.
                (Err(error), Some(Ok(_)))
                    if item.wrote && !crate::db::space::never_committed(error) =>
                {
                    Err(ServiceError::OutcomeUnknown(DbErr::Custom(
                        error.to_string(),
                    )))
                }
                (Err(error), Some(Ok(_))) => {
                    Err(ServiceError::Db(DbErr::Custom(error.to_string())))
                }
            };
            let _ = item.reply.send(result);
        }
    }

    fn merge_key(&self) -> Option<TypeId> {
        Some(TypeId::of::<MoneyBatch>())
    }

    fn absorb(&mut self, other: Box<dyn Any + Send>) {
        match other.downcast::<MoneyBatch>() {
            Ok(other) => self.items.extend(other.items),
            Err(_) => tracing::error!("a unit of another kind was merged into a money batch"),
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }

    fn runs_sync(&self) -> bool {
        true
    }

    fn moves_money(&self) -> bool {
        true
    }

    fn run_sync(&mut self, connection: &rusqlite::Connection, savepoint: bool) -> bool {
        if !savepoint {
            return match run_sync(connection, &mut self.items) {
                Ok(()) => true,
                Err(error) => {
                    fail(&mut self.items, &error);
                    false
                }
            };
        }
        // As in `run`: each operation alone, in a savepoint.
        for item in &mut self.items {
            let items = std::slice::from_mut(item);
            let result = sqlite_sync::in_savepoint(connection, true, |connection| {
                run_sync(connection, items)
            });
            if let Err(error) = result {
                fail(items, &error);
            }
        }
        true
    }
}

async fn alone(txn: &DatabaseTransaction, item: &mut Item) -> Result<(), ServiceError> {
    let savepoint = txn.begin().await?;
    let items = std::slice::from_mut(item);
    match run(&savepoint, items).await {
        Ok(()) => Ok(savepoint.commit().await?),
        Err(error) => {
            savepoint.rollback().await?;
            Err(error)
        }
    }
}

/// Every item's answer is the batch's error, and nothing of it was written.
fn fail(items: &mut [Item], error: &ServiceError) {
    for item in items {
        item.wrote = false;
        item.result = Some(Err(match error {
            ServiceError::Db(error) if crate::db::is_lock_timeout(error) => {
                ServiceError::InProgress
            }
            ServiceError::Db(error) => ServiceError::Db(DbErr::Custom(error.to_string())),
            ServiceError::Bug(reason) => ServiceError::Bug(reason.clone()),
            other => ServiceError::Db(DbErr::Custom(other.to_string())),
        }));
    }
}

/// The batch's time, in whole microseconds: PostgreSQL keeps no finer (and would round
/// finer text it is sent), and a bet's answer is rebuilt from the stored time
/// (`idempotency::AnswerColumns`), so what is stored must be what was answered.
fn batch_time() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// PostgreSQL: loads, decides every item in arrival order, writes.
async fn run(txn: &DatabaseTransaction, items: &mut [Item]) -> Result<(), ServiceError> {
    let started = Instant::now();
    let needs = needs_of(items);
    let (state, ids) = load::load(txn, &needs, batch_time(), operation_count(items)).await?;
    let state = decide_all(state, ids, items, started);
    let decided = Instant::now();
    flush::flush(txn, &state).await?;
    wrote_batch(items.len(), started, decided);
    Ok(())
}

/// SQLite: the same on the writer's synchronous connection.
fn run_sync(connection: &rusqlite::Connection, items: &mut [Item]) -> Result<(), ServiceError> {
    let started = Instant::now();
    let needs = needs_of(items);
    let (state, ids) = load::load_sqlite(connection, &needs, batch_time(), operation_count(items))?;
    let state = decide_all(state, ids, items, started);
    let decided = Instant::now();
    flush::flush_sqlite(connection, &state)?;
    wrote_batch(items.len(), started, decided);
    Ok(())
}

fn operation_count(items: &[Item]) -> usize {
    items.iter().map(|item| item.operations.len()).sum()
}

/// Every row the items' rules will read.
fn needs_of(items: &[Item]) -> Needs {
    let mut needs = Needs::default();
    for operation in items.iter().flat_map(|item| &item.operations) {
        let keyed = operation.keyed();
        needs.keys.insert((
            keyed.scope.clone(),
            keyed.transaction_id.as_str().to_owned(),
        ));
        needs.players.insert(keyed.player_id.clone());
        operation.needs(&mut needs);
    }
    needs
}

/// Decides every item in arrival order over the loaded state; one id per operation (a
/// replay leaves its id unused: a gap on PostgreSQL).
fn decide_all(
    mut state: BatchState,
    ids: Vec<i64>,
    items: &mut [Item],
    started: Instant,
) -> BatchState {
    let loaded = Instant::now();
    metrics::record_write_phase("load", loaded - started);
    let mut ids: VecDeque<i64> = ids.into();
    for item in items.iter_mut() {
        let (result, wrote) = match item.operations.as_slice() {
            [operation] => {
                let result = decide(&mut state, operation.as_ref(), &item.currencies, &mut ids);
                let wrote = wrote(&result);
                (result.map(|answer| vec![answer]), wrote)
            }
            group => decide_group(&mut state, group, &item.currencies, &mut ids),
        };
        item.wrote = wrote;
        item.result = Some(result);
    }
    metrics::record_write_phase("decide", loaded.elapsed());
    crate::failpoint::hit("after_claim");
    state
}

fn wrote_batch(operations: usize, started: Instant, decided: Instant) {
    crate::failpoint::hit("after_money");
    metrics::record_write_phase("write", decided.elapsed());
    metrics::record_money_batch(operations, started.elapsed());
}

/// One operation's answer: a replay of a key the batch holds, or the rules' first
/// decision, recorded in `state`.
pub(super) fn decide(
    state: &mut BatchState,
    operation: &dyn Operation,
    currencies: &CurrencyTable,
    ids: &mut VecDeque<i64>,
) -> Result<Answer, ServiceError> {
    let keyed = operation.keyed();
    if let Some(row) = state.key(&keyed.scope, keyed.transaction_id.as_str()) {
        let balance = state
            .player(&row.player_id)
            .and_then(|player| money(currencies, &player.currency, player.balance_minor));
        let first_body = row.first_body(currencies);
        let stored = StoredAnswer {
            state: row.state,
            fingerprint: &row.fingerprint,
            http_status: row.http_status,
            first_body: &first_body,
        };
        return replay_answer(keyed, stored, balance);
    }
    let id = ids
        .pop_front()
        .ok_or_else(|| ServiceError::Bug("no transaction id left for the batch".into()))?;
    let decision = operation.decide(state, id)?;
    state.name_movements(id, operation.movement_op());
    let recorded = first_answer(keyed, id, decision, state.now);
    let answer = recorded.answer.clone();
    state.claim(keyed, id, recorded);
    Ok(answer)
}

/// A group's operations in order over a copy of the state, which becomes the state only
/// when every one of them answered `200`: the group takes effect all or none. Returns the
/// answers (up to the first refusal) and whether the group wrote a first decision.
fn decide_group(
    state: &mut BatchState,
    group: &[Arc<dyn Operation>],
    currencies: &CurrencyTable,
    ids: &mut VecDeque<i64>,
) -> (Answers, bool) {
    let mut trial = state.clone();
    let mut answers = Vec::with_capacity(group.len());
    for operation in group {
        match decide(&mut trial, operation.as_ref(), currencies, ids) {
            Ok(mut answer) => {
                if answer.http_status != 200 {
                    // Nothing of the group is done: the balance is the one before it.
                    answer.balance =
                        state
                            .player(&operation.keyed().player_id)
                            .and_then(|player| {
                                money(currencies, &player.currency, player.balance_minor)
                            });
                    answers.push(answer);
                    return (Ok(answers), false);
                }
                answers.push(answer);
            }
            Err(error) => return (Err(error), false),
        }
    }
    *state = trial;
    let wrote = answers.iter().any(|answer| !answer.replayed);
    (Ok(answers), wrote)
}

/// Whether `decide` wrote a first decision (whose answer then depends on the commit).
pub(super) fn wrote(result: &Result<Answer, ServiceError>) -> bool {
    result.as_ref().is_ok_and(|answer| !answer.replayed)
}
