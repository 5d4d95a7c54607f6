//! The batch's writes: one multi-row statement per table, whatever the batch's size.
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Value};

use super::load::Sql;
use super::state::BatchState;
use crate::domain::RoundState;
use crate::error::ServiceError;

/// Writes everything the batch decided. Order matters for the foreign key: transactions
/// before their ledger entries.
pub async fn flush(txn: &DatabaseTransaction, state: &BatchState) -> Result<(), ServiceError> {
    let backend = txn.get_database_backend();
    insert_transactions(txn, backend, state).await?;
    insert_rounds(txn, backend, state).await?;
    close_rounds(txn, backend, state).await?;
    update_players(txn, backend, state).await?;
    insert_entries(txn, backend, state).await?;
    update_states(txn, backend, state).await?;
    write_tombstones(txn, backend, state).await?;
    for record in &state.writes.audits {
        crate::audit::record(
            txn,
            &record.actor,
            record.action,
            record.subject_type,
            &record.subject_id,
            &record.reason,
            record.details.clone(),
            state.now,
        )
        .await?;
    }
    Ok(())
}

/// The keys' rows, each with its first answer and its state at the end of the batch.
/// A key that exists already was claimed by another process after the batch read it:
/// the batch fails and its operations run again one by one (see `money`).
async fn insert_transactions(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    state: &BatchState,
) -> Result<(), ServiceError> {
    let new_keys = &state.writes.new_keys;
    if new_keys.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(
        backend,
        "INSERT INTO wallet_transactions (id, scope, transaction_id, op, kind, player_id, \
         round_id, game_id, amount_minor, currency, target_transaction_id, fingerprint, state, \
         outcome, error_code, http_status, response_body, request_body, request_id, created_at, \
         updated_at, amount_hint_mismatch) ",
    );
    let now = state.now;
    sql.values(new_keys, |new| {
        let keyed = &new.keyed;
        let current = state
            .key(&keyed.scope, keyed.transaction_id.as_str())
            .map_or(new.recorded.state, |row| row.state);
        let values: [Value; 22] = [
            new.id.into(),
            keyed.scope.as_str().into(),
            keyed.transaction_id.as_str().into(),
            keyed.op.as_str().into(),
            keyed.kind.map(str::to_owned).into(),
            keyed.player_id.as_str().into(),
            keyed.round_id.clone().into(),
            keyed.game_id.clone().into(),
            keyed.amount.as_ref().map(|m| m.minor.get()).into(),
            keyed
                .amount
                .as_ref()
                .map(|m| m.currency.code().to_owned())
                .into(),
            keyed.target_transaction_id.clone().into(),
            keyed.fingerprint.to_json().into(),
            current.as_str().into(),
            new.recorded.outcome.map(str::to_owned).into(),
            new.recorded.error_code.map(str::to_owned).into(),
            i32::from(new.recorded.answer.http_status).into(),
            new.recorded.first_body.as_str().into(),
            keyed.request_body.as_str().into(),
            keyed.request_id.as_str().into(),
            now.into(),
            now.into(),
            new.amount_hint_mismatch.into(),
        ];
        values
    });
    sql.push(" ON CONFLICT (scope, transaction_id) DO NOTHING");
    let inserted = txn.execute(sql.statement()).await?.rows_affected();
    if inserted != new_keys.len() as u64 {
        return Err(DbErr::Custom(format!(
            "{} of {} idempotency keys were claimed concurrently",
            new_keys.len() as u64 - inserted,
            new_keys.len()
        ))
        .into());
    }
    Ok(())
}

