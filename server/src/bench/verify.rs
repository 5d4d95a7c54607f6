//! After the load: does the wallet agree with the bench's model? A fast wrong answer must
//! not pass. Three independent looks:
//!
//! 1. every player's balance through the operator API equals the model's;
//! 2. a full reconciliation run through the operator API (the same checks as
//!    `server reconcile`: balance = sum of entries, every transaction's entries sum to zero,
//!    clearing accounts, hash chains) leaves no open CRITICAL finding about this run's
//!    players or provider;
//! 3. when the bench knows the database (`--database-url`), direct SQL on this run's rows:
//!    balances against their ledger entries, transactions that do not sum to zero, the
//!    provider's clearing account against the model's net, and one idempotency key per
//!    operation the model executed.
use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde::Serialize;
use serde_json::{json, Value};

use super::provision::{PlayerModel, Provisioned};
use super::scenario::HOT_BET_MINOR;
use crate::simulate::client::{minor_units, OperatorClient};

/// Balance reads in flight at once.
const READ_CONCURRENCY: usize = 32;
/// Differences kept word for word.
const SAMPLES: usize = 10;
/// How long the verification waits for its full reconciliation run.
const FULL_RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A reconciliation run already in progress is waited for this many times, a second each.
const RUN_ATTEMPTS: u32 = 120;
const CRITICAL_KINDS: [&str; 4] = [
    "BALANCE_MISMATCH",
    "UNBALANCED_TRANSACTION",
    "CLEARING_MISMATCH",
    "TRAIL_BROKEN",
];

/// One check and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl Verification {
    fn add(&mut self, name: &str, passed: bool, detail: String) {
        self.checks.push(Check {
            name: name.to_owned(),
            passed,
            detail,
        });
    }

    pub fn render(&self) -> String {
        let mut lines = vec![format!(
            "verification: {}",
            if self.passed { "PASSED" } else { "FAILED" }
        )];
        for check in &self.checks {
            let mark = if check.passed { "ok  " } else { "FAIL" };
            lines.push(format!("  {mark} {:<28} {}", check.name, check.detail));
        }
        lines.join("\n")
    }
}

/// What the model expects at the end of the run.
pub struct ModelTotals<'a> {
    pub run_tag: &'a str,
    pub provisioned: &'a Provisioned,
    pub hot_start_minor: i64,
    pub hot_balances: &'a [i64],
    /// The players' net movement against the provider's clearing account.
    pub provider_delta_minor: i64,
    /// Idempotency keys the model created.
    pub keys: u64,
    /// Operations that never got a definitive answer.
    pub unresolved: u64,
}

pub async fn verify(totals: &ModelTotals<'_>, database_url: Option<&str>) -> Verification {
    let mut verification = Verification::default();
    balances(&mut verification, totals).await;
    hot_sequence(&mut verification, totals);
    reconciliation(&mut verification, totals).await;
    if let Some(url) = database_url {
        match Database::connect(url).await {
            Ok(db) => sql_checks(&mut verification, totals, &db).await,
            Err(error) => verification.add("database", false, format!("cannot connect: {error}")),
        }
    }
    verification.add(
        "definitive answers",
        totals.unresolved == 0,
        format!(
            "{} operations without a definitive answer",
            totals.unresolved
        ),
    );
    verification.passed = verification.checks.iter().all(|c| c.passed);
    verification
}

/// Every player's balance, read through the operator API, against the model.
async fn balances(verification: &mut Verification, totals: &ModelTotals<'_>) {
    let players: Vec<&PlayerModel> = totals
        .provisioned
        .players
        .iter()
        .chain(std::iter::once(&totals.provisioned.hot))
        .collect();
    let operator = &totals.provisioned.operator;
    let results: Vec<Option<String>> = futures::stream::iter(players.iter())
        .map(|player| async move { balance_difference(operator, player).await })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    let differences: Vec<String> = results.into_iter().flatten().collect();
    let uncertain = players.iter().filter(|p| p.uncertain).count();
    verification.add(
        "balances = model",
        differences.is_empty(),
        format!(
            "{} players read through the operator API, {} differ{}{}",
            players.len() - uncertain,
            differences.len(),
            if uncertain > 0 {
                format!(", {uncertain} not checked (an operation never got an answer)")
            } else {
                String::new()
            },
            samples(&differences)
        ),
    );
}

