//! The provider's periodic statement (docs/API.md, "Statements from providers"). Each
//! provider keeps a book of the bets, wins and rollbacks the wallet committed for it, with
//! their current state; a statement reports the book's period with one deliberate
//! discrepancy of each kind, so the simulator knows exactly which findings the wallet must
//! report.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value};

/// The contract allows 100,000 rows per statement; the simulator stays well below.
pub const MAX_BOOK_LINES: usize = 50_000;

/// One transaction as the provider reports it.
#[derive(Debug, Clone)]
pub struct BookLine {
    pub transaction_id: String,
    pub op: &'static str,
    pub player_id: String,
    pub round_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub scale: u32,
    pub state: &'static str,
    pub committed_at: DateTime<Utc>,
}

/// A statement ready to upload, with the findings it must produce.
#[derive(Debug)]
pub struct Statement {
    pub report_id: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub lines: Vec<BookLine>,
    /// `(kind, transaction_id)`, sorted.
    pub expected: Vec<(String, String)>,
    pub matched_expected: i64,
}

/// The provider's own record of the current period.
pub struct StatementBook {
    provider_id: String,
    lines: HashMap<String, BookLine>,
    /// The end of the last statement: the next period starts there.
    period_start: Option<DateTime<Utc>>,
    sent: u64,
    rng: StdRng,
    /// Without statements nothing is recorded, so a long run keeps no book.
    enabled: bool,
}

impl StatementBook {
    pub fn new(provider_id: &str, seed: u64, enabled: bool) -> StatementBook {
        StatementBook {
            provider_id: provider_id.to_owned(),
            lines: HashMap::new(),
            period_start: None,
            sent: 0,
            rng: StdRng::seed_from_u64(seed),
            enabled,
        }
    }

    pub fn record(&mut self, line: BookLine) {
        if !self.enabled {
            return;
        }
        self.lines.insert(line.transaction_id.clone(), line);
    }

