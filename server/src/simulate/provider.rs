//! A game provider as the simulator plays it: its wallet client, the gate its statements
//! close, its statement book, the sessions it opens for players and the statements it
//! sends (docs/API.md, "Statements from providers").
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use super::client::{OperatorClient, Tamper, WalletClient, WireAnswer};
use super::report::{StatementResult, Tally};
use super::statement::{Statement, StatementBook};

const REPORTS_PATH: &str = "/wallet/v1/reconciliation/reports";
/// Upload attempts (the same report id, so a retry is safe) before giving up.
const UPLOAD_ATTEMPTS: usize = 5;
/// Sessions last a day (the demo runs longer and renews them).
pub const SESSION_TTL_SECONDS: u64 = 86_400;

/// A game provider played by the simulator.
pub struct SimProvider {
    pub id: String,
    pub game_id: String,
    pub wallet: WalletClient,
    /// Operations hold it shared; a statement holds it exclusively, so the period it
    /// reports has no request of this provider in flight.
    pub gate: tokio::sync::RwLock<()>,
    book: Mutex<StatementBook>,
}

impl SimProvider {
    pub fn new(
        id: String,
        game_id: String,
        wallet: WalletClient,
        book: StatementBook,
    ) -> SimProvider {
        SimProvider {
            id,
            game_id,
            wallet,
            gate: tokio::sync::RwLock::new(()),
            book: Mutex::new(book),
        }
    }

    pub fn book(&self) -> MutexGuard<'_, StatementBook> {
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A new session for the player at the provider's game; it supersedes older ones.
pub async fn open_session(
    operator: &OperatorClient,
    player_id: &str,
    provider: &SimProvider,
    tally: &Tally,
) -> anyhow::Result<String> {
    let answer = operator
        .open_session(
            player_id,
            &provider.id,
            &provider.game_id,
            SESSION_TTL_SECONDS,
        )
        .await?;
    tally.operator_request();
    answer.expect(201, "open a session")?;
    answer.body["session_token"]
        .as_str()
        .map(str::to_owned)
        .context("a session without session_token")
}

/// Closes the provider's period and uploads its statement. Holds the provider's gate
/// exclusively: no request of this provider is in flight, so the book is the whole truth
/// of the period and no bet changes state before the wallet has compared.
pub async fn send_statement(provider: &SimProvider, tally: &Tally, inject: bool) {
    let _quiet = provider.gate.write().await;
    let statement = provider.book().take_statement(inject);
    let Some(statement) = statement else {
        return;
    };
    for kind in statement.injected() {
        tally.fault(fault_name(kind));
    }
    let answer = upload(provider, tally, &statement.body()).await;
    tally.statement(compare(provider, &statement, answer));
    // The next commit must carry a later millisecond than this period's end.
    tokio::time::sleep(Duration::from_millis(2)).await;
}

fn fault_name(kind: &str) -> &'static str {
    match kind {
        "STATE_MISMATCH" => "statement_state_mismatch",
        "AMOUNT_MISMATCH" => "statement_amount_mismatch",
        "MISSING_AT_PROVIDER" => "statement_missing_at_provider",
        _ => "statement_missing_in_wallet",
    }
}

async fn upload(provider: &SimProvider, tally: &Tally, body: &[u8]) -> Result<WireAnswer, String> {
    let mut last_error = String::new();
    for attempt in 0..UPLOAD_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
        match provider.wallet.post(REPORTS_PATH, body, Tamper::None).await {
            Ok(answer) if answer.is_retryable_failure() => {
                tally.request(Some(&answer));
                last_error = format!("{} {}", answer.status, answer.body);
            }
            Ok(answer) => {
                tally.request(Some(&answer));
                return Ok(answer);
            }
            Err(error) => {
                tally.request(None);
                last_error = error.to_string();
            }
        }
    }
    Err(format!(
        "no answer after {UPLOAD_ATTEMPTS} attempts: {last_error}"
    ))
}

fn compare(
    provider: &SimProvider,
    statement: &Statement,
    answer: Result<WireAnswer, String>,
) -> StatementResult {
    let mut result = StatementResult {
        provider_id: provider.id.clone(),
        report_id: statement.report_id.clone(),
        lines: statement.lines.len(),
        expected: statement.expected.clone(),
        reported: Vec::new(),
        matched_expected: statement.matched_expected,
        matched_reported: -1,
        error: None,
    };
    match answer {
        Ok(answer) if answer.status == 200 && answer.signature_valid == Some(true) => {
            result.reported = findings(&answer.body);
            result.matched_reported = answer.body["matched"].as_i64().unwrap_or(-1);
        }
        Ok(answer) => {
            result.error = Some(format!(
                "answered {} (signature valid: {:?}): {}",
                answer.status, answer.signature_valid, answer.body
            ));
        }
        Err(error) => result.error = Some(error),
    }
    result
}

/// `(kind, transaction_id)` of each reported discrepancy, sorted.
fn findings(body: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = body["discrepancies"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|d| {
                    (
                        d["kind"].as_str().unwrap_or_default().to_owned(),
                        d["transaction_id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}
