//! Delivering events to webhook subscribers (docs/EVENTS.md, "Delivery"): a loop in every
//! process that, for each enabled subscription whose lease it holds, tries the events
//! held for retry and the events after the subscription's cursor, in order per player,
//! and writes down what happened in one transaction per round.
//!
//! - **Per player, in order.** A player's events go out one after the other; the first
//!   that fails holds back the player's later events (they are kept in
//!   `webhook_deliveries` behind it) until it is acknowledged or dead. Other players'
//!   events go on, up to `PARALLEL` at once.
//! - **One process per subscription.** The subscription's row carries a lease; a process
//!   delivers only while it holds it, and its round's write fails if it lost it. On
//!   SQLite the one process always holds it.
//! - **At least once.** A process killed after the receiver acknowledged but before its
//!   round was written sends those events again: same `event_id`, same bytes.
//! - **A receiver that is down** gets each player's first event retried with its
//!   backoff, the player's later ones held behind it; once `ROUND_HELD` deliveries are
//!   held, new events stay after the cursor instead of being copied there one by one.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use rand::Rng;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement,
};

use super::outbox::{self, EventReads, StoredEvent};
use super::webhooks::{self, DEAD, PENDING};
use crate::db::entities::{webhook, webhook_delivery};
use crate::db::{Engine, Store};
use crate::domain::CurrencyTable;
use crate::error::ServiceError;
use crate::telemetry::metrics;

/// New events one round reads at most.
const ROUND_EVENTS: i64 = 500;
/// Held deliveries one round looks at at most.
const ROUND_HELD: u64 = 2000;
/// Players whose events go out at the same time.
const PARALLEL: usize = 16;
/// How long a process holds a subscription without renewing: after a node dies, another
/// takes its subscriptions over within this.
const LEASE_MS: i64 = 30_000;
/// The lease is renewed before a round when less than this is left: more than a round
/// can last (`ROUND_MS` and one answer's `TIMEOUT`), so a round never outlives it.
const LEASE_RENEW_BELOW_MS: i64 = 20_000;
/// No send starts later than this into a round.
const ROUND_MS: i64 = 5_000;
/// Between rounds when there was nothing to do.
const IDLE: Duration = Duration::from_millis(200);
/// Between two passes of the outbox's pruning.
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// Connections of the delivery's own pool (see `spawn`).
const CONNECTIONS: u32 = 2;
/// A receiver's answer must come within this (docs/EVENTS.md).
const TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between two tries of one event.
const MAX_BACKOFF_MS: i64 = 600_000;
/// What is kept of a failed answer, for the console.
const MAX_ERROR_CHARS: usize = 300;

/// How long events are retried before they are dead (`WALLET_WEBHOOK_DEAD_AFTER_SECS`).
pub const DEFAULT_DEAD_AFTER: Duration = Duration::from_secs(72 * 3600);
/// The wait before the second try; each later wait doubles (`WALLET_WEBHOOK_FIRST_RETRY_MS`).
pub const DEFAULT_FIRST_RETRY: Duration = Duration::from_secs(1);
/// How long an event every subscription has is kept (`WALLET_OUTBOX_RETENTION_SECS`).
pub const DEFAULT_OUTBOX_RETENTION: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy)]
pub struct DeliveryConfig {
    pub dead_after: Duration,
    pub first_retry: Duration,
    /// See `outbox::Pruner`.
    pub outbox_retention: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            dead_after: DEFAULT_DEAD_AFTER,
            first_retry: DEFAULT_FIRST_RETRY,
            outbox_retention: DEFAULT_OUTBOX_RETENTION,
        }
    }
}

struct Deliverer {
    store: Store,
    currencies: Arc<CurrencyTable>,
    config: DeliveryConfig,
    client: reqwest::Client,
    /// This process's name on the leases it takes.
    owner: String,
    /// Where this process's pruning of the outbox has got to (`outbox::Pruner::pass`).
    pruned_to: std::sync::atomic::AtomicI64,
    /// Keep-alive connections to each `http://` receiver, by `host:port` (`plain_http`):
    /// a delivery is one HTTP exchange per event, and through reqwest's pool and layers
    /// that exchange cost the wallet more than building and signing the event.
    plain: std::sync::Mutex<HashMap<String, Arc<crate::plain_http::Connections>>>,
}

