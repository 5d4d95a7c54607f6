//! Property tests of the pure rules: random sequences of bets, wins, rollbacks and
//! closes, with retries, decided in memory exactly as a batch decides them, against the
//! invariants the ledger promises (docs/API.md, ledger and invariants): a balance is its
//! deposit plus its postings and never negative, every posting's entries sum to zero,
//! each key is decided once and every retry gets the first answer again.
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::Utc;
use proptest::prelude::*;
use serde_json::json;

use super::batch::{decide, wrote as wrote_first};
use super::model::{Player, Session};
use super::{BatchState, Operation};
use crate::domain::{CurrencyTable, PlayerStatus, ProviderId};
use crate::wallet::operations::{Bet, CloseRound, RequestContext, Rollback, Win};

const PLAYERS: usize = 3;
const DEPOSIT_MINOR: i64 = 1_000;

/// One request of the sequence: which operation, on which player, round and key.
#[derive(Debug, Clone)]
enum Step {
    Bet {
        player: usize,
        round: u8,
        tx: u8,
        amount: i64,
    },
    Win {
        player: usize,
        round: u8,
        tx: u8,
        amount: i64,
    },
    Rollback {
        player: usize,
        round: u8,
        tx: u8,
        target: u8,
    },
    Close {
        player: usize,
        round: u8,
        tx: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let player = 0..PLAYERS;
    prop_oneof![
        (player.clone(), 0u8..4, 0u8..24, 1i64..600).prop_map(|(player, round, tx, amount)| {
            Step::Bet {
                player,
                round,
                tx,
                amount,
            }
        }),
        (player.clone(), 0u8..4, 0u8..24, 0i64..900).prop_map(|(player, round, tx, amount)| {
            Step::Win {
                player,
                round,
                tx,
                amount,
            }
        }),
        (player.clone(), 0u8..4, 0u8..24, 0u8..24).prop_map(|(player, round, tx, target)| {
            Step::Rollback {
                player,
                round,
                tx,
                target,
            }
        }),
        (player, 0u8..4, 0u8..24).prop_map(|(player, round, tx)| Step::Close { player, round, tx }),
    ]
}

fn context() -> RequestContext {
    RequestContext {
        provider_id: ProviderId::parse("prov-1").expect("id"),
        currencies: Arc::new(CurrencyTable::default()),
        request_id: "req-1".to_owned(),
    }
}

fn money(amount: i64) -> serde_json::Value {
    json!({ "value": amount.to_string(), "currency": "EUR", "scale": 2 })
}

/// The fields every operation of a step carries, with `extra` added.
fn body(player: usize, round: u8, tx: u8, extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({ "transaction_id": format!("t{tx}"), "player_id": format!("p{player}"),
        "round_id": format!("r{round}"), "game_id": "g" });
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

/// Parses `body` with `parse`, as the handlers do (the body's text is what is stored).
fn parsed<R: serde::de::DeserializeOwned, O: Operation>(
    body: serde_json::Value,
    parse: fn(R, String, RequestContext) -> Result<O, crate::error::ApiError>,
) -> Arc<dyn Operation> {
    let request = serde_json::from_value(body.clone()).expect("a well-formed body");
    Arc::new(parse(request, body.to_string(), context()).expect("a valid operation"))
}

/// The operation a step sends, parsed as the handlers parse it.
fn operation(step: &Step) -> Arc<dyn Operation> {
    match *step {
        Step::Bet {
            player,
            round,
            tx,
            amount,
        } => parsed(
            body(
                player,
                round,
                tx,
                json!({ "session_token": format!("s{player}"), "amount": money(amount) }),
            ),
            Bet::parse,
        ),
        Step::Win {
            player,
            round,
            tx,
            amount,
        } => parsed(
            body(player, round, tx, json!({ "amount": money(amount) })),
            Win::parse,
        ),
        Step::Rollback {
            player,
            round,
            tx,
            target,
        } => parsed(
            body(
                player,
                round,
                tx,
                json!({ "target_transaction_id": format!("t{target}") }),
            ),
            Rollback::parse,
        ),
        Step::Close { player, round, tx } => {
            parsed(body(player, round, tx, json!({})), CloseRound::parse)
        }
    }
}

/// A batch state holding the players, each with a deposit and a live session.
fn state() -> BatchState {
    let now = Utc::now();
    let mut state = BatchState::new(now);
    for index in 0..PLAYERS {
        let id = format!("p{index}");
        state.players.insert(
            id.clone(),
            Player {
                id: id.clone(),
                currency: "EUR".to_owned(),
                status: PlayerStatus::Active,
                balance_minor: DEPOSIT_MINOR,
                ledger_head: None,
                loaded_balance_minor: DEPOSIT_MINOR,
                event_sequence: 0,
                posted: false,
            },
        );
        state.sessions.insert(
            format!("s{index}"),
            Session {
                player_id: id,
                provider_id: "prov-1".to_owned(),
                game_id: "g".to_owned(),
                superseded: false,
                expires_at: now + chrono::Duration::hours(1),
            },
        );
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_rules_keep_the_ledger_exact_and_answer_each_key_once(
        steps in proptest::collection::vec((step(), any::<bool>()), 1..60)
    ) {
        let currencies = CurrencyTable::default();
        let mut state = state();
        let mut ids: VecDeque<i64> = (1..=1_000).collect();
        let mut first_bodies: HashMap<String, String> = HashMap::new();
        for (step, retried) in &steps {
            let operation = operation(step);
            let sends = if *retried { 2 } else { 1 };
            for send in 0..sends {
                let answer = decide(&mut state, operation.as_ref(), &currencies, &mut ids);
                let wrote = wrote_first(&answer);
                let key = operation.keyed().transaction_id.as_str().to_owned();
                match answer {
                    Ok(answer) => {
                        let transaction = first_bodies.get(&key).cloned();
                        match transaction {
                            None => {
                                prop_assert!(wrote && !answer.replayed && send == 0);
                                first_bodies.insert(key, answer.first_body.clone());
                            }
                            Some(first) => {
                                prop_assert!(!wrote && answer.replayed);
                                prop_assert_eq!(&answer.first_body, &first);
                            }
                        }
                    }
                    // Only a key reused with another meaning is refused, and it writes nothing.
                    Err(error) => {
                        prop_assert!(!wrote);
                        prop_assert!(first_bodies.contains_key(&key), "refused a new key: {}", error);
                    }
                }
            }
        }
        let entries = &state.writes.entries;
        let mut by_transaction: HashMap<i64, i64> = HashMap::new();
        for entry in entries {
            *by_transaction.entry(entry.wallet_tx_id).or_default() += entry.amount_minor;
        }
        prop_assert!(by_transaction.values().all(|sum| *sum == 0), "a posting does not sum to zero");
        for player in state.players.values() {
            let account = crate::ledger::player_account(&player.id);
            let posted: i64 = entries.iter().filter(|e| e.account == account).map(|e| e.amount_minor).sum();
            prop_assert_eq!(player.balance_minor, DEPOSIT_MINOR + posted);
            prop_assert!(player.balance_minor >= 0);
        }
        prop_assert_eq!(state.writes.new_keys.len(), first_bodies.len());
    }
}
