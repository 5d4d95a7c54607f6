//! `POST /wallet/v1/win`: a credit that settles the bet(s) it pays for.
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Map};

use super::{
    balance_of, check_metadata, declined, find_round, find_tombstone, is_closed, lock_player,
    parse_id, player_not_found, KeyFields, RequestContext,
};
use crate::db::entities::wallet_transaction as wtx;
use crate::domain::{GameId, Money, PlayerId, RoundId, TransactionId};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{Decision, KeyedRequest, Operation};
use crate::ledger::{self, Direction};
use crate::wallet::wire::{WinKind, WinRequest};

pub struct Win {
    keyed: KeyedRequest,
    ctx: RequestContext,
    player_id: PlayerId,
    round_id: Option<RoundId>,
    amount: Money,
    kind: WinKind,
    reference: Option<TransactionId>,
    round_closed: bool,
}

/// Bet states that no longer accept a win.
const CANCELLED: [&str; 2] = ["ROLLED_BACK", "VOIDED_BY_PRIOR_ROLLBACK"];

impl Win {
    pub fn parse(
        request: WinRequest,
        raw_body: &[u8],
        ctx: RequestContext,
    ) -> Result<Win, ApiError> {
        let transaction_id = parse_id(
            "transaction_id",
            request.transaction_id,
            TransactionId::parse,
        )?;
        let player_id = parse_id("player_id", request.player_id, PlayerId::parse)?;
        let game_id = parse_id("game_id", request.game_id, GameId::parse)?;
        let kind = request.kind.unwrap_or(WinKind::Win);
        let round_id = match request.round_id {
            Some(round_id) => Some(parse_id("round_id", round_id, RoundId::parse)?),
            None if kind.needs_bet() => {
                return Err(ApiError::malformed(
                    "round_id: required for WIN and FREE_WIN",
                ))
            }
            None => None,
        };
        let reference = request
            .reference_transaction_id
            .map(|id| parse_id("reference_transaction_id", id, TransactionId::parse))
            .transpose()?;
        check_metadata(&request.metadata)?;
        let amount = ctx.currencies.money(&request.amount)?;
        let round_closed = request.round_closed.unwrap_or(false);
        let keyed = KeyFields {
            op: "WIN",
            player_id: player_id.as_str(),
            round_id: round_id.as_ref().map(RoundId::as_str),
            game_id: game_id.as_str(),
            kind: Some(kind.as_str()),
            amount: Some(&amount),
            reference_transaction_id: reference.as_ref().map(TransactionId::as_str),
            target_transaction_id: None,
            round_closed,
        }
        .keyed(transaction_id, &ctx, raw_body);
        Ok(Win {
            keyed,
            ctx,
            player_id,
            round_id,
            amount,
            kind,
            reference,
            round_closed,
        })
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
        if self.amount.currency.code() != player.currency {
            return Ok(declined(
                ErrorCode::CurrencyMismatch,
                format!("the player's currency is {}", player.currency),
                Some(balance),
            ));
        }
        let mut settles = Vec::new();
        if self.kind.needs_bet() {
            let bets = match self.settled_bets(txn, &player.id).await? {
                Ok(bets) => bets,
                Err(decline) => return Ok(decline.with_balance(balance)),
            };
            let round_id = self
                .round_id
                .as_ref()
                .map(RoundId::as_str)
                .unwrap_or_default();
            if is_closed(&find_round(txn, provider, &player.id, round_id).await?) {
                return Ok(declined(
                    ErrorCode::RoundClosed,
                    "the round is closed",
                    Some(balance),
                ));
            }
            settles = bets
                .into_iter()
                .filter(|bet| bet.state == "COMMITTED")
                .map(|bet| bet.id)
                .collect();
        }
        let clearing = ledger::provider_account(provider, &player.currency);
        let after = ledger::post(
            txn,
            wallet_tx_id,
            &player,
            Direction::Credit,
            self.amount.minor,
            &clearing,
            now,
        )
        .await?;
        if !settles.is_empty() {
            wtx::Entity::update_many()
                .col_expr(wtx::Column::State, Expr::value("SETTLED"))
                .col_expr(wtx::Column::UpdatedAt, Expr::value(now))
                .filter(wtx::Column::Id.is_in(settles))
                .exec(txn)
                .await?;
        }
        if let (true, Some(round_id)) = (self.round_closed, &self.round_id) {
            super::close_round(txn, provider, &player.id, round_id.as_str(), now).await?;
        }
        let mut fields = Map::new();
        if let Some(reference) = &self.reference {
            fields.insert("reference_transaction_id".into(), json!(reference.as_str()));
        }
        Ok(Decision::Done {
            state: "COMMITTED",
            outcome: None,
            fields,
            balance: Money::new(after, balance.currency),
        })
    }

    /// The bets this win settles, or why it may not: none found, or all cancelled.
    async fn settled_bets(
        &self,
        txn: &DatabaseTransaction,
        player_id: &str,
    ) -> Result<Result<Vec<wtx::Model>, WinDecline>, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        let mut query = wtx::Entity::find()
            .filter(wtx::Column::Scope.eq(provider))
            .filter(wtx::Column::PlayerId.eq(player_id))
            .filter(wtx::Column::Op.eq("BET"))
            .filter(wtx::Column::State.ne("DECLINED"));
        query = match (&self.reference, &self.round_id) {
            (Some(reference), _) => query.filter(wtx::Column::TransactionId.eq(reference.as_str())),
            (None, Some(round_id)) => query.filter(wtx::Column::RoundId.eq(round_id.as_str())),
            (None, None) => return Ok(Err(WinDecline::NotFound)),
        };
        let bets = query.order_by_asc(wtx::Column::Id).all(txn).await?;
        if bets.is_empty() {
            // A referenced bet that a rollback cancelled before it arrived.
            if let Some(reference) = &self.reference {
                if find_tombstone(txn, provider, reference.as_str())
                    .await?
                    .is_some()
                {
                    return Ok(Err(WinDecline::Cancelled));
                }
            }
            return Ok(Err(WinDecline::NotFound));
        }
        if bets
            .iter()
            .all(|bet| CANCELLED.contains(&bet.state.as_str()))
        {
            return Ok(Err(WinDecline::Cancelled));
        }
        Ok(Ok(bets))
    }
}

enum WinDecline {
    NotFound,
    Cancelled,
}

impl WinDecline {
    fn with_balance(self, balance: Money) -> Decision {
        match self {
            WinDecline::NotFound => declined(
                ErrorCode::ReferenceNotFound,
                "no bet of this player to settle",
                Some(balance),
            ),
            WinDecline::Cancelled => declined(
                ErrorCode::TransactionRolledBack,
                "the bet this win settles was rolled back",
                Some(balance),
            ),
        }
    }
}

impl Operation for Win {
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
