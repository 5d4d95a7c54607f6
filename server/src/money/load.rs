//! The batch's reads: one statement per kind of row, whatever the batch's size.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, QueryResult, Statement, Value};

use super::model::{KeyRow, Player, Round, Session, Tombstone};
use super::state::{round_key, BatchState, Needs};
use crate::domain::{OpType, PlayerStatus, RoundState, TxState};
use crate::error::ServiceError;

/// A statement being built: text with placeholders and their values, which are added in
/// the order they appear in the text.
pub(super) struct Sql {
    backend: DbBackend,
    pub text: String,
    pub values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend, text: &str) -> Sql {
        Sql {
            backend,
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    /// Adds a value and returns its placeholder: `$n` on PostgreSQL, a bare `?` on
    /// SQLite. (The driver looks each numbered `?n` up by name in a list, which made
    /// binding a batch's thousand values quadratic; bare ones bind by position.)
    pub fn param(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// `($1, $2, …)` for one row of values.
    pub fn row(&mut self, values: impl IntoIterator<Item = Value>) -> String {
        let placeholders: Vec<String> = values.into_iter().map(|value| self.param(value)).collect();
        format!("({})", placeholders.join(", "))
    }

    /// Appends `VALUES (…), (…)` for `rows`.
    pub fn values<R, I>(&mut self, rows: impl IntoIterator<Item = R>, to_row: impl Fn(R) -> I)
    where
        I: IntoIterator<Item = Value>,
    {
        let rows: Vec<String> = rows.into_iter().map(|r| self.row(to_row(r))).collect();
        self.text.push_str("VALUES ");
        self.text.push_str(&rows.join(", "));
    }

    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// Every row `needs` names, in one statement per table. On PostgreSQL the players are
/// locked first, in id order (so batches of several processes never deadlock), and every
/// later read is a new statement whose snapshot is taken after the locks were granted: it
/// sees whatever the previous holder of a lock committed (a racing rollback's tombstone,
/// a key another process just claimed).
pub async fn load(
    txn: &DatabaseTransaction,
    needs: &Needs,
    now: DateTime<Utc>,
) -> Result<BatchState, ServiceError> {
    let backend = txn.get_database_backend();
    let mut state = BatchState::new(now);
    for row in query_players(txn, backend, needs).await? {
        let player = Player {
            id: row.try_get("", "id")?,
            currency: row.try_get("", "currency")?,
            status: PlayerStatus::parse(&row.try_get::<String>("", "status")?)?,
            balance_minor: row.try_get("", "balance_minor")?,
            ledger_head: row.try_get("", "ledger_head")?,
            loaded_balance_minor: row.try_get("", "balance_minor")?,
            posted: false,
        };
        state.players.insert(player.id.clone(), player);
    }
    if !needs.keys.is_empty() {
        let mut sql = Sql::new(
            backend,
            &format!(
                "SELECT {KEY_COLUMNS} FROM wallet_transactions WHERE (scope, transaction_id) IN ("
            ),
        );
        sql.values(&needs.keys, |(scope, id)| {
            [scope.as_str().into(), id.as_str().into()]
        });
        sql.push(")");
        for row in txn.query_all(sql.statement()).await? {
            let (scope, transaction_id, key) = key_row(&row)?;
            state.keys.insert((scope, transaction_id), key);
        }
    }
    if !needs.round_bets.is_empty() {
        let mut sql = Sql::new(backend, &format!(
            "SELECT {KEY_COLUMNS} FROM wallet_transactions WHERE op = 'BET' AND state <> 'DECLINED' \
             AND (scope, player_id, round_id) IN ("
        ));
        sql.values(&needs.round_bets, |(scope, player, round)| {
            [
                scope.as_str().into(),
                player.as_str().into(),
                round.as_str().into(),
            ]
        });
        sql.push(") ORDER BY id");
        for round in &needs.round_bets {
            state.round_bets.insert(round.clone(), Vec::new());
        }
        for row in txn.query_all(sql.statement()).await? {
            let (scope, transaction_id, key) = key_row(&row)?;
            let round = round_key(
                &scope,
                &key.player_id,
                key.round_id.as_deref().unwrap_or(""),
            );
            if let Some(bets) = state.round_bets.get_mut(&round) {
                bets.push(transaction_id.clone());
            }
            state.keys.entry((scope, transaction_id)).or_insert(key);
        }
    }
    if !needs.sessions.is_empty() {
        let mut sql = Sql::new(
            backend,
            "SELECT token, player_id, provider_id, game_id, superseded, expires_at \
             FROM game_sessions WHERE token IN (",
        );
        let tokens: Vec<String> = needs
            .sessions
            .iter()
            .map(|t| sql.param(t.as_str()))
            .collect();
        sql.push(&tokens.join(", "));
        sql.push(")");
        for row in txn.query_all(sql.statement()).await? {
            let session = Session {
                player_id: row.try_get("", "player_id")?,
                provider_id: row.try_get("", "provider_id")?,
                game_id: row.try_get("", "game_id")?,
                superseded: row.try_get("", "superseded")?,
                expires_at: row.try_get("", "expires_at")?,
            };
            state.sessions.insert(row.try_get("", "token")?, session);
        }
    }
    if !needs.rounds.is_empty() {
        let mut sql = Sql::new(
            backend,
            "SELECT provider_id, player_id, round_id, game_id, state, opened_at, closed_at \
             FROM rounds WHERE (provider_id, player_id, round_id) IN (",
        );
        sql.values(&needs.rounds, |(provider, player, round)| {
            [
                provider.as_str().into(),
                player.as_str().into(),
                round.as_str().into(),
            ]
        });
        sql.push(")");
        for row in txn.query_all(sql.statement()).await? {
            let key = round_key(
                &row.try_get::<String>("", "provider_id")?,
                &row.try_get::<String>("", "player_id")?,
                &row.try_get::<String>("", "round_id")?,
            );
            let round = Round {
                game_id: row.try_get("", "game_id")?,
                state: RoundState::parse(&row.try_get::<String>("", "state")?)?,
                opened_at: row.try_get("", "opened_at")?,
                closed_at: row.try_get("", "closed_at")?,
            };
            state.rounds.insert(key, round);
        }
    }
    if !needs.tombstones.is_empty() {
        let mut sql = Sql::new(
            backend,
            "SELECT provider_id, transaction_id, player_id, rollback_transaction_id, created_at, \
             late_bet_at FROM tombstones WHERE (provider_id, transaction_id) IN (",
        );
        sql.values(&needs.tombstones, |(provider, id)| {
            [provider.as_str().into(), id.as_str().into()]
        });
        sql.push(")");
        for row in txn.query_all(sql.statement()).await? {
            let key = (
                row.try_get::<String>("", "provider_id")?,
                row.try_get::<String>("", "transaction_id")?,
            );
            let tombstone = Tombstone {
                player_id: row.try_get("", "player_id")?,
                rollback_transaction_id: row.try_get("", "rollback_transaction_id")?,
                created_at: row.try_get("", "created_at")?,
                late_bet_at: row.try_get("", "late_bet_at")?,
            };
            state.tombstones.insert(key, tombstone);
        }
    }
    Ok(state)
}

async fn query_players(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    needs: &Needs,
) -> Result<Vec<QueryResult>, ServiceError> {
    if needs.players.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        backend,
        "SELECT id, currency, status, balance_minor, ledger_head FROM players WHERE id IN (",
    );
    let ids: Vec<String> = needs
        .players
        .iter()
        .map(|id| sql.param(id.as_str()))
        .collect();
    sql.push(&ids.join(", "));
    sql.push(") ORDER BY id");
    if backend == DbBackend::Postgres {
        sql.push(" FOR UPDATE");
    }
    Ok(txn.query_all(sql.statement()).await?)
}

const KEY_COLUMNS: &str = "id, scope, transaction_id, player_id, op, kind, round_id, \
    amount_minor, state, http_status, fingerprint, response_body";

fn key_row(row: &QueryResult) -> Result<(String, String, KeyRow), ServiceError> {
    let key = KeyRow {
        id: row.try_get("", "id")?,
        player_id: row.try_get("", "player_id")?,
        op: OpType::parse(&row.try_get::<String>("", "op")?)?,
        kind: row.try_get("", "kind")?,
        round_id: row.try_get("", "round_id")?,
        amount_minor: row.try_get("", "amount_minor")?,
        state: TxState::parse(&row.try_get::<String>("", "state")?)?,
        http_status: row.try_get("", "http_status")?,
        fingerprint: row.try_get("", "fingerprint")?,
        response_body: row.try_get("", "response_body")?,
    };
    Ok((
        row.try_get("", "scope")?,
        row.try_get("", "transaction_id")?,
        key,
    ))
}

/// `count` new ids for `wallet_transactions`, in increasing order. They are known before
/// the rows are written because the rules need them: a posting's hash link and the
/// answer's `wallet_tx_id` include the id. On SQLite the writer holds the database's write
/// lock, so the ids after the largest one are free; on PostgreSQL they come from the
/// table's sequence (gaps are harmless).
pub async fn allocate_ids(
    txn: &DatabaseTransaction,
    count: usize,
) -> Result<Vec<i64>, ServiceError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        let mut sql = Sql::new(
            backend,
            "SELECT nextval(pg_get_serial_sequence('wallet_transactions', 'id')) AS id \
             FROM generate_series(1, ",
        );
        let n = sql.param(count as i64);
        sql.push(&format!("{n}::bigint)"));
        let mut ids = txn
            .query_all(sql.statement())
            .await?
            .iter()
            .map(|row| row.try_get::<i64>("", "id"))
            .collect::<Result<Vec<i64>, _>>()?;
        ids.sort_unstable();
        return Ok(ids);
    }
    let row = txn
        .query_one(Statement::from_string(
            backend,
            "SELECT COALESCE(MAX(id), 0) AS id FROM wallet_transactions",
        ))
        .await?
        .ok_or_else(|| ServiceError::Bug("MAX(id) returned no row".into()))?;
    let last: i64 = row.try_get("", "id")?;
    Ok((1..=count as i64).map(|n| last + n).collect())
}
