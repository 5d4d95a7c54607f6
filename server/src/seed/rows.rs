//! One operation of the history as the wallet would have stored it: the request parsed by
//! the wallet's own parsers (so fingerprints and stored bodies are the real ones), the
//! posting with its hash-chain link, the answer built by the wallet's own
//! `idempotency::first_answer`, and the attempt log rows of every request that reached it.
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use sea_orm::ActiveValue::{NotSet, Set};
use serde_json::{json, Value};

use crate::attempts::Outcome as AttemptOutcome;
use crate::db::entities::{attempt, ledger_entry, round, tombstone, wallet_transaction as wtx};
use crate::domain::{CurrencyTable, MinorUnits, Money, ProviderId, TxState};
use crate::error::{ApiError, ErrorCode};
use crate::idempotency::{first_answer, Decision, KeyedRequest, OpFields};
use crate::money::Operation;
use crate::wallet::operations::RequestContext;

/// The share of operations with a replay, a conflicting reuse of the key, and a request
/// refused for its signature in the attempt log.
const REPLAY_SHARE: f64 = 0.10;
const CONFLICT_SHARE: f64 = 0.02;
const REFUSED_SHARE: f64 = 0.01;

/// Rows waiting to be written, in the order the foreign keys need.
#[derive(Default)]
pub struct Batch {
    pub transactions: Vec<wtx::ActiveModel>,
    pub entries: Vec<ledger_entry::ActiveModel>,
    pub rounds: Vec<round::ActiveModel>,
    pub tombstones: Vec<tombstone::ActiveModel>,
    pub attempts: Vec<attempt::ActiveModel>,
    /// Rollbacks whose hint differed from the bet: their flag is set after the insert.
    pub hint_mismatches: Vec<i64>,
    /// `money.moved` events still in the outbox (see `Rows::events_from`).
    pub events: Vec<SeedEvent>,
}

/// One `money.moved` row of the outbox, as the money path writes it.
pub struct SeedEvent {
    pub id: i64,
    pub player_id: String,
    pub sequence: i64,
    pub wallet_tx_id: i64,
    pub op: &'static str,
    pub at: DateTime<Utc>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.transactions.len()
    }
}

/// A player's money and chain as the history goes.
pub struct SeedPlayer {
    pub id: String,
    pub currency: crate::domain::Currency,
    pub balance_minor: i64,
    pub head: String,
    /// `money.moved` events so far.
    pub event_sequence: i64,
    /// The session at each provider (one token per provider, in provider order).
    pub sessions: Vec<String>,
    /// Changed since the last commit.
    pub dirty: bool,
}

pub struct SeedProvider {
    pub id: ProviderId,
    pub key_id: String,
    pub game_id: String,
}

/// How the decision turned out.
pub enum Outcome {
    Done {
        state: TxState,
        fields: OpFields,
    },
    Declined {
        code: ErrorCode,
        message: &'static str,
        state: TxState,
    },
}

/// One operation to store.
pub struct Op<'a> {
    /// `None` for a cashier adjustment (operator API).
    pub provider: Option<&'a SeedProvider>,
    pub endpoint: &'static str,
    pub keyed: KeyedRequest,
    pub raw_body: Vec<u8>,
    /// The player's movement and the counter account, if money moves.
    pub posting: Option<(i64, String)>,
    pub outcome: Outcome,
    pub at: DateTime<Utc>,
}

/// The first free id of each table the seed numbers itself.
#[derive(Clone, Copy)]
pub struct FirstIds {
    pub transaction: i64,
    pub entry: i64,
    pub event: i64,
}

/// Turns operations into rows; owns the id sequences.
pub struct Rows {
    pub currencies: Arc<CurrencyTable>,
    pub next_tx_id: i64,
    pub next_entry_id: i64,
    next_event_id: i64,
    /// Movements from this time on keep their event in the outbox: what a wallet whose
    /// subscribers keep up holds with the default retention (docs/EVENTS.md, "Retention").
    events_from: DateTime<Utc>,
    next_request: u64,
    pub tag: String,
    pub rng: StdRng,
}

impl Rows {
    pub fn new(tag: &str, first_ids: FirstIds, events_from: DateTime<Utc>, rng: StdRng) -> Rows {
        Rows {
            currencies: Arc::new(CurrencyTable::default()),
            next_tx_id: first_ids.transaction,
            next_entry_id: first_ids.entry,
            next_event_id: first_ids.event,
            events_from,
            next_request: 0,
            tag: tag.to_owned(),
            rng,
        }
    }

    pub fn request_id(&mut self) -> String {
        self.next_request += 1;
        format!("{}-q{:09}", self.tag, self.next_request)
    }

    pub fn context(&mut self, provider: &SeedProvider) -> RequestContext {
        RequestContext {
            provider_id: provider.id.clone(),
            currencies: Arc::clone(&self.currencies),
            request_id: self.request_id(),
        }
    }

