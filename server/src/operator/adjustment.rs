//! Cashier adjustments: deposits, withdrawals and bonus grants, idempotent on
//! `adjustment_id` with the same rules as money operations. Their keys live in the
//! `@operator` scope, which no provider id can collide with.
use std::sync::Arc;

use super::wire::{AdjustmentRequest, Direction};
use crate::domain::{CurrencyTable, Money, OpType, PlayerId, TransactionId, TxState};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{Decision, Fingerprint, KeyedRequest, OpFields, OPERATOR_SCOPE};
use crate::ledger;
use crate::money::{BatchState, Needs, Operation};
use crate::wallet::operations::{balance_of, declined, player_not_found};

const REASON_MAX_BYTES: usize = 1024;

pub struct Adjustment {
    keyed: KeyedRequest,
    currencies: Arc<CurrencyTable>,
    player_id: PlayerId,
    direction: Direction,
    amount: Money,
    reason: Option<String>,
}

impl Adjustment {
    pub fn parse(
        player_id: PlayerId,
        request: AdjustmentRequest,
        raw_body: &[u8],
        currencies: Arc<CurrencyTable>,
        request_id: &str,
    ) -> Result<Adjustment, ApiError> {
        let adjustment_id = TransactionId::parse(request.adjustment_id)
            .map_err(|e| ApiError::malformed(format!("adjustment_id: {e}")))?;
        if request
            .reason
            .as_ref()
            .is_some_and(|r| r.len() > REASON_MAX_BYTES)
        {
            return Err(ApiError::malformed(format!(
                "reason: at most {REASON_MAX_BYTES} bytes"
            )));
        }
        let amount = currencies.money(&request.amount)?;
        let direction_name = match request.direction {
            Direction::Credit => "CREDIT",
            Direction::Debit => "DEBIT",
        };
        let wire = amount.to_wire();
        let fingerprint = Fingerprint::new()
            .with("op", "ADJUSTMENT")
            .with("player_id", player_id.as_str())
            .with("direction", direction_name)
            .with("amount.value", wire.value)
            .with("amount.currency", wire.currency)
            .with("amount.scale", wire.scale);
        let keyed = KeyedRequest {
            scope: OPERATOR_SCOPE.to_owned(),
            transaction_id: adjustment_id,
            player_id: player_id.as_str().to_owned(),
            op: OpType::Adjustment,
            kind: Some(direction_name),
            round_id: None,
            game_id: None,
            amount: Some(amount.clone()),
            target_transaction_id: None,
            fingerprint,
            request_body: String::from_utf8_lossy(raw_body).into_owned(),
            request_id: request_id.to_owned(),
            packed: Default::default(),
        };
        Ok(Adjustment {
            keyed,
            currencies,
            player_id,
            direction: request.direction,
            amount,
            reason: request.reason,
        })
    }

    fn run(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        let player_id = self.player_id.as_str();
        let Some(player) = state.player(player_id) else {
            return Ok(player_not_found(player_id));
        };
        let balance = balance_of(&self.currencies, player)?;
        if self.amount.currency.code() != player.currency {
            let message = format!("the player's currency is {}", player.currency);
            return Ok(declined(
                ErrorCode::CurrencyMismatch,
                message,
                Some(balance),
            ));
        }
        let direction = match self.direction {
            Direction::Credit => ledger::Direction::Credit,
            Direction::Debit if balance.minor < self.amount.minor => {
                return Ok(declined(
                    ErrorCode::InsufficientFunds,
                    "balance too low for this withdrawal",
                    Some(balance),
                ));
            }
            Direction::Debit => ledger::Direction::Debit,
        };
        let cashier = ledger::cashier_account(balance.currency.code());
        let after = state.post(
            player_id,
            wallet_tx_id,
            direction,
            self.amount.minor,
            &cashier,
        )?;
        Ok(Decision::Done {
            state: TxState::Committed,
            fields: OpFields::Adjustment {
                reason: self.reason.clone(),
            },
            balance: Money::new(after, balance.currency),
        })
    }
}

impl Operation for Adjustment {
    fn keyed(&self) -> &KeyedRequest {
        &self.keyed
    }

    fn needs(&self, _needs: &mut Needs) {}

    fn decide(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        self.run(state, wallet_tx_id)
    }
}