/// Starts this process's delivery loop on a thread of its own at a lower CPU priority
/// (`crate::background`), with its own database connections and its own connections to
/// receivers. Delivery is work that may wait: on a saturated machine bets keep their pace
/// and events lag, then catch up (docs/EVENTS.md, "Money first").
pub fn spawn(store: Store, currencies: Arc<CurrencyTable>, config: DeliveryConfig) {
    // Stops with the runtime that started it, dropping its clone of the store.
    let server_gone = crate::background::until_runtime_ends();
    crate::background::run_low_priority("webhook-delivery", move || async move {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with default TLS settings");
        let deliverer = Deliverer {
            store: store.for_background(CONNECTIONS),
            currencies,
            config,
            client,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            pruned_to: std::sync::atomic::AtomicI64::new(0),
            plain: std::sync::Mutex::new(HashMap::new()),
        };
        tokio::select! {
            () = server_gone => {}
            () = deliverer.run() => {}
        }
    })
    .expect("a thread for webhook delivery");
}

/// One event to send in a round, and where it came from.
struct Job {
    event: StoredEvent,
    /// Its held delivery, if it had one.
    held: Option<webhook_delivery::Model>,
}

enum Outcome {
    Delivered,
    Failed(String),
    /// Not tried: an earlier event of its player failed or is held.
    Waiting,
}

impl Deliverer {
    async fn run(&self) {
        let mut pruner = outbox::Pruner::new(self.config.outbox_retention);
        let mut pruned_at = tokio::time::Instant::now();
        loop {
            if pruned_at.elapsed() >= PRUNE_EVERY {
                pruned_at = tokio::time::Instant::now();
                match pruner.pass(&self.store).await {
                    Ok(to) => self
                        .pruned_to
                        .store(to, std::sync::atomic::Ordering::Relaxed),
                    Err(error) => {
                        tracing::warn!(%error, "pruning the outbox failed; trying again later");
                    }
                }
            }
            let busy = match self.round().await {
                Ok(busy) => busy,
                Err(error) => {
                    tracing::warn!(%error, "webhook delivery round failed; trying again");
                    false
                }
            };
            if !busy {
                tokio::time::sleep(IDLE).await;
            }
        }
    }

