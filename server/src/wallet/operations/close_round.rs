//! `POST /wallet/v1/rounds/close`: closes a round; an unknown round is not created.
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sea_orm::DatabaseTransaction;
use serde_json::{json, Map};

use super::{
    balance_of, check_metadata, lock_player, parse_id, player_not_found, KeyFields, RequestContext,
};
use crate::domain::{GameId, PlayerId, RoundId, TransactionId};
use crate::error::{ApiError, ServiceError};
use crate::idempotency::{Decision, KeyedRequest, Operation};
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
        raw_body: &[u8],
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
            op: "CLOSE_ROUND",
            player_id: player_id.as_str(),
            round_id: Some(round_id.as_str()),
            game_id: game_id.as_str(),
            kind: None,
            amount: None,
            reference_transaction_id: None,
            target_transaction_id: None,
            round_closed: request.round_closed.unwrap_or(false),
        }
        .keyed(transaction_id, &ctx, raw_body);
        Ok(CloseRound {
            keyed,
            ctx,
            player_id,
            round_id,
        })
    }

    async fn run(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
    ) -> Result<Decision, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        let Some(player) = lock_player(txn, self.player_id.as_str()).await? else {
            return Ok(player_not_found(self.player_id.as_str()));
        };
        let balance = balance_of(&self.ctx.currencies, &player)?;
        let existed =
            super::close_round(txn, provider, &player.id, self.round_id.as_str(), now).await?;
        let mut fields = Map::new();
        fields.insert(
            "round_state".into(),
            json!(if existed { "CLOSED" } else { "NOT_FOUND" }),
        );
        Ok(Decision::Done {
            state: "COMMITTED",
            outcome: None,
            fields,
            balance,
        })
    }
}

impl Operation for CloseRound {
    fn keyed(&self) -> &KeyedRequest {
        &self.keyed
    }

    fn decide<'c>(
        &'c self,
        txn: &'c DatabaseTransaction,
        _wallet_tx_id: i64,
        now: DateTime<Utc>,
    ) -> BoxFuture<'c, Result<Decision, ServiceError>> {
        Box::pin(self.run(txn, now))
    }
}