    /// Parses a body with the wallet's own parser and returns its key record.
    pub fn keyed<O: Operation, R: serde::de::DeserializeOwned>(
        &mut self,
        provider: &SeedProvider,
        body: &Value,
        parse: fn(R, String, RequestContext) -> Result<O, ApiError>,
    ) -> (KeyedRequest, Vec<u8>) {
        let raw = body.to_string().into_bytes();
        let request: R = serde_json::from_slice(&raw).expect("seed bodies are well-formed");
        let ctx = self.context(provider);
        let stored = crate::wallet::operations::redacted_body(&raw);
        let operation = parse(request, stored, ctx).expect("seed bodies are valid");
        (operation.keyed().clone(), raw)
    }

    /// Stores `op` for `player`: the posting, the transaction row, the attempts. Returns
    /// the row's index in the batch and its wallet id.
    pub fn store(
        &mut self,
        batch: &mut Batch,
        player: &mut SeedPlayer,
        mut op: Op<'_>,
    ) -> (usize, i64) {
        let id = self.next_tx_id;
        self.next_tx_id += 1;
        if let Some((delta, counter)) = &op.posting {
            if self.post(batch, player, id, *delta, counter, op.at) {
                player.event_sequence += 1;
                if op.at >= self.events_from {
                    batch.events.push(SeedEvent {
                        id: self.next_event_id,
                        player_id: player.id.clone(),
                        sequence: player.event_sequence,
                        wallet_tx_id: id,
                        op: op.keyed.op.as_str(),
                        at: op.at,
                    });
                    self.next_event_id += 1;
                }
            }
        }
        let balance = self.money(player, player.balance_minor);
        let outcome = std::mem::replace(
            &mut op.outcome,
            Outcome::Done {
                state: TxState::Committed,
                fields: OpFields::Bet {},
            },
        );
        let decision = match outcome {
            Outcome::Done { state, fields } => Decision::Done {
                state,
                fields,
                balance,
            },
            Outcome::Declined {
                code,
                message,
                state,
            } => Decision::Declined {
                error: ApiError::new(code, message),
                state,
                balance: Some(balance),
            },
        };
        let recorded = first_answer(&op.keyed, id, decision, op.at);
        let keyed = &op.keyed;
        let packed = keyed.packed_request().map(<[u8]>::to_vec);
        batch.transactions.push(wtx::ActiveModel {
            id: Set(id),
            scope: Set(keyed.scope.clone()),
            transaction_id: Set(keyed.transaction_id.as_str().to_owned()),
            op: Set(keyed.op.as_str().to_owned()),
            kind: Set(keyed.kind.map(str::to_owned)),
            player_id: Set(keyed.player_id.clone()),
            round_id: Set(keyed.round_id.clone()),
            game_id: Set(keyed.game_id.clone()),
            amount_minor: Set(keyed.amount.as_ref().map(|m| m.minor.get())),
            currency: Set(keyed.amount.as_ref().map(|m| m.currency.code().to_owned())),
            target_transaction_id: Set(keyed.target_transaction_id.clone()),
            fingerprint: Set(keyed.fingerprint.as_stored().to_owned()),
            state: Set(recorded.state.as_str().to_owned()),
            outcome: Set(recorded.outcome.map(str::to_owned)),
            error_code: Set(recorded.error_code.map(str::to_owned)),
            http_status: Set(i32::from(recorded.answer.http_status)),
            response_body: Set(recorded.stored_body().to_owned()),
            request_body: Set(if packed.is_some() {
                String::new()
            } else {
                keyed.request_body.clone()
            }),
            request_id: Set(keyed.request_id.clone()),
            created_at: Set(op.at),
            updated_at: Set(op.at),
            balance_after_minor: Set(recorded.balance_after_minor),
            request_packed: Set(packed),
        });
        self.attempts(batch, &op, &recorded);
        (batch.transactions.len() - 1, id)
    }

    /// Both entries of a posting, as the wallet writes them (`ledger::posting`). Returns
    /// whether money moved.
    fn post(
        &mut self,
        batch: &mut Batch,
        player: &mut SeedPlayer,
        wallet_tx_id: i64,
        delta: i64,
        counter: &str,
        at: DateTime<Utc>,
    ) -> bool {
        if delta == 0 {
            return false;
        }
        let posted = crate::ledger::posting(
            crate::ledger::Account {
                player_id: &player.id,
                currency: player.currency.code(),
                balance_minor: player.balance_minor,
                head: Some(&player.head),
            },
            wallet_tx_id,
            delta,
            counter,
        );
        assert!(posted.balance_after >= 0, "the seed overdrew {}", player.id);
        player.balance_minor = posted.balance_after;
        player.head = posted.chain_hash;
        player.dirty = true;
        for entry in posted.entries {
            batch.entries.push(ledger_entry::ActiveModel {
                id: Set(self.next_entry_id),
                wallet_transaction_id: Set(entry.wallet_tx_id),
                account: Set(entry.account),
                currency: Set(entry.currency),
                amount_minor: Set(entry.amount_minor),
                balance_after_minor: Set(entry.balance_after_minor),
                chain_hash: Set(entry.chain_hash),
                created_at: Set(at),
            });
            self.next_entry_id += 1;
        }
        true
    }