/// Rounds the batch opened, with their state at its end (opened and closed at once is
/// one row).
async fn insert_rounds(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    state: &BatchState,
) -> Result<(), ServiceError> {
    let rows: Vec<_> = state
        .writes
        .new_rounds
        .iter()
        .filter_map(|key| state.rounds.get(key).map(|round| (key, round)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(
        backend,
        "INSERT INTO rounds (provider_id, player_id, round_id, game_id, state, opened_at, \
         closed_at) ",
    );
    sql.values(rows, |((provider, player, round_id), round)| {
        let values: [Value; 7] = [
            provider.as_str().into(),
            player.as_str().into(),
            round_id.as_str().into(),
            round.game_id.as_str().into(),
            round.state.as_str().into(),
            round.opened_at.into(),
            round.closed_at.into(),
        ];
        values
    });
    txn.execute(sql.statement()).await?;
    Ok(())
}

async fn close_rounds(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    state: &BatchState,
) -> Result<(), ServiceError> {
    let closed = &state.writes.closed_rounds;
    if closed.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(backend, "UPDATE rounds SET state = ");
    let closed_state = sql.param(RoundState::Closed.as_str());
    let at = sql.param(state.now);
    sql.push(&format!(
        "{closed_state}, closed_at = {at} WHERE (provider_id, player_id, round_id) IN ("
    ));
    sql.values(closed, |(provider, player, round)| {
        [
            provider.as_str().into(),
            player.as_str().into(),
            round.as_str().into(),
        ]
    });
    sql.push(")");
    txn.execute(sql.statement()).await?;
    Ok(())
}

/// Every posted player's balance and chain head, as a compare-and-set on the balance the
/// batch loaded: if anything changed a row behind the batch's back, the batch fails
/// instead of moving money twice.
async fn update_players(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    state: &BatchState,
) -> Result<(), ServiceError> {
    let mut posted: Vec<_> = state.players.values().filter(|p| p.posted).collect();
    if posted.is_empty() {
        return Ok(());
    }
    posted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut sql = Sql::new(
        backend,
        "UPDATE players SET balance_minor = v.column2, ledger_head = v.column3, updated_at = ",
    );
    let at = sql.param(state.now);
    sql.push(&at);
    sql.push(" FROM (");
    sql.values(&posted, |player| {
        let values: [Value; 4] = [
            player.id.as_str().into(),
            player.balance_minor.into(),
            player.ledger_head.clone().into(),
            player.loaded_balance_minor.into(),
        ];
        values
    });
    sql.push(") AS v WHERE players.id = v.column1 AND players.balance_minor = v.column4");
    let updated = txn.execute(sql.statement()).await?.rows_affected();
    if updated != posted.len() as u64 {
        return Err(DbErr::Custom("player balance changed concurrently".into()).into());
    }
    Ok(())
}

async fn insert_entries(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    state: &BatchState,
) -> Result<(), ServiceError> {
    let entries = &state.writes.entries;
    if entries.is_empty() {
        return Ok(());
    }
    // Rows are inserted in this order, so each player's entries get increasing ids in
    // the order they were posted: the hash chain is walked in id order.
    let mut sql = Sql::new(
        backend,
        "INSERT INTO ledger_entries (wallet_transaction_id, account, currency, amount_minor, \
         balance_after_minor, chain_hash, created_at) ",
    );
    sql.values(entries, |entry| {
        let values: [Value; 7] = [
            entry.wallet_tx_id.into(),
            entry.account.as_str().into(),
            entry.currency.as_str().into(),
            entry.amount_minor.into(),
            entry.balance_after_minor.into(),
            entry.chain_hash.clone().into(),
            state.now.into(),
        ];
        values
    });
    txn.execute(sql.statement()).await?;
    Ok(())
}

/// Bets that existed before the batch and were settled or rolled back by it.
async fn update_states(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    state: &BatchState,
) -> Result<(), ServiceError> {
    let changes = &state.writes.state_changes;
    if changes.is_empty() {
        return Ok(());
    }
    // The last change of each row wins.
    let mut last = std::collections::BTreeMap::new();
    for (id, new_state) in changes {
        last.insert(*id, *new_state);
    }
    let mut sql = Sql::new(
        backend,
        "UPDATE wallet_transactions SET state = v.column2, updated_at = ",
    );
    let at = sql.param(state.now);
    sql.push(&at);
    sql.push(" FROM (");
    sql.values(last, |(id, new_state)| {
        let values: [Value; 2] = [id.into(), new_state.as_str().into()];
        values
    });
    sql.push(") AS v WHERE wallet_transactions.id = v.column1");
    txn.execute(sql.statement()).await?;
    Ok(())
}

async fn write_tombstones(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    state: &BatchState,
) -> Result<(), ServiceError> {
    let new: Vec<_> = state
        .writes
        .new_tombstones
        .iter()
        .filter_map(|key| state.tombstones.get(key).map(|tomb| (key, tomb)))
        .collect();
    if !new.is_empty() {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO tombstones (provider_id, transaction_id, player_id, \
             rollback_transaction_id, created_at, late_bet_at) ",
        );
        sql.values(new, |((provider, id), tomb)| {
            let values: [Value; 6] = [
                provider.as_str().into(),
                id.as_str().into(),
                tomb.player_id.as_str().into(),
                tomb.rollback_transaction_id.as_str().into(),
                tomb.created_at.into(),
                tomb.late_bet_at.into(),
            ];
            values
        });
        txn.execute(sql.statement()).await?;
    }
    let late = &state.writes.late_bets;
    if !late.is_empty() {
        let mut sql = Sql::new(backend, "UPDATE tombstones SET late_bet_at = ");
        let at = sql.param(state.now);
        sql.push(&format!(
            "{at} WHERE late_bet_at IS NULL AND (provider_id, transaction_id) IN ("
        ));
        sql.values(late, |(provider, id)| {
            [provider.as_str().into(), id.as_str().into()]
        });
        sql.push(")");
        txn.execute(sql.statement()).await?;
    }
    Ok(())
}