async fn balance_difference(operator: &OperatorClient, player: &PlayerModel) -> Option<String> {
    if player.uncertain {
        return None;
    }
    match operator.get_player(&player.id).await {
        Ok(answer) if answer.status == 200 => {
            let balance = minor_units(&answer.body["player"]["balance"]);
            (balance != Some(player.balance_minor)).then(|| {
                format!(
                    "{}: wallet {balance:?}, model {}",
                    player.id, player.balance_minor
                )
            })
        }
        Ok(answer) => Some(format!("{}: status {}", player.id, answer.status)),
        Err(error) => Some(format!("{}: {error}", player.id)),
    }
}

/// The hot player's answers: each committed bet saw its own balance, and together they
/// step down from the deposit one bet at a time, with nothing lost or doubled.
fn hot_sequence(verification: &mut Verification, totals: &ModelTotals<'_>) {
    if totals.hot_balances.is_empty() || totals.provisioned.hot.uncertain {
        return;
    }
    let mut balances = totals.hot_balances.to_vec();
    balances.sort_unstable_by(|a, b| b.cmp(a));
    let expected = (1..=balances.len() as i64).map(|n| totals.hot_start_minor - n * HOT_BET_MINOR);
    let exact = balances.iter().copied().eq(expected);
    verification.add(
        "hot player serialised",
        exact,
        format!(
            "{} committed bets' balance_after {} the sequence deposit - n x {HOT_BET_MINOR}",
            balances.len(),
            if exact { "form exactly" } else { "do NOT form" }
        ),
    );
}

/// A reconciliation run through the operator API, then the open CRITICAL findings that
/// name this run's players or provider.
async fn reconciliation(verification: &mut Verification, totals: &ModelTotals<'_>) {
    let operator = &totals.provisioned.operator;
    let run = match run_reconciliation(operator).await {
        Ok(run) => run,
        Err(error) => {
            verification.add("reconciliation run", false, error);
            return;
        }
    };
    verification.add(
        "reconciliation run",
        true,
        format!(
            "run {} in {} ms, trail {} pass over {} postings",
            run["run_id"],
            run["duration_ms"],
            run["trail"]["pass"],
            run["trail"]["postings_checked"]
        ),
    );
    let mut ours = Vec::new();
    for kind in CRITICAL_KINDS {
        match open_findings(operator, kind).await {
            Ok(findings) => ours.extend(
                findings
                    .into_iter()
                    .filter(|f| mentions(f, totals))
                    .map(|f| format!("{kind} {}", f["subject_id"])),
            ),
            Err(error) => ours.push(format!("{kind}: {error}")),
        }
    }
    verification.add(
        "no critical findings",
        ours.is_empty(),
        format!(
            "{} open CRITICAL findings about this run{}",
            ours.len(),
            samples(&ours)
        ),
    );
}

async fn run_reconciliation(operator: &OperatorClient) -> Result<Value, String> {
    for _ in 0..RUN_ATTEMPTS {
        // A full pass: the verification is about all the money, not what changed since the
        // server's last scheduled run; at millions of transactions it takes minutes.
        let answer = operator
            .request_within(
                Method::POST,
                "/operator/v1/reconciliation/runs",
                Some(&json!({ "full": true })),
                FULL_RUN_TIMEOUT,
            )
            .await
            .map_err(|e| e.to_string())?;
        match answer.status {
            200 => return Ok(answer.body["run"].clone()),
            409 => tokio::time::sleep(Duration::from_secs(1)).await,
            status => return Err(format!("status {status}: {}", answer.body)),
        }
    }
    Err("another reconciliation run held the job for two minutes".to_owned())
}

