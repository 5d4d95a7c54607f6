//! A provider's statement (docs/API.md, "Statements from providers"), parsed: from the JSON
//! body or from CSV with the period in the query string. Both arrive as [`RawStatement`]
//! and go through the same validation, so once a [`Statement`] exists every id, amount, op
//! and state in it is valid.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::{CurrencyTable, Money, PlayerId, RoundId, TransactionId, WireMoney};
use crate::error::{ApiError, ErrorCode};

/// Rows per statement; a longer period is uploaded in several reports.
pub const MAX_ROWS: usize = 100_000;
/// The CSV columns, as the header names them (in any order).
pub const CSV_COLUMNS: &str =
    "transaction_id,op,player_id,round_id,amount_value,currency,scale,state";

/// Operations a statement reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportedOp {
    Bet,
    Win,
    Rollback,
}

impl ReportedOp {
    fn parse(value: &str) -> Option<ReportedOp> {
        match value {
            "BET" => Some(ReportedOp::Bet),
            "WIN" => Some(ReportedOp::Win),
            "ROLLBACK" => Some(ReportedOp::Rollback),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReportedOp::Bet => "BET",
            ReportedOp::Win => "WIN",
            ReportedOp::Rollback => "ROLLBACK",
        }
    }
}

/// The states of a lookup (docs/API.md, "Lookups") a transaction can be in at the end of a
/// period.
const STATES: [&str; 5] = [
    "COMMITTED",
    "SETTLED",
    "ROLLED_BACK",
    "DECLINED",
    "VOIDED_BY_PRIOR_ROLLBACK",
];

/// One reported transaction, validated.
#[derive(Debug, Clone)]
pub struct ReportedTransaction {
    pub transaction_id: TransactionId,
    pub op: ReportedOp,
    pub player_id: PlayerId,
    pub round_id: Option<RoundId>,
    /// Required for bets and wins; a rollback may give the amount it refunded.
    pub amount: Option<Money>,
    pub state: &'static str,
}

/// A validated statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub report_id: TransactionId,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub transactions: Vec<ReportedTransaction>,
}

/// The JSON body, and what the CSV parser produces.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStatement {
    #[schema(value_type = crate::domain::schema::Id, example = "2026-05-01")]
    pub report_id: String,
    /// RFC 3339; the period is [period_start, period_end).
    #[schema(format = DateTime, example = "2026-05-01T00:00:00Z")]
    pub period_start: String,
    /// RFC 3339, after `period_start`.
    #[schema(format = DateTime, example = "2026-05-02T00:00:00Z")]
    pub period_end: String,
    /// At most 100,000, each transaction id once.
    #[schema(max_items = 100_000)]
    pub transactions: Vec<RawRow>,
}

/// One reported transaction; `amount` may be left out only by a rollback.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRow {
    #[schema(value_type = crate::domain::schema::Id)]
    pub transaction_id: String,
    #[schema(value_type = ReportedOpName)]
    pub op: String,
    #[schema(value_type = crate::domain::schema::Id)]
    pub player_id: String,
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::schema::Id>)]
    pub round_id: Option<String>,
    #[serde(default)]
    pub amount: Option<WireMoney>,
    #[schema(value_type = ReportedState)]
    pub state: String,
}

/// A statement row's `op` (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
enum ReportedOpName {
    Bet,
    Win,
    Rollback,
}

/// A statement row's `state` (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
enum ReportedState {
    Committed,
    Settled,
    RolledBack,
    Declined,
    VoidedByPriorRollback,
}

impl Statement {
    pub fn parse(raw: RawStatement, currencies: &CurrencyTable) -> Result<Statement, ApiError> {
        if raw.transactions.len() > MAX_ROWS {
            return Err(ApiError::malformed(format!(
                "transactions: at most {MAX_ROWS} per report; split the period"
            )));
        }
        let mut seen = HashSet::with_capacity(raw.transactions.len());
        let mut transactions = Vec::with_capacity(raw.transactions.len());
        for (index, row) in raw.transactions.into_iter().enumerate() {
            let row = parse_row(row, currencies)
                .map_err(|e| prefixed(e.error, &format!("transactions[{index}].")))?;
            if !seen.insert(row.transaction_id.clone()) {
                return Err(ApiError::malformed(format!(
                    "transactions[{index}].transaction_id: {} is reported twice",
                    row.transaction_id
                )));
            }
            transactions.push(row);
        }
        Statement::of_rows(
            raw.report_id,
            &raw.period_start,
            &raw.period_end,
            transactions,
        )
    }

