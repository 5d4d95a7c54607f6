//! `POST /wallet/v1/win`: a credit that settles the bet(s) it pays for.

use super::{
    balance_of, check_metadata, declined, parse_id, player_not_found, KeyFields, RequestContext,
};
use crate::domain::{GameId, Money, OpType, PlayerId, RoundId, TransactionId, TxState};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::idempotency::{Decision, KeyedRequest, OpFields};
use crate::ledger::{self, Direction};
use crate::money::{round_key, BatchState, Needs, Operation};
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

impl Win {
    pub fn parse(
        request: WinRequest,
        request_body: String,
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
            op: OpType::Win,
            player_id: player_id.as_str(),
            round_id: round_id.as_ref().map(RoundId::as_str),
            game_id: game_id.as_str(),
            kind: Some(kind.as_str()),
            amount: Some(&amount),
            reference_transaction_id: reference.as_ref().map(TransactionId::as_str),
            target_transaction_id: None,
            round_closed,
        }
        .keyed(transaction_id, &ctx, request_body);
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

    fn run(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        let provider = self.ctx.provider_id.as_str();
        let player_id = self.player_id.as_str();
        let Some(player) = state.player(player_id) else {
            return Ok(player_not_found(player_id));
        };
        let balance = balance_of(&self.ctx.currencies, player)?;
        if self.amount.currency.code() != player.currency {
            let message = format!("the player's currency is {}", player.currency);
            return Ok(declined(
                ErrorCode::CurrencyMismatch,
                message,
                Some(balance),
            ));
        }
        let mut settles = Vec::new();
        if self.kind.needs_bet() {
            let bets = match self.settled_bets(state) {
                Ok(bets) => bets,
                Err(decline) => return Ok(decline.with_balance(balance)),
            };
            let round_id = self
                .round_id
                .as_ref()
                .map(RoundId::as_str)
                .unwrap_or_default();
            if state.is_round_closed(provider, player_id, round_id) {
                return Ok(declined(
                    ErrorCode::RoundClosed,
                    "the round is closed",
                    Some(balance),
                ));
            }
            settles = bets;
        }
        let clearing = ledger::provider_account(provider, balance.currency.code());
        let after = state.post(
            player_id,
            wallet_tx_id,
            Direction::Credit,
            self.amount.minor,
            &clearing,
        )?;
        for bet in &settles {
            state.set_state(provider, bet, TxState::Settled);
        }
        if let (true, Some(round_id)) = (self.round_closed, &self.round_id) {
            state.close_round(provider, player_id, round_id.as_str());
        }
        Ok(Decision::Done {
            state: TxState::Committed,
            fields: OpFields::Win {
                reference_transaction_id: self.reference.as_ref().map(|r| r.as_str().to_owned()),
            },
            balance: Money::new(after, balance.currency),
        })
    }

    /// The committed bets this win settles (their transaction ids), or why it may not:
    /// none found, or all cancelled.
    fn settled_bets(&self, state: &BatchState) -> Result<Vec<String>, WinDecline> {
        let provider = self.ctx.provider_id.as_str();
        let player_id = self.player_id.as_str();
        let bets: Vec<(String, TxState)> = match (&self.reference, &self.round_id) {
            (Some(reference), _) => state
                .key(provider, reference.as_str())
                .filter(|row| {
                    row.player_id == player_id
                        && row.op == OpType::Bet
                        && row.state != TxState::Declined
                })
                .map(|row| (reference.as_str().to_owned(), row.state))
                .into_iter()
                .collect(),
            (None, Some(round_id)) => state
                .round_bets(provider, player_id, round_id.as_str())
                .into_iter()
                .map(|(transaction_id, row)| (transaction_id.to_owned(), row.state))
                .collect(),
            (None, None) => return Err(WinDecline::NotFound),
        };
        if bets.is_empty() {
            // A referenced bet that a rollback cancelled before it arrived.
            if let Some(reference) = &self.reference {
                if state.tombstone(provider, reference.as_str()).is_some() {
                    return Err(WinDecline::Cancelled);
                }
            }
            return Err(WinDecline::NotFound);
        }
        if bets.iter().all(|(_, bet_state)| bet_state.is_cancelled()) {
            return Err(WinDecline::Cancelled);
        }
        Ok(bets
            .into_iter()
            .filter(|(_, bet_state)| *bet_state == TxState::Committed)
            .map(|(transaction_id, _)| transaction_id)
            .collect())
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

    fn needs(&self, needs: &mut Needs) {
        let provider = self.ctx.provider_id.as_str();
        let player_id = self.player_id.as_str();
        if let Some(round_id) = &self.round_id {
            needs
                .rounds
                .insert(round_key(provider, player_id, round_id.as_str()));
        }
        if !self.kind.needs_bet() {
            return;
        }
        match (&self.reference, &self.round_id) {
            (Some(reference), _) => {
                let key = (provider.to_owned(), reference.as_str().to_owned());
                needs.keys.insert(key.clone());
                needs.tombstones.insert(key);
            }
            (None, Some(round_id)) => {
                needs
                    .round_bets
                    .insert(round_key(provider, player_id, round_id.as_str()));
            }
            (None, None) => {}
        }
    }

    fn decide(&self, state: &mut BatchState, wallet_tx_id: i64) -> Result<Decision, ServiceError> {
        self.run(state, wallet_tx_id)
    }
}