    /// Where the round reads events: on SQLite on this thread's own connection.
    fn reads(&self) -> EventReads<'_> {
        EventReads::of(&self.store)
    }

    /// One round over every enabled subscription. Returns whether any had more to do.
    async fn round(&self) -> Result<bool, ServiceError> {
        outbox::number(self.store.reader()).await?;
        let hooks = webhook::Entity::find()
            .filter(webhook::Column::Enabled.eq(true))
            .all(self.store.reader())
            .await?;
        let rounds = hooks.into_iter().map(|hook| self.subscription_round(hook));
        let mut busy = false;
        for result in futures::future::join_all(rounds).await {
            busy |= result?;
        }
        Ok(busy)
    }

    async fn subscription_round(&self, hook: webhook::Model) -> Result<bool, ServiceError> {
        let now = Utc::now().timestamp_millis();
        if !self.hold_lease(&hook, now).await? {
            return Ok(false);
        }
        let types = webhooks::types_of(&hook);
        let held = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::WebhookId.eq(hook.id.as_str()))
            .filter(webhook_delivery::Column::State.eq(PENDING))
            .order_by_asc(webhook_delivery::Column::Position)
            .limit(ROUND_HELD)
            .all(self.store.reader())
            .await?;
        // With more held than one round looks at, a player's head of line may be among
        // those not read: new events wait, or they could overtake it.
        let fresh = if held.len() as u64 >= ROUND_HELD {
            Vec::new()
        } else {
            outbox::after(self.reads(), hook.dispatched_to, ROUND_EVENTS).await?
        };
        if fresh.is_empty() && !held.iter().any(|row| row.next_attempt_ms <= now) {
            return Ok(false);
        }
        // SQLite answers before its commits are on disk: an event goes out only once the
        // money it describes cannot be undone by a power cut.
        self.store.settled().await;
        let read_to = fresh
            .last()
            .map_or(hook.dispatched_to, |event| event.position);
        let lanes = lanes(&held, fresh, &types, self.reads()).await?;
        let mut bodies_of: Vec<&StoredEvent> = Vec::new();
        for lane in &lanes {
            bodies_of.extend(lane.iter().map(|job| &job.event));
        }
        let bodies = outbox::bodies(self.reads(), &self.currencies, &bodies_of).await?;
        let hook = Arc::new(hook);
        // Parsed once for the round's sends, not once for each.
        let url = reqwest::Url::parse(&hook.url).map_err(|error| error.to_string());
        let deadline = now + ROUND_MS;
        let results: Vec<Vec<(Job, Outcome)>> = futures::stream::iter(lanes)
            .map(|lane| self.send_lane(&hook, &url, lane, &bodies, deadline))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let results: Vec<(Job, Outcome)> = results.into_iter().flatten().collect();
        let full = results.len() as u64 >= ROUND_HELD || read_to > hook.dispatched_to;
        self.write_round(&hook, results, read_to, now).await?;
        Ok(full)
    }

    /// Takes or renews the subscription's lease; false when another process holds it.
    /// SQLite has one server process per database file: it always holds every lease, and
    /// a restart after a crash delivers at once instead of waiting for the dead process's.
    async fn hold_lease(&self, hook: &webhook::Model, now: i64) -> Result<bool, ServiceError> {
        if self.store.engine() == Engine::Sqlite {
            return Ok(true);
        }
        let ours = hook.lease_owner.as_deref() == Some(self.owner.as_str());
        let left = hook.lease_until_ms.unwrap_or(0) - now;
        if ours && left > LEASE_RENEW_BELOW_MS {
            return Ok(true);
        }
        if !ours && left > 0 {
            return Ok(false);
        }
        let owner = self.owner.clone();
        let id = hook.id.clone();
        let (seen_owner, seen_until) = (hook.lease_owner.clone(), hook.lease_until_ms);
        let taken = self
            .store
            .write(Box::new(move |txn| {
                let (owner, id, seen_owner) = (owner.clone(), id.clone(), seen_owner.clone());
                Box::pin(async move {
                    // A compare-and-set on the lease as read: two processes that both saw
                    // it free cannot both take it.
                    let mut update = webhook::Entity::update_many()
                        .col_expr(
                            webhook::Column::LeaseOwner,
                            sea_orm::sea_query::Expr::value(owner),
                        )
                        .col_expr(
                            webhook::Column::LeaseUntilMs,
                            sea_orm::sea_query::Expr::value(now + LEASE_MS),
                        )
                        .filter(webhook::Column::Id.eq(id));
                    update = match seen_owner {
                        Some(owner) => update.filter(webhook::Column::LeaseOwner.eq(owner)),
                        None => update.filter(webhook::Column::LeaseOwner.is_null()),
                    };
                    update = match seen_until {
                        Some(until) => update.filter(webhook::Column::LeaseUntilMs.eq(until)),
                        None => update.filter(webhook::Column::LeaseUntilMs.is_null()),
                    };
                    Ok(update.exec(txn).await?.rows_affected == 1)
                })
            }))
            .await?;
        Ok(taken)
    }

    /// Sends a player's jobs one after the other; the first failure, a held delivery not
    /// due yet or the round's deadline stops the lane.
    async fn send_lane(
        &self,
        hook: &webhook::Model,
        url: &Result<reqwest::Url, String>,
        lane: Vec<Job>,
        bodies: &HashMap<i64, Vec<u8>>,
        deadline: i64,
    ) -> Vec<(Job, Outcome)> {
        let mut results = Vec::with_capacity(lane.len());
        let mut stopped = false;
        for job in lane {
            let now = now_ms();
            let not_due = job
                .held
                .as_ref()
                .is_some_and(|held| held.next_attempt_ms > now);
            if stopped || not_due || now > deadline {
                stopped = true;
                results.push((job, Outcome::Waiting));
                continue;
            }
            let outcome = match bodies.get(&job.event.id) {
                Some(body) => self.send(hook, url, job.event.id, body).await,
                None => Outcome::Failed("no body".into()),
            };
            if !matches!(outcome, Outcome::Delivered) {
                stopped = true;
            }
            results.push((job, outcome));
        }
        results
    }

    async fn send(
        &self,
        hook: &webhook::Model,
        url: &Result<reqwest::Url, String>,
        event_id: i64,
        body: &[u8],
    ) -> Outcome {
        let outcome = match url {
            Ok(url) => self.post(hook, url.clone(), event_id, body).await,
            Err(error) => Outcome::Failed(short(&format!("URL {}: {error}", hook.url))),
        };
        metrics::record_webhook_delivery(match outcome {
            Outcome::Delivered => "delivered",
            _ => "failed",
        });
        outcome
    }

    async fn post(
        &self,
        hook: &webhook::Model,
        url: reqwest::Url,
        event_id: i64,
        body: &[u8],
    ) -> Outcome {
        let t = Utc::now().timestamp();
        let signature = super::signature::header(&hook.secret, t, body);
        if let Some((connections, path)) = self.plain_route(&url) {
            let event_id = outbox::event_id(event_id);
            let headers = [
                ("Content-Type", "application/json"),
                ("Oncewallet-Event-Id", event_id.as_str()),
                ("Oncewallet-Signature", signature.as_str()),
            ];
            let sent = connections.send("POST", &path, &headers, body);
            return match tokio::time::timeout(TIMEOUT, sent).await {
                Ok(Ok(answer)) if (200..300).contains(&answer.status) => Outcome::Delivered,
                Ok(Ok(answer)) => Outcome::Failed(format!("HTTP {}", answer.status)),
                Ok(Err(error)) => Outcome::Failed(short(&error.to_string())),
                Err(_) => Outcome::Failed("no answer within 10 s".into()),
            };
        }
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Oncewallet-Event-Id", outbox::event_id(event_id))
            .header("Oncewallet-Signature", signature)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => Outcome::Delivered,
            Ok(answer) => Outcome::Failed(format!("HTTP {}", answer.status().as_u16())),
            Err(error) if error.is_timeout() => Outcome::Failed("no answer within 10 s".into()),
            Err(error) => Outcome::Failed(short(&error.to_string())),
        }
    }

    /// The connections and the request target for a plain `http://` URL without
    /// credentials; `None` for anything else (reqwest's job).
    fn plain_route(
        &self,
        url: &reqwest::Url,
    ) -> Option<(Arc<crate::plain_http::Connections>, String)> {
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let authority = format!("{}:{}", url.host_str()?, url.port_or_known_default()?);
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut plain = self.plain.lock().expect("connections lock");
        let connections = plain.entry(authority).or_insert_with_key(|authority| {
            Arc::new(crate::plain_http::Connections::to(authority))
        });
        Some((Arc::clone(connections), path))
    }

    /// Writes the round's outcome in one transaction: held deliveries acknowledged,
    /// retried later or dead; new events that failed or wait, held; the cursor moved past
    /// what was read. Fails if the lease was lost meanwhile (another process then
    /// delivers the same events again: at least once).
    async fn write_round(
        &self,
        hook: &Arc<webhook::Model>,
        results: Vec<(Job, Outcome)>,
        read_to: i64,
        now: i64,
    ) -> Result<(), ServiceError> {
        let delivered = results
            .iter()
            .filter(|(_, outcome)| matches!(outcome, Outcome::Delivered))
            .count() as i64;
        let dead_after_ms = self.config.dead_after.as_millis() as i64;
        let first_retry_ms = self.config.first_retry.as_millis() as i64;
        let mut remove = Vec::new();
        let mut update = Vec::new();
        let mut insert = Vec::new();
        let mut dead = 0;
        for (job, outcome) in results {
            match (job.held, outcome) {
                (Some(held), Outcome::Delivered) => remove.push(held.event_id),
                (Some(held), Outcome::Failed(error)) => {
                    let first = held.first_attempt_ms.unwrap_or(now);
                    let attempts = held.attempts + 1;
                    let is_dead = now - first >= dead_after_ms;
                    dead += i64::from(is_dead);
                    update.push(webhook_delivery::Model {
                        state: if is_dead { DEAD } else { PENDING }.to_owned(),
                        attempts,
                        first_attempt_ms: Some(first),
                        next_attempt_ms: now + backoff_ms(first_retry_ms, attempts),
                        last_error: Some(error),
                        ..held
                    });
                }
                (Some(_), Outcome::Waiting) | (None, Outcome::Delivered) => {}
                (None, outcome) => {
                    let (attempts, first, next, error) = match outcome {
                        Outcome::Failed(error) => (
                            1,
                            Some(now),
                            now + backoff_ms(first_retry_ms, 1),
                            Some(error),
                        ),
                        _ => (0, None, now, None),
                    };
                    insert.push(webhook_delivery::Model {
                        webhook_id: hook.id.clone(),
                        event_id: job.event.id,
                        position: job.event.position,
                        player_id: job.event.player_id.clone(),
                        state: PENDING.to_owned(),
                        attempts,
                        first_attempt_ms: first,
                        next_attempt_ms: next,
                        last_error: error,
                    });
                }
            }
        }
        for _ in 0..dead {
            metrics::record_webhook_delivery("dead");
        }
        // The lease is checked where there is one (see `hold_lease`).
        let owner = (self.store.engine() != Engine::Sqlite).then_some(self.owner.as_str());
        let statements = round_statements(
            self.store.reader().get_database_backend(),
            hook,
            owner,
            &RoundWrites {
                remove,
                update,
                insert,
            },
            read_to,
            delivered,
            self.pruned_to.load(std::sync::atomic::Ordering::Relaxed),
        );
        let statements = Arc::new(statements);
        if owner.is_none() {
            // SQLite: in the writer's next batch, on its synchronous connection, so that
            // a round costs the money path a few statements, not a transaction of its own.
            return self.store.write_statements(statements).await;
        }
        let hook_id = hook.id.clone();
        self.store
            .write(Box::new(move |txn| {
                let (statements, hook_id) = (Arc::clone(&statements), hook_id.clone());
                Box::pin(async move {
                    let mut statements = statements.iter();
                    let moved = match statements.next() {
                        Some(first) => txn.execute(first.clone()).await?.rows_affected(),
                        None => 0,
                    };
                    if moved != 1 {
                        return Err(ServiceError::Db(sea_orm::DbErr::Custom(format!(
                            "webhook {hook_id}: the lease was lost during the round"
                        ))));
                    }
                    for statement in statements {
                        txn.execute(statement.clone()).await?;
                    }
                    Ok(())
                })
            }))
            .await
    }
}

