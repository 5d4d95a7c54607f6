//! A studio's transactions over the wallet's core (docs/PAM.md, "Transactions"): each PAM
//! transaction becomes one core operation under its own key in the studio's key space, so
//! a retry is answered from the key's stored result and a conflicting reuse is refused.
//!
//! | PAM | core |
//! |---|---|
//! | `WITHDRAW`, `PROMOWITHDRAW` | a bet, key = `providerTransactionId` |
//! | `DEPOSIT` | a win on `providerRoundId`, every open bet of the round; `isGameOver` closes it |
//! | `PROMODEPOSIT` | a `PROMO_WIN`: no bet needed |
//! | `CANCEL`, `PROMOCANCEL` | a rollback of the withdraw `providerTransactionId` names, key = that id + [`CANCEL_SUFFIX`] |
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::Value;

use super::amount::{self, AmountRefusal};
use super::bet_refs::{self, BetRef};
use super::caller::Caller;
use super::errors::{cancel_outcome_code, refusal_code, PamCode, PamError};
use super::wire::{Balance, Transaction, TransactionResult, TransactionType};
use crate::db::Store;
use crate::domain::{Currency, CurrencyTable, Money, TransactionId};
use crate::error::{ApiError, ServiceError};
use crate::idempotency::{request_of, Answer};
use crate::money::{self, Operation};
use crate::wallet::lookups;
use crate::wallet::operations::{Bet, RequestContext, Rollback, Win};
use crate::wallet::wire::{BetKind, BetRequest, RollbackRequest, WinKind, WinRequest};

/// A cancel carries the id of the withdraw it cancels, so its own key is that id with this
/// suffix. Studio ids may not contain `:` (they are refused), so no studio id is ever a
/// cancel's key.
pub const CANCEL_SUFFIX: &str = ":cancel";
/// The PAM's limit on its ids.
const ID_MAX_CHARS: usize = 40;

/// A transaction's answer, and what the core did, for the attempt log.
pub struct Added {
    pub answer: Result<TransactionResult, PamError>,
    /// The core operation and its result; `None` when the request was refused before it
    /// reached a key.
    pub executed: Option<(Arc<dyn Operation>, Result<Answer, ApiError>)>,
}

impl Added {
    fn refused(error: PamError) -> Added {
        Added {
            answer: Err(error),
            executed: None,
        }
    }
}

/// `POST /players/{playerId}/transactions`: runs the transaction once, however often it
/// is sent. With `roundTransactions`, the round's transactions run first, each under its
/// own key, then the transaction itself, all or none.
pub async fn add(
    store: &Store,
    currencies: &Arc<CurrencyTable>,
    caller: &Caller,
    request_id: &str,
    body: &[u8],
) -> Added {
    let group = match prepare(currencies, caller, request_id, body) {
        Ok(group) => group,
        Err(error) => return Added::refused(error),
    };
    let bet_refs: Vec<BetRef> = group.iter().filter_map(|one| one.bet_ref.clone()).collect();
    if let Err(error) = bet_refs::record(store, bet_refs).await {
        return Added::refused(PamError::from_service(error));
    }
    let operations: Vec<Arc<dyn Operation>> =
        group.iter().map(|one| one.operation.clone()).collect();
    // One transaction takes the core's fast path: a retry is answered from one read.
    let answers = match operations.as_slice() {
        [operation] => money::execute(store, currencies, operation.clone(), None)
            .await
            .map(|answer| vec![answer]),
        _ => money::execute_all(store, currencies, operations).await,
    }
    .map_err(ServiceError::into_api);
    let main = group.last().map(|one| one.operation.clone());
    let (answer, result) = match answers {
        Err(error) => (Err(PamError::from_api(&error)), Err(error)),
        Ok(mut answers) => {
            let index = answers.len().saturating_sub(1);
            let Some(last) = answers.pop() else {
                return Added::refused(PamError::from_service(ServiceError::Bug(
                    "a money batch answered nothing".into(),
                )));
            };
            let one = &group[index];
            let answer = answer_of(one.transaction_type, &one.currency, &last);
            if index + 1 == group.len() {
                (answer, Ok(last))
            } else {
                // A transaction of the round was refused: nothing of the call was done.
                let refusal = answer.err().unwrap_or_else(|| {
                    PamError::refused(PamCode::Undefined, "a transaction of the round failed")
                });
                let message = format!(
                    "roundTransactions[{index}] ({}): {}; nothing of this call was done",
                    one.operation.keyed().transaction_id.as_str(),
                    refusal.message
                );
                let refusal = PamError { message, ..refusal };
                let note = ApiError::malformed(refusal.message.clone());
                (Err(refusal), Err(note))
            }
        }
    };
    Added {
        answer,
        executed: main.map(|operation| (operation, result)),
    }
}

