//! `POST /wallet/v1/rollback`: cancels a bet and refunds its original amount, or leaves a
//! tombstone when the bet has not arrived (yet).
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::{json, Map};

use super::{
    balance_of, check_metadata, declined, find_tombstone, lock_player, parse_id, player_not_found,
    KeyFields, RequestContext,
};
use crate::db::entities::{tombstone, wallet_transaction as wtx};
use crate::domain::{GameId, MinorUnits, Money, PlayerId, RoundId, TransactionId};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{Decision, KeyedRequest, Operation};
use crate::ledger::{self, Direction};
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
        raw_body: &[u8],
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
            op: "ROLLBACK",
            player_id: player_id.as_str(),
            round_id: Some(round_id.as_str()),
            game_id: game_id.as_str(),
            kind: None,
            amount: None,
            reference_transaction_id: None,
            target_transaction_id: Some(target.as_str()),
            round_closed,
        }
        .keyed(transaction_id, &ctx, raw_body);
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
            op: "ROLLBACK",
            player_id: player_id.as_str(),
            round_id: Some(round_id.as_str()),
            game_id: game_id.as_str(),
            kind: None,
            amount: None,
            reference_transaction_id: None,
            target_transaction_id: Some(target.as_str()),
            round_closed: false,
        }
        .keyed(transaction_id, &ctx, raw_body);
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
    async fn audited(
        &self,
        txn: &DatabaseTransaction,
        wallet_tx_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Decision, ServiceError> {
        let decision = self.run(txn, wallet_tx_id, now).await?;
        if let Some(staff) = &self.staff {
            let result = match &decision {
                Decision::Done { outcome, .. } => json!({ "outcome": outcome }),
                Decision::Declined { error, .. } => json!({ "declined": error.code.as_str() }),
            };
            let details = json!({
                "provider_id": self.ctx.provider_id.as_str(),
                "refund_transaction_id": self.keyed.transaction_id.as_str(),
                "wallet_tx_id": crate::idempotency::format_wallet_tx_id(wallet_tx_id),
                "result": result,
            });
            crate::audit::record(
                txn,
                &staff.actor,
                "REFUND_BET",
                "TRANSACTION",
                &format!("{}/{}", self.ctx.provider_id, self.target),
                &staff.reason,
                details,
                now,
            )
            .await?;
        }
        Ok(decision)
    }

    async fn run(
        &self,
        txn: &DatabaseTransaction,
        wallet_tx_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Decision, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        let Some(player) = lock_player(txn, self.player_id.as_str()).await? else {
            return Ok(player_not_found(self.player_id.as_str()));
        };
        let balance = balance_of(&self.ctx.currencies, &player)?;
        let zero = Money::new(MinorUnits::ZERO, balance.currency.clone());
        let target = wtx::Entity::find()
            .filter(wtx::Column::Scope.eq(provider))
            .filter(wtx::Column::TransactionId.eq(self.target.as_str()))
            .one(txn)
            .await?;
        let (outcome, refunded, mismatch) = match target {
            None => {
                let outcome = self.tombstone(txn, now).await?;
                (outcome, zero, false)
            }
            Some(bet) => {
                let bet_amount = bet_money(&bet, &balance)?;
                match self.check_target(&bet, &player.id) {
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
                        let clearing = ledger::provider_account(provider, &player.currency);
                        ledger::post(
                            txn,
                            wallet_tx_id,
                            &player,
                            Direction::Credit,
                            refund.minor,
                            &clearing,
                            now,
                        )
                        .await?;
                        wtx::Entity::update_many()
                            .col_expr(wtx::Column::State, Expr::value("ROLLED_BACK"))
                            .col_expr(wtx::Column::UpdatedAt, Expr::value(now))
                            .filter(wtx::Column::Id.eq(bet.id))
                            .filter(wtx::Column::State.eq("COMMITTED"))
                            .exec(txn)
                            .await?;
                        ("REFUNDED", refund, self.hint_differs(&bet_amount))
                    }
                }
            }
        };
        if mismatch {
            crate::reconcile::flag_hint_mismatch(txn, wallet_tx_id).await?;
        }
        if self.round_closed {
            super::close_round(txn, provider, &player.id, self.round_id.as_str(), now).await?;
        }
        let after = balance
            .minor
            .checked_add(refunded.minor)
            .map_err(ApiError::from)?;
        let mut fields = Map::new();
        fields.insert("target_transaction_id".into(), json!(self.target.as_str()));
        fields.insert("outcome".into(), json!(outcome));
        fields.insert("refunded".into(), json!(refunded.to_wire()));
        fields.insert("amount_hint_mismatch".into(), json!(mismatch));
        Ok(Decision::Done {
            state: "COMMITTED",
            outcome: Some(outcome),
            fields,
            balance: Money::new(after, balance.currency),
        })
    }

    /// The rules for an existing target, in the documented order.
    fn check_target(
        &self,
        bet: &wtx::Model,
        player_id: &str,
    ) -> Result<TargetState, RollbackDecline> {
        if bet.player_id != player_id {
            return Err(RollbackDecline::NotFound);
        }
        if bet.op != "BET" || bet.state == "DECLINED" {
            return Err(RollbackDecline::NotReversible);
        }
        match bet.state.as_str() {
            "COMMITTED" => Ok(TargetState::Refundable),
            "SETTLED" => Err(RollbackDecline::Settled),
            _ => Ok(TargetState::AlreadyCancelled),
        }
    }

    /// Unknown target: the first rollback leaves a tombstone, later ones find it.
    async fn tombstone(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
    ) -> Result<&'static str, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        if find_tombstone(txn, provider, self.target.as_str())
            .await?
            .is_some()
        {
            return Ok("ALREADY_ROLLED_BACK");
        }
        let row = tombstone::ActiveModel {
            provider_id: Set(provider.to_owned()),
            transaction_id: Set(self.target.as_str().to_owned()),
            player_id: Set(self.player_id.as_str().to_owned()),
            rollback_transaction_id: Set(self.keyed.transaction_id.as_str().to_owned()),
            created_at: Set(now),
            late_bet_at: Set(None),
        };
        tombstone::Entity::insert(row)
            .exec_without_returning(txn)
            .await?;
        Ok("TARGET_NOT_FOUND_TOMBSTONED")
    }

    fn hint_differs(&self, bet_amount: &Money) -> bool {
        self.amount_hint
            .as_ref()
            .is_some_and(|hint| hint != bet_amount)
    }
}

fn bet_money(bet: &wtx::Model, balance: &Money) -> Result<Money, ServiceError> {
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

    fn decide<'c>(
        &'c self,
        txn: &'c DatabaseTransaction,
        wallet_tx_id: i64,
        now: DateTime<Utc>,
    ) -> BoxFuture<'c, Result<Decision, ServiceError>> {
        Box::pin(self.audited(txn, wallet_tx_id, now))
    }
}