/// What a round changes in `webhook_deliveries`.
struct RoundWrites {
    /// Held deliveries acknowledged.
    remove: Vec<i64>,
    /// Held deliveries tried again or dead.
    update: Vec<webhook_delivery::Model>,
    /// New events held.
    insert: Vec<webhook_delivery::Model>,
}

/// The round's statements, the cursor's move first: where `owner` is given (the lease's
/// holder, PostgreSQL) it touches one row only while the lease is still ours.
fn round_statements(
    backend: DbBackend,
    hook: &webhook::Model,
    owner: Option<&str>,
    writes: &RoundWrites,
    cursor: i64,
    delivered: i64,
    pruned_to: i64,
) -> Vec<Statement> {
    use sea_orm::sea_query::Expr;
    let mut statements = Vec::new();
    let mut moved = webhook::Entity::update_many()
        .col_expr(webhook::Column::DispatchedTo, Expr::value(cursor))
        .col_expr(
            webhook::Column::Delivered,
            Expr::col(webhook::Column::Delivered).add(delivered),
        )
        .filter(webhook::Column::Id.eq(hook.id.as_str()));
    if let Some(owner) = owner {
        moved = moved.filter(webhook::Column::LeaseOwner.eq(owner));
    }
    statements.push(moved.build(backend));
    if !writes.remove.is_empty() {
        statements.push(
            webhook_delivery::Entity::delete_many()
                .filter(webhook_delivery::Column::WebhookId.eq(hook.id.as_str()))
                .filter(webhook_delivery::Column::EventId.is_in(writes.remove.iter().copied()))
                .build(backend),
        );
        if pruned_to > 0 {
            statements.push(outbox::released(backend, &writes.remove, pruned_to));
        }
    }
    for row in &writes.update {
        let active = webhook_delivery::ActiveModel {
            webhook_id: Set(row.webhook_id.clone()),
            event_id: Set(row.event_id),
            state: Set(row.state.clone()),
            attempts: Set(row.attempts),
            first_attempt_ms: Set(row.first_attempt_ms),
            next_attempt_ms: Set(row.next_attempt_ms),
            last_error: Set(row.last_error.clone()),
            ..Default::default()
        };
        statements.push(webhook_delivery::Entity::update(active).build(backend));
    }
    for chunk in writes.insert.chunks(100) {
        let rows = chunk.iter().map(|row| webhook_delivery::ActiveModel {
            webhook_id: Set(row.webhook_id.clone()),
            event_id: Set(row.event_id),
            position: Set(row.position),
            player_id: Set(row.player_id.clone()),
            state: Set(row.state.clone()),
            attempts: Set(row.attempts),
            first_attempt_ms: Set(row.first_attempt_ms),
            next_attempt_ms: Set(row.next_attempt_ms),
            last_error: Set(row.last_error.clone()),
        });
        // A process that lost its lease mid-round may have held the same event: keep
        // the row already there.
        statements.push(
            webhook_delivery::Entity::insert_many(rows)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::columns([
                        webhook_delivery::Column::WebhookId,
                        webhook_delivery::Column::EventId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .build(backend),
        );
    }
    statements
}

/// The round's jobs in lanes, one lane per player (in event order) and one per finding
/// event: the held deliveries first (the player's head of line, then those waiting behind
/// it), then the new events the subscription receives.
async fn lanes(
    held: &[webhook_delivery::Model],
    fresh: Vec<StoredEvent>,
    types: &[String],
    reads: EventReads<'_>,
) -> Result<Vec<Vec<Job>>, ServiceError> {
    let held_ids: Vec<i64> = held.iter().map(|row| row.event_id).collect();
    let mut held_events: HashMap<i64, StoredEvent> = outbox::by_ids(reads, &held_ids)
        .await?
        .into_iter()
        .map(|event| (event.id, event))
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut by_lane: HashMap<String, Vec<Job>> = HashMap::new();
    let mut push = |lane: String, job: Job| {
        if !by_lane.contains_key(&lane) {
            order.push(lane.clone());
        }
        by_lane.entry(lane).or_default().push(job);
    };
    for row in held {
        let Some(event) = held_events.remove(&row.event_id) else {
            continue;
        };
        push(
            lane_of(&event),
            Job {
                event,
                held: Some(row.clone()),
            },
        );
    }
    for event in fresh {
        if !webhooks::receives(types, &event.event_type) {
            continue;
        }
        push(lane_of(&event), Job { event, held: None });
    }
    Ok(order
        .into_iter()
        .filter_map(|lane| by_lane.remove(&lane))
        .collect())
}

/// A money event's lane is its player; each finding event has its own.
fn lane_of(event: &StoredEvent) -> String {
    match &event.player_id {
        Some(player) => format!("p:{player}"),
        None => format!("e:{}", event.id),
    }
}

/// Before the `attempts`+1-th try: `first` (1 s by default), twice that, four times, …
/// up to 10 min, each ±20 % so that many events refused at once do not come back at once.
fn backoff_ms(first: i64, attempts: i32) -> i64 {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let base = first.saturating_mul(1_i64 << exponent).min(MAX_BACKOFF_MS);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    ((base as f64 * jitter) as i64).min(MAX_BACKOFF_MS)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn short(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_up_to_ten_minutes() {
        for (attempts, base) in [(1, 1000), (2, 2000), (3, 4000), (10, 512_000)] {
            let wait = backoff_ms(1000, attempts);
            assert!(
                (base * 8 / 10..=base * 12 / 10).contains(&wait),
                "{attempts}: {wait}"
            );
        }
        assert!(backoff_ms(1000, 11) <= MAX_BACKOFF_MS && backoff_ms(1000, 40) <= MAX_BACKOFF_MS);
        assert!(backoff_ms(1000, 40) >= MAX_BACKOFF_MS * 8 / 10);
        let wait = backoff_ms(50, 3);
        assert!((160..=240).contains(&wait), "{wait}");
    }
}