/// One PAM transaction, ready for the core.
struct Prepared {
    operation: Arc<dyn Operation>,
    transaction_type: TransactionType,
    currency: Currency,
    bet_ref: Option<BetRef>,
}

/// The call's transactions, in the order they run: the round's (`roundTransactions`,
/// without the call's own transaction if the studio listed it), then the call's own.
fn prepare(
    currencies: &Arc<CurrencyTable>,
    caller: &Caller,
    request_id: &str,
    body: &[u8],
) -> Result<Vec<Prepared>, PamError> {
    let transaction: Transaction = serde_json::from_slice(body).map_err(|error| {
        PamError::bad_request(PamCode::Undefined, format!("invalid transaction: {error}"))
    })?;
    let own = One {
        kind: transaction.transaction_type,
        id: transaction.provider_transaction_id.clone(),
        cash: &transaction.cash_amount,
        is_game_over: transaction.is_game_over,
        bet_ref: transaction.provider_bet_ref.clone(),
        stored: String::from_utf8_lossy(body).into_owned(),
    };
    let common = Common::of(currencies, caller, request_id, &transaction)?;
    let mut group = Vec::new();
    let zero = RawValue::from_string("0".to_owned()).unwrap_or_default();
    if let Some(round) = &transaction.round_transactions {
        let parent: Value = serde_json::from_slice(body).unwrap_or_default();
        for (index, listed) in round.iter().enumerate() {
            let field = format!("roundTransactions[{index}]");
            let id = listed.provider_transaction_id.clone().ok_or_else(|| {
                PamError::bad_request(
                    PamCode::Undefined,
                    format!("{field}.providerTransactionId is required"),
                )
            })?;
            if id == own.id && listed.transaction_type == own.kind {
                continue;
            }
            let one = One {
                kind: listed.transaction_type,
                stored: listed.as_transaction(&parent).to_string(),
                id,
                cash: listed.cash_amount.as_deref().unwrap_or(&zero),
                is_game_over: listed.is_game_over,
                bet_ref: listed.provider_bet_ref.clone(),
            };
            group.push(common.prepare(one).map_err(|error| PamError {
                message: format!("{field}: {}", error.message),
                ..error
            })?);
        }
    }
    group.push(common.prepare(own)?);
    Ok(group)
}

/// What a call's transactions share: the studio, the player, the currency, the game and
/// the round.
struct Common<'a> {
    caller: &'a Caller,
    ctx: RequestContext,
    currency: Currency,
    game_id: String,
    round_id: Option<String>,
}

/// What differs between a call's transactions.
struct One<'a> {
    kind: TransactionType,
    id: String,
    cash: &'a RawValue,
    is_game_over: Option<bool>,
    bet_ref: Option<String>,
    /// The transaction as the key's record keeps it: the trace page shows it.
    stored: String,
}

