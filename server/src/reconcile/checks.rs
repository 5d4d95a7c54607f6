//! The internal checks (docs/API.md, "Internal checks"). Each is one set-based query that
//! the database answers with an aggregate or an index range, never a loop over rows in
//! Rust. Each returns at most [`MAX_FINDINGS_PER_CHECK`] findings and says whether it was
//! cut short.
//!
//! The money invariants aggregate the whole ledger, so they run here on a full pass only.
//! An incremental pass leaves them to the hash-chain walk (`trail_check`), which checks
//! every balance (each walked player's against the sum of the postings walked, every other
//! player's against the sum kept in the checkpoint) and each posting walked: the balance
//! list is complete, the lists of unbalanced transactions and clearing accounts are
//! partial and resolve nothing (docs/API.md, "Incremental runs").
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use serde_json::json;

use super::findings::{Finding, Severity, Subject};
use super::pass::TrailPass;
use super::sql;

/// More findings of one kind than this is an incident, not a list; the rest wait for the
/// next run (and automatic resolution of that kind is skipped, since the list is partial).
pub const MAX_FINDINGS_PER_CHECK: usize = 10_000;
/// The query fetches one more than the cap so a cut-off is visible.
const FETCH_LIMIT: i64 = MAX_FINDINGS_PER_CHECK as i64 + 1;

/// The kinds the job checks; only these are ever resolved automatically (a statement's
/// findings are not the job's to clear).
pub const BALANCE_MISMATCH: &str = "BALANCE_MISMATCH";
pub const UNBALANCED_TRANSACTION: &str = "UNBALANCED_TRANSACTION";
pub const CLEARING_MISMATCH: &str = "CLEARING_MISMATCH";
pub const BET_STATE_UNKNOWN: &str = "BET_STATE_UNKNOWN";
pub const PENDING_ROLLBACK: &str = "PENDING_ROLLBACK";
pub const STALE_ROUND: &str = "STALE_ROUND";
pub const UNCLAIMED_TOMBSTONE: &str = "UNCLAIMED_TOMBSTONE";
pub const AMOUNT_HINT_MISMATCH: &str = "AMOUNT_HINT_MISMATCH";

/// The states a bet may end in (docs/API.md, "Ledger"); anything else is a finding.
const BET_STATES: &str =
    "'COMMITTED', 'SETTLED', 'ROLLED_BACK', 'VOIDED_BY_PRIOR_ROLLBACK', 'DECLINED'";

/// Age thresholds, from the environment.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// A committed bet in an open round older than this is a pending rollback, and a
    /// tombstone older than this whose bet never came is reported.
    pub orphan_after: chrono::Duration,
    /// A round open longer than this is stale.
    pub stale_round_after: chrono::Duration,
}

/// Half an hour: a bet this old in an open round is a pending rollback.
pub const DEFAULT_ORPHAN_AFTER_SECS: u32 = 30 * 60;
/// Two days: a round open this long is stale.
pub const DEFAULT_STALE_ROUND_AFTER_SECS: u32 = 48 * 3600;

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            orphan_after: chrono::Duration::seconds(DEFAULT_ORPHAN_AFTER_SECS.into()),
            stale_round_after: chrono::Duration::seconds(DEFAULT_STALE_ROUND_AFTER_SECS.into()),
        }
    }
}

/// The findings of one check.
pub struct CheckResult {
    pub kind: &'static str,
    pub findings: Vec<Finding>,
    pub truncated: bool,
    /// Looked at what changed only (an incremental pass): says nothing about what cleared.
    pub partial: bool,
    pub elapsed_ms: u128,
}

impl CheckResult {
    /// Every instance of the kind is in the list, so what is not in it has cleared.
    pub fn complete(&self) -> bool {
        !self.truncated && !self.partial
    }
}

/// Runs one check over what the pass covers and turns its rows into findings.
pub async fn run(
    db: &sea_orm::DatabaseConnection,
    kind: &'static str,
    pass: TrailPass,
    thresholds: &Thresholds,
    now: DateTime<Utc>,
) -> Result<CheckResult, DbErr> {
    let started = std::time::Instant::now();
    let incremental = pass == TrailPass::Incremental;
    let rows = match kind {
        BALANCE_MISMATCH | UNBALANCED_TRANSACTION | CLEARING_MISMATCH if incremental => Vec::new(),
        BALANCE_MISMATCH => balances(db).await?,
        UNBALANCED_TRANSACTION => unbalanced(db).await?,
        CLEARING_MISMATCH => clearing(db).await?,
        BET_STATE_UNKNOWN => bet_states(db).await?,
        PENDING_ROLLBACK => orphans(db, now - thresholds.orphan_after).await?,
        STALE_ROUND => stale_rounds(db, now - thresholds.stale_round_after).await?,
        UNCLAIMED_TOMBSTONE => tombstones(db, now - thresholds.orphan_after).await?,
        AMOUNT_HINT_MISMATCH => hint_mismatches(db).await?,
        other => return Err(DbErr::Custom(format!("unknown check {other}"))),
    };
    let truncated = rows.len() > MAX_FINDINGS_PER_CHECK;
    let findings = rows
        .iter()
        .take(MAX_FINDINGS_PER_CHECK)
        .map(|row| to_finding(kind, row))
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok(CheckResult {
        kind,
        findings,
        truncated,
        partial: incremental && matches!(kind, UNBALANCED_TRANSACTION | CLEARING_MISMATCH),
        elapsed_ms: started.elapsed().as_millis(),
    })
}

