//! `POST /wallet/v1/rounds/close`: closes a round; an unknown round is not created.

use super::{balance_of, check_metadata, parse_id, player_not_found, KeyFields, RequestContext};
use crate::domain::{GameId, OpType, PlayerId, RoundId, TransactionId, TxState};
use crate::error::{ApiError, ServiceError};
use crate::idempotency::{Decision, KeyedRequest, OpFields};
use crate::money::{round_key, BatchState, Needs, Operation};
use crate::wallet::wire::CloseRoundRequest;

pub struct CloseRound {
    keyed: KeyedRequest,
    ctx: RequestContext,
    player_id: PlayerId,
    round_id: RoundId,
}

impl CloseRound {
    pub fn parse(
        request: CloseRoundRequest,
        request_body: String,
        ctx: RequestContext,
    ) -> Result<CloseRound, ApiError> {
        let transaction_id = parse_id(
            "transaction_id",
            request.transaction_id,
            TransactionId::parse,
        )?;
        let player_id = parse_id("player_id", request.player_id, PlayerId::parse)?;
        let round_id = parse_id("round_id", request.round_id, RoundId::parse)?;
        let game_id = parse_id("game_id", request.game_id, GameId::parse)?;
        check_metadata(&request.metadata)?;
        let keyed = KeyFields {
            op: OpType::CloseRound,
            player_id: player_id.as_str(),
            round_id: Some(round_id.as_str()),
            game_id: game_id.as_str(),
            kind: None,
            amount: None,
            reference_transaction_id: None,
            target_transaction_id: None,
            round_closed: request.round_closed.unwrap_or(false),
        }
        .keyed(transaction_id, &ctx, request_body);
        Ok(CloseRound {
            keyed,
            ctx,
            player_id,
            round_id,
        })
    }

    fn run(&self, state: &mut BatchState) -> Result<Decision, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        let player_id = self.player_id.as_str();
        let Some(player) = state.player(player_id) else {
            return Ok(player_not_found(player_id));
        };
        let balance = balance_of(&self.ctx.currencies, player)?;
        let existed = state.close_round(provider, player_id, self.round_id.as_str());
        let round_state = if existed { "CLOSED" } else { "NOT_FOUND" };
        Ok(Decision::Done {
            state: TxState::Committed,
            fields: OpFields::CloseRound { round_state },
            balance,
        })
    }
}

impl Operation for CloseRound {
    fn keyed(&self) -> &KeyedRequest {
        &self.keyed
    }

    fn needs(&self, needs: &mut Needs) {
        needs.rounds.insert(round_key(
            self.ctx.provider_id.as_str(),
            self.player_id.as_str(),
            self.round_id.as_str(),
        ));
    }

    fn decide(&self, state: &mut BatchState, _wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        self.run(state)
    }
}