impl<'a> Common<'a> {
    fn of(
        currencies: &Arc<CurrencyTable>,
        caller: &'a Caller,
        request_id: &str,
        transaction: &Transaction,
    ) -> Result<Common<'a>, PamError> {
        let currency = currencies.currency(&transaction.currency).map_err(|_| {
            PamError::refused(
                PamCode::TransCurrency,
                format!("the wallet has no currency {:?}", transaction.currency),
            )
        })?;
        let amount =
            |field: &str, raw| amount::parse(field, raw, &currency).map_err(amount_refusal);
        let bonus = amount("bonusAmount", &transaction.bonus_amount)?;
        let promo = amount("promoAmount", &transaction.promo_amount)?;
        let kind = transaction.transaction_type;
        no_bonus_money(kind, &bonus, PamCode::BonusOverdraft, "bonusAmount")?;
        no_bonus_money(kind, &promo, PamCode::PromoOverdraft, "promoAmount")?;
        let round_id = transaction
            .provider_round_id
            .as_deref()
            .map(|round| studio_id("providerRoundId", round))
            .transpose()?;
        let game_id = match transaction.provider_game_id.as_deref() {
            Some(game) => studio_id("providerGameId", game)?,
            None => caller.session.game_id.clone(),
        };
        Ok(Common {
            caller,
            ctx: RequestContext {
                provider_id: caller.provider_id.clone(),
                currencies: currencies.clone(),
                request_id: request_id.to_owned(),
            },
            currency,
            game_id,
            round_id,
        })
    }

    fn prepare(&self, one: One<'_>) -> Result<Prepared, PamError> {
        let kind = one.kind;
        let id = studio_id("providerTransactionId", &one.id)?;
        let cash = amount::parse("cashAmount", one.cash, &self.currency).map_err(amount_refusal)?;
        let round = || {
            self.round_id.clone().ok_or_else(|| {
                PamError::bad_request(
                    PamCode::Undefined,
                    format!("providerRoundId is required for {}", kind.as_str()),
                )
            })
        };
        let ctx = self.ctx.clone();
        let player_id = self.caller.session.player_id.clone();
        let game_id = self.game_id.clone();
        let core = |error: ApiError| PamError::from_api(&error);
        let (operation, key): (Arc<dyn Operation>, String) = match kind {
            TransactionType::Withdraw | TransactionType::Promowithdraw => {
                let request = BetRequest {
                    transaction_id: id.clone(),
                    player_id: player_id.clone(),
                    round_id: round()?,
                    game_id,
                    session_token: self.caller.session.token.clone(),
                    amount: cash.to_wire(),
                    kind: Some(BetKind::Bet),
                    round_closed: None,
                    metadata: None,
                };
                (
                    Arc::new(Bet::parse(request, one.stored, ctx).map_err(core)?),
                    id,
                )
            }
            TransactionType::Deposit | TransactionType::Promodeposit => {
                let promo = kind == TransactionType::Promodeposit;
                let request = WinRequest {
                    transaction_id: id.clone(),
                    player_id: player_id.clone(),
                    round_id: if promo {
                        self.round_id.clone()
                    } else {
                        Some(round()?)
                    },
                    game_id,
                    amount: cash.to_wire(),
                    kind: Some(if promo {
                        WinKind::PromoWin
                    } else {
                        WinKind::Win
                    }),
                    reference_transaction_id: None,
                    round_closed: one.is_game_over,
                    session_token: None,
                    metadata: None,
                };
                (
                    Arc::new(Win::parse(request, one.stored, ctx).map_err(core)?),
                    id,
                )
            }
            TransactionType::Cancel | TransactionType::Promocancel => {
                let key = format!("{id}{CANCEL_SUFFIX}");
                let request = RollbackRequest {
                    transaction_id: key.clone(),
                    player_id: player_id.clone(),
                    round_id: round()?,
                    game_id,
                    target_transaction_id: id,
                    amount_hint: Some(cash.to_wire()),
                    reason: None,
                    round_closed: None,
                    session_token: None,
                    metadata: None,
                };
                (
                    Arc::new(Rollback::parse(request, one.stored, ctx).map_err(core)?),
                    key,
                )
            }
        };
        let bet_ref = one
            .bet_ref
            .map(|bet_ref| {
                check_length("providerBetRef", &bet_ref)?;
                Ok(BetRef {
                    provider_id: self.caller.provider_id.as_str().to_owned(),
                    bet_ref,
                    transaction_id: key,
                    player_id,
                })
            })
            .transpose()?;
        Ok(Prepared {
            operation,
            transaction_type: kind,
            currency: self.currency.clone(),
            bet_ref,
        })
    }
}

/// An id of the studio's: 1 to 40 characters the wallet's ids allow (letters, digits,
/// `.`, `_`, `-`), `:` excepted (see [`CANCEL_SUFFIX`]).
fn studio_id(field: &str, value: &str) -> Result<String, PamError> {
    check_length(field, value)?;
    if value.contains(':') || TransactionId::parse(value.to_owned()).is_err() {
        return Err(PamError::bad_request(
            PamCode::Undefined,
            format!("{field}: letters, digits, '.', '_' and '-' only"),
        ));
    }
    Ok(value.to_owned())
}

fn check_length(field: &str, value: &str) -> Result<(), PamError> {
    if (1..=ID_MAX_CHARS).contains(&value.chars().count()) {
        Ok(())
    } else {
        Err(PamError::bad_request(
            PamCode::Undefined,
            format!("{field}: 1 to {ID_MAX_CHARS} characters"),
        ))
    }
}

