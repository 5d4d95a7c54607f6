//! `POST /wallet/v1/rollback`: cancels a bet and refunds its original amount, or leaves a
//! tombstone when the bet has not arrived (yet).
use serde_json::json;

use super::{
    balance_of, check_metadata, declined, parse_id, player_not_found, KeyFields, RequestContext,
};
use crate::domain::{GameId, MinorUnits, Money, OpType, PlayerId, RoundId, TransactionId, TxState};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{Decision, KeyedRequest, OpFields};
use crate::ledger::{self, Direction};
use crate::money::model::KeyRow;
use crate::money::{round_key, AuditRecord, BatchState, Needs, Operation};
use crate::wallet::wire::{RollbackRequest, REASON_MAX_BYTES};

pub struct Rollback {
    keyed: KeyedRequest,
    ctx: RequestContext,
    player_id: PlayerId,
    round_id: RoundId,
    target: TransactionId,
    amount_hint: Option<Money>,
    round_closed: bool,
    /// Set when staff refund a bet: the action is audited in the same transaction.
    staff: Option<StaffAction>,
}

/// Who asked for an operator refund, and why.
#[derive(Debug, Clone)]
pub struct StaffAction {
    pub actor: String,
    pub reason: String,
}

impl Rollback {
    pub fn parse(
        request: RollbackRequest,
        request_body: String,
        ctx: RequestContext,
    ) -> Result<Rollback, ApiError> {
        let transaction_id = parse_id(
            "transaction_id",
            request.transaction_id,
            TransactionId::parse,
        )?;
        let player_id = parse_id("player_id", request.player_id, PlayerId::parse)?;
        let round_id = parse_id("round_id", request.round_id, RoundId::parse)?;
        let game_id = parse_id("game_id", request.game_id, GameId::parse)?;
        let target = parse_id(
            "target_transaction_id",
            request.target_transaction_id,
            TransactionId::parse,
        )?;
        check_metadata(&request.metadata)?;
        if request
            .reason
            .as_ref()
            .is_some_and(|r| r.len() > REASON_MAX_BYTES)
        {
            return Err(ApiError::malformed(format!(
                "reason: at most {REASON_MAX_BYTES} bytes"
            )));
        }
        let amount_hint = request
            .amount_hint
            .as_ref()
            .map(|hint| ctx.currencies.money(hint))
            .transpose()?;
        let round_closed = request.round_closed.unwrap_or(false);
        let keyed = KeyFields {
            op: OpType::Rollback,
            player_id: player_id.as_str(),
            round_id: Some(round_id.as_str()),
            game_id: game_id.as_str(),
            kind: None,
            amount: None,
            reference_transaction_id: None,
            target_transaction_id: Some(target.as_str()),
            round_closed,
        }
        .keyed(transaction_id, &ctx, request_body);
        Ok(Rollback {
            keyed,
            ctx,
            player_id,
            round_id,
            target,
            amount_hint,
            round_closed,
            staff: None,
        })
    }

    /// An operator's refund of a bet (an orphan debit): a rollback in the provider's key
    /// space under the id `operator-refund:<refund_id>`, so a later provider rollback
    /// finds the bet already rolled back and a later win is refused.
    pub fn by_operator(
        bet: &crate::db::entities::wallet_transaction::Model,
        refund_id: &str,
        staff: StaffAction,
        raw_body: &[u8],
        ctx: RequestContext,
    ) -> Result<Rollback, ApiError> {
        let transaction_id =
            TransactionId::parse(format!("operator-refund:{refund_id}")).map_err(|_| {
                ApiError::malformed("refund_id: at most 112 characters of [A-Za-z0-9._:-]")
            })?;
        let player_id = parse_id("player_id", bet.player_id.clone(), PlayerId::parse)?;
        let round_id = parse_id(
            "round_id",
            bet.round_id.clone().unwrap_or_default(),
            RoundId::parse,
        )?;
        let game_id = parse_id(
            "game_id",
            bet.game_id.clone().unwrap_or_default(),
            GameId::parse,
        )?;
        let target = parse_id(
            "transaction_id",
            bet.transaction_id.clone(),
            TransactionId::parse,
        )?;
        let keyed = KeyFields {
            op: OpType::Rollback,
            player_id: player_id.as_str(),
            round_id: Some(round_id.as_str()),
            game_id: game_id.as_str(),
            kind: None,
            amount: None,
            reference_transaction_id: None,
            target_transaction_id: Some(target.as_str()),
            round_closed: false,
        }
        .keyed(transaction_id, &ctx, super::redacted_body(raw_body));
        Ok(Rollback {
            keyed,
            ctx,
            player_id,
            round_id,
            target,
            amount_hint: None,
            round_closed: false,
            staff: Some(staff),
        })
    }

    /// Staff refunds leave an audit record, whatever they decided.
    fn audited(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        let decision = self.run(state, wallet_tx_id)?;
        if let Some(staff) = &self.staff {
            let result = match &decision {
                Decision::Done { fields, .. } => json!({ "outcome": fields.outcome() }),
                Decision::Declined { error, .. } => json!({ "declined": error.code.as_str() }),
            };
            state.audit(AuditRecord {
                actor: staff.actor.clone(),
                action: "REFUND_BET",
                subject_type: "TRANSACTION",
                subject_id: format!("{}/{}", self.ctx.provider_id, self.target),
                reason: staff.reason.clone(),
                details: json!({
                    "provider_id": self.ctx.provider_id.as_str(),
                    "refund_transaction_id": self.keyed.transaction_id.as_str(),
                    "wallet_tx_id": crate::idempotency::format_wallet_tx_id(wallet_tx_id),
                    "result": result,
                }),
            });
        }
        Ok(decision)
    }