/// The open findings of a kind, every page.
async fn open_findings(operator: &OperatorClient, kind: &str) -> Result<Vec<Value>, String> {
    let mut found = Vec::new();
    let mut before = String::new();
    loop {
        let path = format!("/operator/v1/discrepancies?kind={kind}&status=OPEN&limit=500{before}");
        let answer = operator
            .request(Method::GET, &path, None)
            .await
            .map_err(|e| e.to_string())?;
        if answer.status != 200 {
            return Err(format!("status {}", answer.status));
        }
        if let Some(page) = answer.body["discrepancies"].as_array() {
            found.extend(page.iter().cloned());
        }
        match answer.body["next_before_id"].as_i64() {
            Some(id) => before = format!("&before_id={id}"),
            None => return Ok(found),
        }
    }
}

fn mentions(finding: &Value, totals: &ModelTotals<'_>) -> bool {
    let subject = finding["subject_id"].as_str().unwrap_or_default();
    subject.contains(totals.run_tag)
        || finding["provider_id"].as_str() == Some(totals.provisioned.provider_id.as_str())
}

/// Direct SQL on this run's rows.
async fn sql_checks(
    verification: &mut Verification,
    totals: &ModelTotals<'_>,
    db: &DatabaseConnection,
) {
    let provider = quote(&totals.provisioned.provider_id);
    let players = quote(&format!("{}-%", totals.run_tag));
    let clearing = quote(&format!(
        "provider:{}:{}",
        totals.provisioned.provider_id,
        super::provision::CURRENCY
    ));
    let drifting = count(
        db,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM players p \
             WHERE p.id LIKE {players} AND p.balance_minor <> \
               COALESCE((SELECT SUM(e.amount_minor) FROM ledger_entries e \
                         WHERE e.account = 'player:' || p.id), 0)"
        ),
    )
    .await;
    verification.add(
        "sql: balance = entries",
        drifting == Ok(0),
        format!("players of this run whose balance is not the sum of their entries: {drifting:?}"),
    );
    let unbalanced = count(
        db,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ( \
               SELECT e.wallet_transaction_id FROM ledger_entries e \
               JOIN wallet_transactions t ON t.id = e.wallet_transaction_id \
               WHERE t.scope = {provider} OR (t.scope = '@operator' AND t.player_id LIKE {players}) \
               GROUP BY e.wallet_transaction_id HAVING SUM(e.amount_minor) <> 0) x"
        ),
    )
    .await;
    verification.add(
        "sql: entries sum to zero",
        unbalanced == Ok(0),
        format!("transactions of this run whose entries do not sum to zero: {unbalanced:?}"),
    );
    let clearing_sum = count(
        db,
        &format!(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS n FROM ledger_entries \
             WHERE account = {clearing}"
        ),
    )
    .await;
    let expected = -totals.provider_delta_minor;
    verification.add(
        "sql: clearing = model",
        clearing_sum == Ok(expected),
        format!("provider clearing account {clearing_sum:?}, model {expected}"),
    );
    let keys = count(
        db,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM wallet_transactions WHERE scope = {provider}"
        ),
    )
    .await;
    let exact_keys = totals.unresolved == 0;
    verification.add(
        "sql: one key per operation",
        !exact_keys || keys == Ok(totals.keys as i64),
        format!(
            "{keys:?} idempotency keys stored, model {}{}",
            totals.keys,
            if exact_keys {
                ""
            } else {
                " (not compared: some operations have no known outcome)"
            }
        ),
    );
}

async fn count(db: &DatabaseConnection, sql: &str) -> Result<i64, String> {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no row")?;
    row.try_get::<i64>("", "n").map_err(|e| e.to_string())
}

/// A SQL string literal. Run tags and provider ids come from the id alphabet.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn samples(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        let shown: Vec<&str> = items.iter().take(SAMPLES).map(String::as_str).collect();
        format!(": {}", shown.join("; "))
    }
}