fn amount_refusal(refusal: AmountRefusal) -> PamError {
    match refusal {
        AmountRefusal::Negative => {
            PamError::refused(PamCode::NegativeStake, "amounts cannot be negative")
        }
        AmountRefusal::Invalid(message) => PamError::bad_request(PamCode::Undefined, message),
    }
}

/// The wallet holds cash only: a withdraw of bonus or promo money overdraws an empty
/// account; a deposit of it has nowhere to go.
fn no_bonus_money(
    kind: TransactionType,
    amount: &Money,
    overdraft: PamCode,
    field: &str,
) -> Result<(), PamError> {
    if amount.minor.is_zero() {
        Ok(())
    } else if kind.is_withdraw() {
        Err(PamError::refused(
            overdraft,
            format!("{field}: the player has no such money (the wallet holds cash only)"),
        ))
    } else {
        Err(PamError::bad_request(
            PamCode::Undefined,
            format!("{field}: the wallet holds cash only; send the amount as cashAmount"),
        ))
    }
}

/// The PAM's answer to what the core answered (first time or replay alike).
fn answer_of(
    kind: TransactionType,
    currency: &Currency,
    answer: &Answer,
) -> Result<TransactionResult, PamError> {
    let stored: Value = serde_json::from_str(&answer.first_body).unwrap_or_default();
    let balance = answer.balance.clone();
    if let Some(error) = stored.get("error").filter(|e| !e.is_null()) {
        let code = refusal_code(error["code"].as_str().unwrap_or_default(), kind);
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        let refusal = match code {
            PamCode::SessionNotFound | PamCode::SessionExpired => {
                PamError::unauthorized(code, message)
            }
            _ => PamError::refused(code, message),
        };
        return Err(refusal.with_balance(balance));
    }
    let transaction = &stored["transaction"];
    if let Some(code) = transaction["outcome"]
        .as_str()
        .and_then(cancel_outcome_code)
    {
        let message = match code {
            PamCode::CancelNotFound => {
                "no such withdraw: the wallet remembers the cancel and voids the withdraw if it comes later"
            }
            _ => "the withdraw was already cancelled",
        };
        return Err(PamError::refused(code, message).with_balance(balance));
    }
    Ok(TransactionResult {
        transaction_id: transaction["wallet_tx_id"].as_str().map(str::to_owned),
        balance: Some(pam_balance(balance.as_ref(), currency)),
    })
}

/// A balance as the PAM shows it: cash, and no bonus or promo money.
pub fn pam_balance(cash: Option<&Money>, currency: &Currency) -> Balance {
    let scale = currency.scale();
    Balance {
        cash_amount: cash.map_or_else(|| amount::to_json(0, scale), amount::money_json),
        bonus_amount: amount::to_json(0, scale),
        promo_amount: amount::to_json(0, scale),
    }
}

/// `GET /players/{playerId}/transactions`: the transactions of this player in the studio's
/// key space under `bet_ref` (preferred, as the PAM asks) or with `transaction_id` (the
/// transaction and its cancel), as the studio sent them. Refused transactions moved
/// nothing and are left out.
pub async fn find(
    db: &impl sea_orm::ConnectionTrait,
    caller: &Caller,
    transaction_id: Option<&str>,
    bet_ref: Option<&str>,
) -> Result<Vec<Value>, PamError> {
    let provider = caller.provider_id.as_str();
    let player = caller.session.player_id.as_str();
    let keys = match (
        bet_ref.filter(|r| !r.is_empty()),
        transaction_id.filter(|t| !t.is_empty()),
    ) {
        (Some(bet_ref), _) => bet_refs::keys(db, provider, bet_ref, player)
            .await
            .map_err(PamError::from_service)?,
        (None, Some(id)) => vec![id.to_owned(), format!("{id}{CANCEL_SUFFIX}")],
        (None, None) => {
            return Err(PamError::bad_request(
                PamCode::Undefined,
                "providerTransactionId or providerBetRef is required",
            ))
        }
    };
    let rows = lookups::effective_keys(db, provider, player, &keys)
        .await
        .map_err(PamError::from_service)?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let request: Value = serde_json::from_str(&request_of(row)).ok()?;
            // Keys this provider used through the wallet API, not the PAM, are not PAM
            // transactions.
            request.get("transactionType").is_some().then_some(request)
        })
        .collect())
}