    /// A bet of the current period was settled or rolled back. Bets of earlier periods
    /// were reported with the state they had then.
    pub fn set_state(&mut self, transaction_id: &str, state: &'static str) {
        if let Some(line) = self.lines.get_mut(transaction_id) {
            line.state = state;
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Closes the period: everything in the book, from the end of the last statement to
    /// just past the latest commit. `None` when nothing happened.
    pub fn take_statement(&mut self, inject: bool) -> Option<Statement> {
        let mut lines: Vec<BookLine> = self.lines.drain().map(|(_, line)| line).collect();
        // A fixed order, so the seeded choices below pick the same lines for the same play.
        lines.sort_by(|a, b| {
            (a.committed_at, &a.transaction_id).cmp(&(b.committed_at, &b.transaction_id))
        });
        let first = lines.first()?.committed_at;
        let last = lines.last()?.committed_at;
        // Commits carry milliseconds on the wire; the period end is exclusive.
        let period_end = last + chrono::Duration::milliseconds(1);
        let period_start = self.period_start.unwrap_or(first);
        self.period_start = Some(period_end);
        self.sent += 1;
        let report_id = format!("{}-statement-{}", self.provider_id, self.sent);
        let ghost_id = format!("{}-ghost-{}", self.provider_id, self.sent);
        let (lines, expected) = if inject {
            inject_discrepancies(&mut self.rng, lines, &ghost_id)
        } else {
            (lines, Vec::new())
        };
        let unmatched = expected
            .iter()
            .filter(|(kind, _)| kind != "MISSING_AT_PROVIDER")
            .count();
        Some(Statement {
            report_id,
            period_start,
            period_end,
            matched_expected: (lines.len() - unmatched) as i64,
            lines,
            expected,
        })
    }
}

/// One discrepancy of each kind, each on its own line: a bet in the wrong state, a bet or
/// win with the wrong amount, a line left out, and a line the wallet never saw. Kinds
/// without a suitable line are skipped.
fn inject_discrepancies(
    rng: &mut StdRng,
    mut lines: Vec<BookLine>,
    ghost_id: &str,
) -> (Vec<BookLine>, Vec<(String, String)>) {
    let mut expected = Vec::new();
    let mut used = Vec::new();
    let mut pick = |rng: &mut StdRng, lines: &[BookLine], ops: &[&str]| {
        let candidates: Vec<usize> = (0..lines.len())
            .filter(|i| !used.contains(i) && ops.contains(&lines[*i].op))
            .collect();
        let chosen = candidates.choose(rng).copied();
        used.extend(chosen);
        chosen
    };
    if let Some(i) = pick(rng, &lines, &["BET"]) {
        lines[i].state = other_state(lines[i].state);
        expected.push(("STATE_MISMATCH".to_owned(), lines[i].transaction_id.clone()));
    }
    if let Some(i) = pick(rng, &lines, &["BET", "WIN"]) {
        lines[i].amount_minor += 1;
        expected.push((
            "AMOUNT_MISMATCH".to_owned(),
            lines[i].transaction_id.clone(),
        ));
    }
    let omitted = pick(rng, &lines, &["BET", "WIN", "ROLLBACK"]);
    let ghost = lines.first().map(|template| BookLine {
        transaction_id: ghost_id.to_owned(),
        op: "BET",
        amount_minor: 100,
        state: "COMMITTED",
        round_id: None,
        ..template.clone()
    });
    if let Some(i) = omitted {
        let line = lines.remove(i);
        expected.push(("MISSING_AT_PROVIDER".to_owned(), line.transaction_id));
    }
    if let Some(ghost) = ghost {
        expected.push(("MISSING_IN_WALLET".to_owned(), ghost.transaction_id.clone()));
        lines.push(ghost);
    }
    expected.sort();
    (lines, expected)
}

/// A state the wallet's record does not have.
fn other_state(state: &str) -> &'static str {
    match state {
        "COMMITTED" => "SETTLED",
        _ => "COMMITTED",
    }
}

fn wire_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Statement {
    pub fn body(&self) -> Vec<u8> {
        let transactions: Vec<Value> = self
            .lines
            .iter()
            .map(|line| {
                json!({
                    "transaction_id": line.transaction_id, "op": line.op,
                    "player_id": line.player_id, "round_id": line.round_id,
                    "amount": { "value": line.amount_minor.to_string(), "currency": line.currency, "scale": line.scale },
                    "state": line.state,
                })
            })
            .collect();
        let body = json!({
            "report_id": self.report_id,
            "period_start": wire_time(self.period_start),
            "period_end": wire_time(self.period_end),
            "transactions": transactions,
        });
        serde_json::to_vec(&body).expect("a JSON value always serialises")
    }

    pub fn injected(&self) -> impl Iterator<Item = &str> {
        self.expected.iter().map(|(kind, _)| kind.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, op: &'static str, state: &'static str, offset_ms: i64) -> BookLine {
        BookLine {
            transaction_id: id.to_owned(),
            op,
            player_id: "p1".to_owned(),
            round_id: Some("r1".to_owned()),
            amount_minor: 100,
            currency: "EUR".to_owned(),
            scale: 2,
            state,
            committed_at: DateTime::UNIX_EPOCH + chrono::Duration::milliseconds(offset_ms),
        }
    }

    fn book() -> StatementBook {
        let mut book = StatementBook::new("prov", 3, true);
        book.record(line("b1", "BET", "SETTLED", 1));
        book.record(line("w1", "WIN", "COMMITTED", 2));
        book.record(line("b2", "BET", "ROLLED_BACK", 3));
        book.record(line("rb1", "ROLLBACK", "COMMITTED", 4));
        book.record(line("b3", "BET", "COMMITTED", 5));
        book
    }

    #[test]
    fn a_statement_carries_one_discrepancy_of_each_kind_on_distinct_lines() {
        let statement = book().take_statement(true).expect("a statement");
        let kinds: Vec<&str> = statement.injected().collect();
        assert_eq!(
            kinds,
            [
                "AMOUNT_MISMATCH",
                "MISSING_AT_PROVIDER",
                "MISSING_IN_WALLET",
                "STATE_MISMATCH"
            ]
        );
        let mut ids: Vec<&str> = statement
            .expected
            .iter()
            .map(|(_, id)| id.as_str())
            .collect();
        ids.dedup();
        assert_eq!(ids.len(), 4, "{:?}", statement.expected);
        // Five lines, one left out, one ghost added; three of them disagree.
        assert_eq!(statement.lines.len(), 5);
        assert_eq!(statement.matched_expected, 2);
    }

    #[test]
    fn periods_follow_each_other_and_end_after_the_last_commit() {
        let mut book = book();
        let first = book.take_statement(false).expect("a statement");
        assert_eq!(
            first.period_end,
            DateTime::UNIX_EPOCH + chrono::Duration::milliseconds(6)
        );
        assert!(
            book.take_statement(false).is_none(),
            "an empty book sends nothing"
        );
        book.record(line("b9", "BET", "COMMITTED", 90));
        let second = book.take_statement(false).expect("a statement");
        assert_eq!(second.period_start, first.period_end);
    }

    #[test]
    fn the_same_seed_picks_the_same_lines() {
        let a = book().take_statement(true).expect("a statement");
        let b = book().take_statement(true).expect("a statement");
        assert_eq!(a.expected, b.expected);
    }
}