    /// The statement of rows already checked, once its id and period are.
    fn of_rows(
        report_id: String,
        period_start: &str,
        period_end: &str,
        transactions: Vec<ReportedTransaction>,
    ) -> Result<Statement, ApiError> {
        let report_id = TransactionId::parse(report_id)
            .map_err(|e| ApiError::malformed(format!("report_id: {e}")))?;
        let period_start = time("period_start", period_start)?;
        let period_end = time("period_end", period_end)?;
        if period_end <= period_start {
            return Err(ApiError::malformed(
                "period_end: must be after period_start",
            ));
        }
        Ok(Statement {
            report_id,
            period_start,
            period_end,
            transactions,
        })
    }
}

fn time(field: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::malformed(format!("{field}: an RFC 3339 timestamp")))
}

/// The error with the field's place in the statement in front of its message.
fn prefixed(mut error: ApiError, prefix: &str) -> ApiError {
    error.message = format!("{prefix}{}", error.message);
    error
}

/// A row that cannot be used: which of its fields, and why (the message names the field
/// too, as the JSON path reports it).
struct RowError {
    field: &'static str,
    error: ApiError,
}

fn parse_row(row: RawRow, currencies: &CurrencyTable) -> Result<ReportedTransaction, RowError> {
    let id = |field: &'static str| {
        move |e: crate::domain::IdError| RowError {
            field,
            error: ApiError::malformed(format!("{field}: {e}")),
        }
    };
    let malformed = |field: &'static str, message: String| RowError {
        field,
        error: ApiError::malformed(format!("{field}: {message}")),
    };
    let transaction_id = TransactionId::parse(row.transaction_id).map_err(id("transaction_id"))?;
    let op = ReportedOp::parse(&row.op)
        .ok_or_else(|| malformed("op", format!("{:?} is not BET, WIN or ROLLBACK", row.op)))?;
    let player_id = PlayerId::parse(row.player_id).map_err(id("player_id"))?;
    let round_id = row
        .round_id
        .map(RoundId::parse)
        .transpose()
        .map_err(id("round_id"))?;
    let amount = row
        .amount
        .as_ref()
        .map(|wire| currencies.money(wire))
        .transpose()
        .map_err(|e| RowError {
            field: "amount",
            error: ApiError::new(ErrorCode::InvalidAmount, format!("amount: {e}")),
        })?;
    if amount.is_none() && op != ReportedOp::Rollback {
        return Err(malformed("amount", format!("required for {}", op.as_str())));
    }
    let state = STATES.iter().find(|s| **s == row.state).ok_or_else(|| {
        malformed(
            "state",
            format!("{:?} is not one of {}", row.state, STATES.join(", ")),
        )
    })?;
    Ok(ReportedTransaction {
        transaction_id,
        op,
        player_id,
        round_id,
        amount,
        state,
    })
}

/// Rows of a refused CSV file listed in the answer.
pub const MAX_REPORTED_ROWS: usize = 20;

/// Parses a CSV statement as spreadsheets and scripts write them: a header naming the
/// columns of [`CSV_COLUMNS`] in any order (case and surrounding spaces do not matter),
/// quoted fields, CRLF or LF line ends, a leading byte-order mark. Empty `round_id` means
/// none; empty `amount_value`, `currency` and `scale` together mean no amount (rollbacks
/// only). Every row is checked here, once, so a refused file names its first
/// [`MAX_REPORTED_ROWS`] bad rows (line, column, reason) in `details.rows`, and nothing of
/// it is imported.
pub fn parse_csv(
    body: &[u8],
    report_id: String,
    period_start: String,
    period_end: String,
    currencies: &CurrencyTable,
) -> Result<Statement, ApiError> {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let columns = Columns::of(reader.headers().map_err(|e| csv_error(&e))?)?;
    let mut bad = BadRows::default();
    let mut seen = HashSet::new();
    let mut transactions = Vec::new();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows == MAX_ROWS {
            return Err(ApiError::malformed(format!(
                "CSV: at most {MAX_ROWS} rows per report; split the period"
            )));
        }
        rows += 1;
        let row = match columns.row(&record) {
            Ok(row) => row,
            Err((column, reason)) => {
                bad.add(line, column, reason);
                continue;
            }
        };
        match parse_row(row, currencies) {
            Ok(parsed) if !seen.insert(parsed.transaction_id.clone()) => bad.add(
                line,
                "transaction_id",
                format!("{} is reported twice", parsed.transaction_id),
            ),
            Ok(parsed) => transactions.push(parsed),
            Err(RowError { field, error }) => {
                let column = if field == "amount" {
                    "amount_value"
                } else {
                    field
                };
                let reason = error
                    .message
                    .strip_prefix(&format!("{field}: "))
                    .unwrap_or(&error.message)
                    .to_owned();
                bad.add(line, column, reason);
            }
        }
    }
    bad.refuse()?;
    Statement::of_rows(report_id, &period_start, &period_end, transactions)
}

