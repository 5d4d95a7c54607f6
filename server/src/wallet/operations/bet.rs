//! `POST /wallet/v1/bet`: a debit, gated by the player's game session.
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::{Map, Value};

use super::{
    balance_of, bet_context, check_metadata, declined, is_closed, parse_id, player_not_found,
    BetContext, BetKeys, KeyFields, RequestContext,
};
use crate::db::entities::{round, tombstone};
use crate::domain::{GameId, Money, PlayerId, RoundId, TransactionId};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{Decision, KeyedRequest, Operation};
use crate::ledger::{self, Direction};
use crate::wallet::wire::{BetKind, BetRequest};

pub struct Bet {
    keyed: KeyedRequest,
    ctx: RequestContext,
    player_id: PlayerId,
    round_id: RoundId,
    game_id: GameId,
    session_token: String,
    amount: Money,
    kind: BetKind,
    round_closed: bool,
}

impl Bet {
    pub fn parse(
        request: BetRequest,
        raw_body: &[u8],
        ctx: RequestContext,
    ) -> Result<Bet, ApiError> {
        let transaction_id = parse_id(
            "transaction_id",
            request.transaction_id,
            TransactionId::parse,
        )?;
        let player_id = parse_id("player_id", request.player_id, PlayerId::parse)?;
        let round_id = parse_id("round_id", request.round_id, RoundId::parse)?;
        let game_id = parse_id("game_id", request.game_id, GameId::parse)?;
        check_metadata(&request.metadata)?;
        let amount = ctx.currencies.money(&request.amount)?;
        let kind = request.kind.unwrap_or(BetKind::Bet);
        let round_closed = request.round_closed.unwrap_or(false);
        let keyed = KeyFields {
            op: "BET",
            player_id: player_id.as_str(),
            round_id: Some(round_id.as_str()),
            game_id: game_id.as_str(),
            kind: Some(kind.as_str()),
            amount: Some(&amount),
            reference_transaction_id: None,
            target_transaction_id: None,
            round_closed,
        }
        .keyed(transaction_id, &ctx, raw_body);
        Ok(Bet {
            keyed,
            ctx,
            player_id,
            round_id,
            game_id,
            session_token: request.session_token,
            amount,
            kind,
            round_closed,
        })
    }

    /// The checks of the contract, in its order; the first that fails is the answer.
    async fn run(
        &self,
        txn: &DatabaseTransaction,
        wallet_tx_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Decision, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        let keys = BetKeys {
            provider_id: provider,
            player_id: self.player_id.as_str(),
            session_token: &self.session_token,
            round_id: self.round_id.as_str(),
            transaction_id: self.keyed.transaction_id.as_str(),
        };
        let Some(BetContext {
            player,
            session,
            round: existing_round,
            tombstone,
        }) = bet_context(txn, keys).await?
        else {
            return Ok(player_not_found(self.player_id.as_str()));
        };
        let balance = balance_of(&self.ctx.currencies, &player)?;
        let Some(session) = session.filter(|s| {
            s.player_id == player.id
                && s.provider_id == provider
                && s.game_id == self.game_id.as_str()
        }) else {
            return Ok(declined(
                ErrorCode::SessionInvalid,
                "unknown session for this player, provider and game",
                Some(balance),
            ));
        };
        if session.superseded || session.expires_at <= now {
            return Ok(declined(
                ErrorCode::SessionExpired,
                "the session expired or a newer one replaced it",
                Some(balance),
            ));
        }
        if player.status == "BLOCKED" {
            return Ok(declined(
                ErrorCode::PlayerBlocked,
                "the player is blocked",
                Some(balance),
            ));
        }
        if self.amount.currency.code() != player.currency {
            return Ok(declined(
                ErrorCode::CurrencyMismatch,
                format!("the player's currency is {}", player.currency),
                Some(balance),
            ));
        }
        if is_closed(&existing_round) {
            return Ok(declined(
                ErrorCode::RoundClosed,
                "the round is closed",
                Some(balance),
            ));
        }
        if let Some(tomb) = tombstone {
            mark_late_bet(txn, tomb, now).await?;
            return Ok(Decision::Declined {
                error: ApiError::new(
                    ErrorCode::TransactionVoided,
                    "an earlier rollback cancelled this bet",
                ),
                state: "VOIDED_BY_PRIOR_ROLLBACK",
                balance: Some(balance),
            });
        }
        let moves_money = self.kind == BetKind::Bet;
        if moves_money && balance.minor < self.amount.minor {
            return Ok(declined(
                ErrorCode::InsufficientFunds,
                "balance too low for this bet",
                Some(balance),
            ));
        }
        if existing_round.is_none() {
            open_round(
                txn,
                provider,
                &player.id,
                self.round_id.as_str(),
                self.game_id.as_str(),
                now,
            )
            .await?;
        }
        let after = if moves_money {
            let clearing = ledger::provider_account(provider, &player.currency);
            ledger::post(
                txn,
                wallet_tx_id,
                &player,
                Direction::Debit,
                self.amount.minor,
                &clearing,
                now,
            )
            .await?
        } else {
            balance.minor
        };
        if self.round_closed {
            super::close_round(txn, provider, &player.id, self.round_id.as_str(), now).await?;
        }
        Ok(Decision::Done {
            state: "COMMITTED",
            outcome: None,
            fields: Map::<String, Value>::new(),
            balance: Money::new(after, balance.currency),
        })
    }
}

async fn open_round(
    txn: &DatabaseTransaction,
    provider_id: &str,
    player_id: &str,
    round_id: &str,
    game_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let row = round::ActiveModel {
        provider_id: Set(provider_id.to_owned()),
        player_id: Set(player_id.to_owned()),
        round_id: Set(round_id.to_owned()),
        game_id: Set(game_id.to_owned()),
        state: Set("OPEN".to_owned()),
        opened_at: Set(now),
        closed_at: Set(None),
    };
    round::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                round::Column::ProviderId,
                round::Column::PlayerId,
                round::Column::RoundId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .do_nothing()
        .exec(txn)
        .await?;
    Ok(())
}

/// Notes that the bet a tombstone was waiting for arrived (for reconciliation).
async fn mark_late_bet(
    txn: &DatabaseTransaction,
    tomb: tombstone::Model,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    if tomb.late_bet_at.is_none() {
        tombstone::Entity::update_many()
            .col_expr(tombstone::Column::LateBetAt, Expr::value(Some(now)))
            .filter(tombstone::Column::ProviderId.eq(tomb.provider_id))
            .filter(tombstone::Column::TransactionId.eq(tomb.transaction_id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

impl Operation for Bet {
    fn keyed(&self) -> &KeyedRequest {
        &self.keyed
    }

    fn decide<'c>(
        &'c self,
        txn: &'c DatabaseTransaction,
        wallet_tx_id: i64,
        now: DateTime<Utc>,
    ) -> BoxFuture<'c, Result<Decision, ServiceError>> {
        Box::pin(self.run(txn, wallet_tx_id, now))
    }
}