    fn run(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        let player_id = self.player_id.as_str();
        let Some(player) = state.player(player_id) else {
            return Ok(player_not_found(player_id));
        };
        let balance = balance_of(&self.ctx.currencies, player)?;
        let zero = Money::new(MinorUnits::ZERO, balance.currency.clone());
        let target = state.key(provider, self.target.as_str()).cloned();
        let (outcome, refunded, mismatch) = match target {
            None => (self.tombstone(state), zero, false),
            Some(bet) => {
                let bet_amount = bet_money(&bet, &balance)?;
                match self.check_target(&bet) {
                    Err(decline) => return Ok(decline.with_balance(balance)),
                    Ok(TargetState::AlreadyCancelled) => {
                        ("ALREADY_ROLLED_BACK", zero, self.hint_differs(&bet_amount))
                    }
                    Ok(TargetState::Refundable) => {
                        let refund = if bet.kind.as_deref() == Some("FREE_BET") {
                            zero
                        } else {
                            bet_amount.clone()
                        };
                        let clearing = ledger::provider_account(provider, balance.currency.code());
                        state.post(
                            player_id,
                            wallet_tx_id,
                            Direction::Credit,
                            refund.minor,
                            &clearing,
                        )?;
                        state.set_state(provider, self.target.as_str(), TxState::RolledBack);
                        ("REFUNDED", refund, self.hint_differs(&bet_amount))
                    }
                }
            }
        };
        if mismatch {
            state.flag_hint_mismatch(wallet_tx_id);
        }
        if self.round_closed {
            state.close_round(provider, player_id, self.round_id.as_str());
        }
        let after = balance
            .minor
            .checked_add(refunded.minor)
            .map_err(ApiError::from)?;
        Ok(Decision::Done {
            state: TxState::Committed,
            fields: OpFields::Rollback {
                target_transaction_id: self.target.as_str().to_owned(),
                outcome,
                refunded: refunded.to_wire(),
                amount_hint_mismatch: mismatch,
            },
            balance: Money::new(after, balance.currency),
        })
    }

    /// The rules for an existing target, in the documented order.
    fn check_target(&self, bet: &KeyRow) -> Result<TargetState, RollbackDecline> {
        if bet.player_id != self.player_id.as_str() {
            return Err(RollbackDecline::NotFound);
        }
        if bet.op != OpType::Bet || bet.state == TxState::Declined {
            return Err(RollbackDecline::NotReversible);
        }
        match bet.state {
            TxState::Committed => Ok(TargetState::Refundable),
            TxState::Settled => Err(RollbackDecline::Settled),
            _ => Ok(TargetState::AlreadyCancelled),
        }
    }

    /// Unknown target: the first rollback leaves a tombstone, later ones find it.
    fn tombstone(&self, state: &mut BatchState) -> &'static str {
        let provider = self.ctx.provider_id.as_str();
        if state.tombstone(provider, self.target.as_str()).is_some() {
            return "ALREADY_ROLLED_BACK";
        }
        state.add_tombstone(
            provider,
            self.target.as_str(),
            self.player_id.as_str(),
            self.keyed.transaction_id.as_str(),
        );
        "TARGET_NOT_FOUND_TOMBSTONED"
    }

    fn hint_differs(&self, bet_amount: &Money) -> bool {
        self.amount_hint
            .as_ref()
            .is_some_and(|hint| hint != bet_amount)
    }
}

fn bet_money(bet: &KeyRow, balance: &Money) -> Result<Money, ServiceError> {
    let minor = MinorUnits::from_stored(bet.amount_minor.unwrap_or(0)).map_err(ApiError::from)?;
    Ok(Money::new(minor, balance.currency.clone()))
}

enum TargetState {
    Refundable,
    AlreadyCancelled,
}

enum RollbackDecline {
    NotFound,
    NotReversible,
    Settled,
}

impl RollbackDecline {
    fn with_balance(self, balance: Money) -> Decision {
        let (code, message) = match self {
            RollbackDecline::NotFound => {
                (ErrorCode::ReferenceNotFound, "no such bet for this player")
            }
            RollbackDecline::NotReversible => (
                ErrorCode::NotReversible,
                "the target is not a bet that moved money",
            ),
            RollbackDecline::Settled => (
                ErrorCode::BetAlreadySettled,
                "the bet was already settled by a win",
            ),
        };
        declined(code, message, Some(balance))
    }
}

impl Operation for Rollback {
    fn keyed(&self) -> &KeyedRequest {
        &self.keyed
    }

    fn needs(&self, needs: &mut Needs) {
        let provider = self.ctx.provider_id.as_str();
        let target = (provider.to_owned(), self.target.as_str().to_owned());
        needs.keys.insert(target.clone());
        needs.tombstones.insert(target);
        if self.round_closed {
            needs.rounds.insert(round_key(
                provider,
                self.player_id.as_str(),
                self.round_id.as_str(),
            ));
        }
    }

    fn decide(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        self.audited(state, wallet_tx_id)
    }

    /// A rollback that staff made is a refund to the receivers of events.
    fn movement_op(&self) -> &'static str {
        if self.staff.is_some() {
            "REFUND"
        } else {
            "ROLLBACK"
        }
    }
}
