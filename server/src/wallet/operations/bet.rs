//! `POST /wallet/v1/bet`: a debit, gated by the player's game session.

use super::{
    balance_of, check_metadata, declined, parse_id, player_not_found, KeyFields, RequestContext,
};
use crate::domain::{
    GameId, Money, OpType, PlayerId, PlayerStatus, RoundId, TransactionId, TxState,
};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{Decision, KeyedRequest, OpFields};
use crate::ledger::{self, Direction};
use crate::money::model::Player;
use crate::money::{BatchState, Needs, Operation};
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
        request_body: String,
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
            op: OpType::Bet,
            player_id: player_id.as_str(),
            round_id: Some(round_id.as_str()),
            game_id: game_id.as_str(),
            kind: Some(kind.as_str()),
            amount: Some(&amount),
            reference_transaction_id: None,
            target_transaction_id: None,
            round_closed,
        }
        .keyed(transaction_id, &ctx, request_body);
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
    fn run(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        let player_id = self.player_id.as_str();
        let round_id = self.round_id.as_str();
        let Some(player) = state.player(player_id) else {
            return Ok(player_not_found(player_id));
        };
        let balance = balance_of(&self.ctx.currencies, player)?;
        if let Some((code, message)) = self.refusal(state, player) {
            return Ok(declined(code, message, Some(balance)));
        }
        let transaction_id = self.keyed.transaction_id.as_str();
        if state.tombstone(provider, transaction_id).is_some() {
            state.mark_late_bet(provider, transaction_id);
            return Ok(Decision::Declined {
                error: ApiError::new(
                    ErrorCode::TransactionVoided,
                    "an earlier rollback cancelled this bet",
                ),
                state: TxState::VoidedByPriorRollback,
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
        let after = if moves_money {
            let clearing = ledger::provider_account(provider, balance.currency.code());
            state.post(
                player_id,
                wallet_tx_id,
                Direction::Debit,
                self.amount.minor,
                &clearing,
            )?
        } else {
            balance.minor
        };
        state.open_round(provider, player_id, round_id, self.game_id.as_str());
        if self.round_closed {
            state.close_round(provider, player_id, round_id);
        }
        Ok(Decision::Done {
            state: TxState::Committed,
            fields: OpFields::Bet {},
            balance: Money::new(after, balance.currency),
        })
    }
}

impl Bet {
    /// The checks before the tombstone's, in the contract's order: the first that fails.
    fn refusal(&self, state: &BatchState, player: &Player) -> Option<(ErrorCode, String)> {
        let provider = self.ctx.provider_id.as_str();
        let session = state.session(&self.session_token).filter(|s| {
            s.player_id == player.id
                && s.provider_id == provider
                && s.game_id == self.game_id.as_str()
        });
        let refusal = |code, message: &str| Some((code, message.to_owned()));
        let Some(session) = session else {
            return refusal(
                ErrorCode::SessionInvalid,
                "unknown session for this player, provider and game",
            );
        };
        if session.superseded || session.expires_at <= state.now {
            return refusal(
                ErrorCode::SessionExpired,
                "the session expired or a newer one replaced it",
            );
        }
        if player.status == PlayerStatus::Blocked {
            return refusal(ErrorCode::PlayerBlocked, "the player is blocked");
        }
        if self.amount.currency.code() != player.currency {
            let message = format!("the player's currency is {}", player.currency);
            return refusal(ErrorCode::CurrencyMismatch, &message);
        }
        if state.is_round_closed(provider, &player.id, self.round_id.as_str()) {
            return refusal(ErrorCode::RoundClosed, "the round is closed");
        }
        None
    }
}

impl Operation for Bet {
    fn keyed(&self) -> &KeyedRequest {
        &self.keyed
    }

    fn needs(&self, needs: &mut Needs) {
        let provider = self.ctx.provider_id.as_str();
        needs.sessions.insert(self.session_token.clone());
        needs.rounds.insert(crate::money::round_key(
            provider,
            self.player_id.as_str(),
            self.round_id.as_str(),
        ));
        needs.tombstones.insert((
            provider.to_owned(),
            self.keyed.transaction_id.as_str().to_owned(),
        ));
    }

    fn decide(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        self.run(state, wallet_tx_id)
    }
}
