//! A transaction's trace as the dispute page shows it: the rows, a time-ordered history,
//! and the verdict of the player's hash chain.
use app::model::{self as view, ChainVerdict, HistoryEvent};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::amounts::money_text;
use super::rows::{attempt_detail, audit_row, pretty, transaction_row};
use super::{Trace, TransactionTrace};
use crate::db::entities::player;
use crate::domain::CurrencyTable;
use crate::error::ServiceError;
use crate::idempotency::{first_body_of, format_time, request_of};
use crate::ledger::chain::{self, Anchor, Chain};

pub async fn trace_view(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    query: &str,
    trace: Trace,
) -> Result<view::Trace, ServiceError> {
    let mut transactions = Vec::with_capacity(trace.transactions.len());
    for tx in trace.transactions {
        transactions.push(transaction_view(db, currencies, tx).await?);
    }
    Ok(view::Trace {
        query: query.to_owned(),
        transactions,
        unmatched_attempts: trace
            .unmatched_attempts
            .iter()
            .map(|attempt| attempt_detail(currencies, attempt, None))
            .collect(),
    })
}

async fn transaction_view(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    tx: TransactionTrace,
) -> Result<view::TransactionTrace, ServiceError> {
    let chain = chain_verdict(db, &tx).await?;
    let ledger = tx
        .ledger
        .iter()
        .map(|line| view::LedgerLine {
            id: line.entry.id,
            account: line.entry.account.clone(),
            amount: money_text(currencies, line.entry.amount_minor, &line.entry.currency),
            balance_before: line
                .balance_before_minor
                .map(|minor| money_text(currencies, minor, &line.entry.currency)),
            balance_after: line
                .balance_after_minor
                .map(|minor| money_text(currencies, minor, &line.entry.currency)),
            chain_hash: line.entry.chain_hash.clone(),
            created_at: format_time(line.entry.created_at),
        })
        .collect();
    let round = tx.round.as_ref().map(|round| view::RoundView {
        round_id: round.round.round_id.clone(),
        game_id: round.round.game_id.clone(),
        state: round.round.state.clone(),
        opened_at: format_time(round.round.opened_at),
        closed_at: round.round.closed_at.map(format_time),
        transactions: round
            .transactions
            .iter()
            .map(|row| transaction_row(currencies, row))
            .collect(),
    });
    let tombstone = tx.tombstone.as_ref().map(|stone| {
        let late = stone.late_bet_at.map_or_else(
            || "the bet has not arrived since".to_owned(),
            |at| {
                format!(
                    "the bet arrived later, at {}, and was voided",
                    format_time(at)
                )
            },
        );
        format!(
            "Rollback {} arrived before this bet, at {}; {late}.",
            stone.rollback_transaction_id,
            format_time(stone.created_at)
        )
    });
    Ok(view::TransactionTrace {
        history: history(currencies, &tx),
        transaction: transaction_row(currencies, &tx.transaction),
        first_request: pretty(&request_of(&tx.transaction)),
        first_response: pretty(&first_body_of(&tx.transaction, currencies)),
        attempts: tx
            .attempts
            .iter()
            .map(|attempt| attempt_detail(currencies, attempt, Some(&tx.transaction)))
            .collect(),
        ledger,
        round,
        target: tx
            .target
            .as_ref()
            .map(|row| transaction_row(currencies, row)),
        related: tx
            .related
            .iter()
            .map(|row| transaction_row(currencies, row))
            .collect(),
        tombstone,
        audit: tx.audit.iter().map(audit_row).collect(),
        chain,
    })
}

/// What happened when: the first answer, later changes of state, the rollbacks and wins
/// naming it, the tombstone and staff actions, oldest first.
fn history(currencies: &CurrencyTable, tx: &TransactionTrace) -> Vec<HistoryEvent> {
    let row = &tx.transaction;
    let mut events = vec![(
        row.created_at,
        format!(
            "{} {} first answered {}{}",
            row.op,
            row.transaction_id,
            row.http_status,
            row.error_code
                .as_deref()
                .map(|code| format!(" {code}"))
                .unwrap_or_else(|| format!(", state {}", first_state(currencies, row)))
        ),
    )];
    for related in &tx.related {
        let amount = transaction_row(currencies, related)
            .amount
            .unwrap_or_default();
        events.push((
            related.created_at,
            format!(
                "{} {} {amount} → {}",
                related.op, related.transaction_id, related.state
            ),
        ));
    }
    if let Some(stone) = &tx.tombstone {
        events.push((
            stone.created_at,
            "rollback recorded before the bet (tombstone)".to_owned(),
        ));
    }
    for action in &tx.audit {
        events.push((
            action.at,
            format!("{}: {} ({})", action.actor, action.action, action.reason),
        ));
    }
    if row.updated_at > row.created_at {
        events.push((row.updated_at, format!("state is now {}", row.state)));
    }
    events.sort_by_key(|(at, _)| *at);
    events
        .into_iter()
        .map(|(at, what)| HistoryEvent {
            at: format_time(at),
            what,
        })
        .collect()
}

/// The state of the first answer, read from the stored response.
fn first_state(
    currencies: &CurrencyTable,
    row: &crate::db::entities::wallet_transaction::Model,
) -> String {
    serde_json::from_str::<serde_json::Value>(&first_body_of(row, currencies))
        .ok()
        .and_then(|body| {
            body.pointer("/transaction/state")
                .and_then(|s| s.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| row.state.clone())
}

/// Verifies the player's whole chain when this transaction posted to it.
async fn chain_verdict(
    db: &impl ConnectionTrait,
    tx: &TransactionTrace,
) -> Result<ChainVerdict, ServiceError> {
    if !tx.ledger.iter().any(|line| line.entry.chain_hash.is_some()) {
        return Ok(ChainVerdict::NotApplicable);
    }
    let Some(owner) = player::Entity::find_by_id(tx.transaction.player_id.as_str())
        .one(db)
        .await?
    else {
        return Ok(ChainVerdict::NotApplicable);
    };
    Ok(
        match chain::verify_player(db, &owner, &Anchor::genesis(), 0).await? {
            Chain::Verified { postings, .. } => ChainVerdict::Verified { entries: postings },
            Chain::Broken { found, .. } => ChainVerdict::Broken {
                entry_id: found.entry_id.unwrap_or(0),
                reason: found.reason,
            },
        },
    )
}