/// The checks that money data must pass whatever the traffic: a balance is the sum of its
/// entries, a transaction's entries sum to zero, a clearing account matches its history.
/// (The others are operational: a pending rollback is work, not corruption.)
pub const MONEY_INVARIANTS: [&str; 3] =
    [BALANCE_MISMATCH, UNBALANCED_TRANSACTION, CLEARING_MISMATCH];

/// Every check, in the order a run performs them.
pub const ALL: [&str; 8] = [
    BALANCE_MISMATCH,
    UNBALANCED_TRANSACTION,
    CLEARING_MISMATCH,
    BET_STATE_UNKNOWN,
    PENDING_ROLLBACK,
    STALE_ROUND,
    UNCLAIMED_TOMBSTONE,
    AMOUNT_HINT_MISMATCH,
];

fn to_finding(kind: &'static str, row: &QueryResult) -> Result<Finding, DbErr> {
    let text = |name: &str| row.try_get::<String>("", name);
    let number = |name: &str| row.try_get::<i64>("", name);
    let finding = |severity, subject, provider_id: Option<String>, details| Finding {
        kind,
        severity,
        subject,
        provider_id,
        details,
    };
    Ok(match kind {
        BALANCE_MISMATCH => finding(
            Severity::Critical,
            Subject::Player(text("player_id")?),
            None,
            json!({ "balance_minor": number("balance_minor")?, "ledger_sum_minor": number("ledger_sum_minor")? }),
        ),
        UNBALANCED_TRANSACTION => finding(
            Severity::Critical,
            Subject::Transaction(text("scope")?, text("transaction_id")?),
            Some(text("scope")?).filter(|s| !s.starts_with('@')),
            json!({ "wallet_transaction_id": number("id")?, "entries_sum_minor": number("entries_sum_minor")?, "entries": number("entries")? }),
        ),
        CLEARING_MISMATCH => finding(
            Severity::Critical,
            Subject::Account(text("account")?),
            provider_of_account(&text("account")?),
            json!({ "clearing_sum_minor": number("clearing_minor")?, "players_net_minor": number("players_minor")? }),
        ),
        BET_STATE_UNKNOWN => finding(
            Severity::Critical,
            Subject::Transaction(text("scope")?, text("transaction_id")?),
            Some(text("scope")?),
            json!({ "state": text("state")?, "player_id": text("player_id")? }),
        ),
        PENDING_ROLLBACK => finding(
            Severity::Warning,
            Subject::Transaction(text("scope")?, text("transaction_id")?),
            Some(text("scope")?),
            json!({ "player_id": text("player_id")?, "round_id": text("round_id")?,
                    "amount_minor": number("amount_minor")?, "currency": text("currency")?,
                    "wallet_transaction_id": number("id")? }),
        ),
        STALE_ROUND => finding(
            Severity::Warning,
            Subject::Round(text("provider_id")?, text("player_id")?, text("round_id")?),
            Some(text("provider_id")?),
            json!({ "player_id": text("player_id")?, "round_id": text("round_id")?, "game_id": text("game_id")? }),
        ),
        UNCLAIMED_TOMBSTONE => finding(
            Severity::Warning,
            Subject::Transaction(text("provider_id")?, text("transaction_id")?),
            Some(text("provider_id")?),
            json!({ "player_id": text("player_id")?, "rollback_transaction_id": text("rollback_transaction_id")? }),
        ),
        AMOUNT_HINT_MISMATCH => finding(
            Severity::Info,
            Subject::Transaction(text("scope")?, text("transaction_id")?),
            Some(text("scope")?),
            json!({ "player_id": text("player_id")?, "target_transaction_id": text("target_transaction_id").ok() }),
        ),
        other => return Err(DbErr::Custom(format!("unknown check {other}"))),
    })
}

/// `provider:<id>:<CUR>` → the provider id.
fn provider_of_account(account: &str) -> Option<String> {
    let rest = account.strip_prefix("provider:")?;
    rest.rsplit_once(':')
        .map(|(provider, _)| provider.to_owned())
}

fn limit() -> Vec<Value> {
    vec![FETCH_LIMIT.into()]
}

/// Each player's balance against the sum of the player's entries: one grouped pass over
/// the player accounts, joined to the players.
async fn balances(db: &impl ConnectionTrait) -> Result<Vec<QueryResult>, DbErr> {
    sql::query(
        db,
        "SELECT p.id AS player_id, p.balance_minor AS balance_minor, \
                CAST(COALESCE(s.total, 0) AS BIGINT) AS ledger_sum_minor \
         FROM players p \
         LEFT JOIN (SELECT account, SUM(amount_minor) AS total FROM ledger_entries \
                    WHERE account LIKE 'player:%' GROUP BY account) s \
                ON s.account = 'player:' || p.id \
         WHERE p.balance_minor <> COALESCE(s.total, 0) \
         ORDER BY p.id LIMIT ?",
        limit(),
    )
    .await
}