fn csv_error(error: &csv::Error) -> ApiError {
    let line = error.position().map_or(0, csv::Position::line);
    ApiError::malformed(format!("CSV line {line}: {error}"))
}

/// Where each of the statement's columns is in the file.
struct Columns {
    index: [usize; 8],
}

impl Columns {
    const NAMES: [&'static str; 8] = [
        "transaction_id",
        "op",
        "player_id",
        "round_id",
        "amount_value",
        "currency",
        "scale",
        "state",
    ];

    fn of(header: &csv::StringRecord) -> Result<Columns, ApiError> {
        let names: Vec<String> = header
            .iter()
            .map(|name| name.to_ascii_lowercase())
            .collect();
        let unknown: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|name| !Self::NAMES.contains(name))
            .collect();
        let missing: Vec<&str> = Self::NAMES
            .into_iter()
            .filter(|name| !names.iter().any(|n| n == name))
            .collect();
        if !unknown.is_empty() || !missing.is_empty() || names.len() != Self::NAMES.len() {
            return Err(ApiError::malformed(format!(
                "CSV: the header must name the columns {CSV_COLUMNS} once each, in any \
                 order (missing: {}; unknown: {})",
                list(&missing),
                list(&unknown)
            )));
        }
        let mut index = [0; 8];
        for (slot, name) in index.iter_mut().zip(Self::NAMES) {
            *slot = names.iter().position(|n| n == name).unwrap_or_default();
        }
        Ok(Columns { index })
    }

    /// The row's fields by name; the column and reason when the row has too few or too
    /// many fields, or a scale that is not a number.
    fn row(&self, record: &csv::StringRecord) -> Result<RawRow, (&'static str, String)> {
        if record.len() != Self::NAMES.len() {
            return Err(("", format!("8 fields expected, found {}", record.len())));
        }
        let field = |column: usize| record.get(self.index[column]).unwrap_or_default();
        let amount = match (field(4), field(5), field(6)) {
            ("", "", "") => None,
            (value, currency, scale) => Some(WireMoney {
                value: value.to_owned(),
                currency: currency.to_owned(),
                scale: scale
                    .parse()
                    .map_err(|_| ("scale", format!("{scale:?} is not a small whole number")))?,
            }),
        };
        Ok(RawRow {
            transaction_id: field(0).to_owned(),
            op: field(1).to_owned(),
            player_id: field(2).to_owned(),
            round_id: Some(field(3))
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
            amount,
            state: field(7).to_owned(),
        })
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// The rows a CSV file is refused for: how many, and the first [`MAX_REPORTED_ROWS`].
#[derive(Default)]
struct BadRows {
    count: usize,
    first: Vec<serde_json::Value>,
}

impl BadRows {
    fn add(&mut self, line: u64, column: &str, reason: String) {
        self.count += 1;
        if self.first.len() < MAX_REPORTED_ROWS {
            self.first.push(serde_json::json!({
                "line": line,
                "column": column,
                "reason": reason,
            }));
        }
    }

    /// `Err` naming the rows when there are any.
    fn refuse(self) -> Result<(), ApiError> {
        if self.count == 0 {
            return Ok(());
        }
        let shown: Vec<String> = self
            .first
            .iter()
            .take(5)
            .map(|row| {
                let column = row["column"].as_str().unwrap_or_default();
                let at = if column.is_empty() {
                    String::new()
                } else {
                    format!(", {column}")
                };
                format!(
                    "line {}{at}: {}",
                    row["line"],
                    row["reason"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let more = if self.count > shown.len() {
            format!("; and {} more", self.count - shown.len())
        } else {
            String::new()
        };
        let mut error = ApiError::malformed(format!(
            "CSV: {} row(s) refused, nothing imported: {}{more}",
            self.count,
            shown.join("; ")
        ));
        error.details = serde_json::json!({ "refused_rows": self.count, "rows": self.first });
        Err(error)
    }
}