    pub fn money(&self, player: &SeedPlayer, minor: i64) -> Money {
        Money::new(
            MinorUnits::from_stored(minor).expect("seed amounts are in range"),
            player.currency.clone(),
        )
    }

    /// The first request, and sometimes a replay, a conflicting reuse and a refused
    /// signature, a few seconds apart.
    fn attempts(
        &mut self,
        batch: &mut Batch,
        op: &Op<'_>,
        recorded: &crate::idempotency::Recorded,
    ) {
        let keyed = &op.keyed;
        let first_outcome = if recorded.answer.http_status >= 400 {
            AttemptOutcome::Declined
        } else {
            AttemptOutcome::First
        }
        .as_str();
        let request_body = crate::attempts::redact_and_cap(&op.raw_body);
        let template = attempt::ActiveModel {
            traceparent: Set(None),
            id: NotSet,
            request_id: Set(keyed.request_id.clone()),
            received_at: Set(op.at),
            latency_ms: Set(self.latency_ms()),
            method: Set("POST".to_owned()),
            endpoint: Set(op.endpoint.to_owned()),
            provider_id: Set(op.provider.map(|p| p.id.as_str().to_owned())),
            key_id: Set(op.provider.map(|p| p.key_id.clone())),
            transaction_id: Set(Some(keyed.transaction_id.as_str().to_owned())),
            fingerprint: Set(Some(keyed.fingerprint.to_json())),
            signature: Set(if op.provider.is_some() {
                "VALID"
            } else {
                "NONE"
            }
            .to_owned()),
            outcome: Set(first_outcome.to_owned()),
            http_status: Set(i32::from(recorded.answer.http_status)),
            error_code: Set(recorded.error_code.map(str::to_owned)),
            request_body: Set(request_body),
            response_body: Set(recorded.answer.first_body.clone()),
            balance_minor: Set(None),
            balance_currency: Set(None),
        };
        batch.attempts.push(template.clone());
        if self.rng.gen_bool(REPLAY_SHARE) {
            let request_id = self.request_id();
            let mut answer = recorded.answer.clone();
            answer.replayed = true;
            let mut replay = template.clone();
            replay.request_id = Set(request_id.clone());
            replay.received_at = Set(op.at + Duration::seconds(self.rng.gen_range(1..30)));
            replay.latency_ms = Set(self.rng.gen_range(0..3));
            replay.outcome = Set(AttemptOutcome::Replay.as_str().to_owned());
            replay.balance_minor = Set(answer.balance.as_ref().map(|m| m.minor.get()));
            replay.balance_currency = Set(answer
                .balance
                .as_ref()
                .map(|m| m.currency.code().to_owned()));
            replay.response_body = Set(answer.into_body(&request_id));
            batch.attempts.push(replay);
        }
        if op.provider.is_some() && self.rng.gen_bool(CONFLICT_SHARE) {
            let request_id = self.request_id();
            let error = ApiError::new(
                ErrorCode::IdempotencyConflict,
                format!(
                    "transaction_id {} was already used with other values; the original stands",
                    keyed.transaction_id
                ),
            )
            .with_details(json!({ "fields": ["amount.value"] }));
            let mut conflict = template.clone();
            conflict.request_id = Set(request_id.clone());
            conflict.received_at = Set(op.at + Duration::seconds(self.rng.gen_range(30..600)));
            conflict.outcome = Set(AttemptOutcome::Conflict.as_str().to_owned());
            conflict.http_status = Set(409);
            conflict.error_code = Set(Some("IDEMPOTENCY_CONFLICT".to_owned()));
            conflict.response_body = Set(error_body(&error, &request_id));
            batch.attempts.push(conflict);
        }
        if op.provider.is_some() && self.rng.gen_bool(REFUSED_SHARE) {
            let request_id = self.request_id();
            let error = ApiError::new(ErrorCode::InvalidSignature, "the signature does not match");
            let mut refused = template.clone();
            refused.request_id = Set(request_id.clone());
            refused.transaction_id = Set(None);
            refused.fingerprint = Set(None);
            refused.signature = Set("INVALID".to_owned());
            refused.outcome = Set(AttemptOutcome::Rejected.as_str().to_owned());
            refused.http_status = Set(401);
            refused.error_code = Set(Some("INVALID_SIGNATURE".to_owned()));
            refused.response_body = Set(error_body(&error, &request_id));
            batch.attempts.push(refused);
        }
    }

    /// Mostly a few milliseconds, now and then a slow one.
    fn latency_ms(&mut self) -> i64 {
        match self.rng.gen_range(0..1000) {
            0 => self.rng.gen_range(500..3_000),
            1..=20 => self.rng.gen_range(20..200),
            _ => self.rng.gen_range(1..15),
        }
    }
}

/// An error answer's body as the wallet sends it.
fn error_body(error: &ApiError, request_id: &str) -> String {
    json!({ "status": "ERROR", "replayed": false, "error": error.to_json(), "request_id": request_id })
        .to_string()
}