/// Each wallet transaction's entries must sum to zero.
async fn unbalanced(db: &impl ConnectionTrait) -> Result<Vec<QueryResult>, DbErr> {
    sql::query(
        db,
        "SELECT t.id AS id, t.scope AS scope, t.transaction_id AS transaction_id, \
                CAST(e.total AS BIGINT) AS entries_sum_minor, CAST(e.n AS BIGINT) AS entries \
         FROM (SELECT wallet_transaction_id, SUM(amount_minor) AS total, COUNT(*) AS n \
               FROM ledger_entries GROUP BY wallet_transaction_id \
               HAVING SUM(amount_minor) <> 0) e \
         JOIN wallet_transactions t ON t.id = e.wallet_transaction_id \
         ORDER BY t.id LIMIT ?",
        limit(),
    )
    .await
}

/// Per provider and currency: the clearing account's sum against minus the players' net
/// in the transactions that posted to it. A transaction posts exactly the player's entry
/// and one counter entry, so the players' side is the player entries of the transactions
/// that have an entry on the clearing account.
async fn clearing(db: &impl ConnectionTrait) -> Result<Vec<QueryResult>, DbErr> {
    sql::query(
        db,
        "SELECT c.account AS account, CAST(SUM(c.amount_minor) AS BIGINT) AS clearing_minor, \
                CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) AS players_minor \
         FROM ledger_entries c \
         LEFT JOIN ledger_entries p ON p.wallet_transaction_id = c.wallet_transaction_id \
                                   AND p.account LIKE 'player:%' \
         WHERE c.account LIKE 'provider:%' \
         GROUP BY c.account \
         HAVING SUM(c.amount_minor) + COALESCE(SUM(p.amount_minor), 0) <> 0 \
         ORDER BY c.account LIMIT ?",
        limit(),
    )
    .await
}

/// Every bet is in exactly one known state. Ordered as the bets' partial index is, so that
/// SQLite walks that index instead of scanning the table to sort by id.
async fn bet_states(db: &impl ConnectionTrait) -> Result<Vec<QueryResult>, DbErr> {
    sql::query(
        db,
        &format!(
            "SELECT scope, transaction_id, state, player_id FROM wallet_transactions \
             WHERE op = 'BET' AND state NOT IN ({BET_STATES}) ORDER BY state, created_at LIMIT ?"
        ),
        limit(),
    )
    .await
}

/// Bets still COMMITTED in an OPEN round, older than the cut-off: nobody settled or rolled
/// them back, so the player's money is stuck. An index range on the bets' partial index
/// (state, created_at).
async fn orphans(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<Vec<QueryResult>, DbErr> {
    sql::query(
        db,
        "SELECT t.id AS id, t.scope AS scope, t.transaction_id AS transaction_id, \
                t.player_id AS player_id, t.round_id AS round_id, \
                CAST(COALESCE(t.amount_minor, 0) AS BIGINT) AS amount_minor, \
                COALESCE(t.currency, '') AS currency \
         FROM wallet_transactions t \
         JOIN rounds r ON r.provider_id = t.scope AND r.player_id = t.player_id \
                      AND r.round_id = t.round_id \
         WHERE t.op = 'BET' AND t.state = 'COMMITTED' AND t.created_at < ? \
           AND r.state = 'OPEN' \
         ORDER BY t.id LIMIT ?",
        vec![cutoff.into(), FETCH_LIMIT.into()],
    )
    .await
}

async fn stale_rounds(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<Vec<QueryResult>, DbErr> {
    sql::query(
        db,
        "SELECT provider_id, player_id, round_id, game_id FROM rounds \
         WHERE state = 'OPEN' AND opened_at < ? \
         ORDER BY opened_at LIMIT ?",
        vec![cutoff.into(), FETCH_LIMIT.into()],
    )
    .await
}

/// Rollbacks of bets that never arrived: the provider may have a bet the wallet never saw.
async fn tombstones(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<Vec<QueryResult>, DbErr> {
    sql::query(
        db,
        "SELECT provider_id, transaction_id, player_id, rollback_transaction_id FROM tombstones \
         WHERE late_bet_at IS NULL AND created_at < ? \
         ORDER BY created_at LIMIT ?",
        vec![cutoff.into(), FETCH_LIMIT.into()],
    )
    .await
}

async fn hint_mismatches(db: &impl ConnectionTrait) -> Result<Vec<QueryResult>, DbErr> {
    sql::query(
        db,
        "SELECT scope, transaction_id, player_id, target_transaction_id FROM wallet_transactions \
         WHERE amount_hint_mismatch = TRUE AND op = 'ROLLBACK' ORDER BY id LIMIT ?",
        vec![FETCH_LIMIT.into()],
    )
    .await
}
