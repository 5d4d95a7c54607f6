//! A provider's statement (§6.4), parsed: from the JSON body or from CSV with the period in
//! the query string. Both arrive as [`RawStatement`] and go through the same validation, so
//! once a [`Statement`] exists every id, amount, op and state in it is valid.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::{CurrencyTable, Money, PlayerId, RoundId, TransactionId, WireMoney};
use crate::error::{ApiError, ErrorCode};

/// Rows per statement; a longer period is uploaded in several reports.
pub const MAX_ROWS: usize = 100_000;
/// The CSV header, in this order.
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

/// The states of §6.1 a transaction can be in at the end of a period.
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
    #[schema(example = "2026-05-01")]
    pub report_id: String,
    /// RFC 3339; the period is [period_start, period_end).
    #[schema(example = "2026-05-01T00:00:00Z")]
    pub period_start: String,
    #[schema(example = "2026-05-02T00:00:00Z")]
    pub period_end: String,
    pub transactions: Vec<RawRow>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRow {
    pub transaction_id: String,
    /// `BET`, `WIN` or `ROLLBACK`.
    pub op: String,
    pub player_id: String,
    #[serde(default)]
    pub round_id: Option<String>,
    #[serde(default)]
    pub amount: Option<WireMoney>,
    /// `COMMITTED`, `SETTLED`, `ROLLED_BACK`, `DECLINED` or `VOIDED_BY_PRIOR_ROLLBACK`.
    pub state: String,
}

impl Statement {
    pub fn parse(raw: RawStatement, currencies: &CurrencyTable) -> Result<Statement, ApiError> {
        let report_id = TransactionId::parse(raw.report_id)
            .map_err(|e| ApiError::malformed(format!("report_id: {e}")))?;
        let period_start = time("period_start", &raw.period_start)?;
        let period_end = time("period_end", &raw.period_end)?;
        if period_end <= period_start {
            return Err(ApiError::malformed(
                "period_end: must be after period_start",
            ));
        }
        if raw.transactions.len() > MAX_ROWS {
            return Err(ApiError::malformed(format!(
                "transactions: at most {MAX_ROWS} per report; split the period"
            )));
        }
        let mut seen = HashSet::with_capacity(raw.transactions.len());
        let mut transactions = Vec::with_capacity(raw.transactions.len());
        for (index, row) in raw.transactions.into_iter().enumerate() {
            let row = parse_row(row, currencies)
                .map_err(|e| prefixed(e, &format!("transactions[{index}].")))?;
            if !seen.insert(row.transaction_id.clone()) {
                return Err(ApiError::malformed(format!(
                    "transactions[{index}].transaction_id: {} is reported twice",
                    row.transaction_id
                )));
            }
            transactions.push(row);
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

fn parse_row(row: RawRow, currencies: &CurrencyTable) -> Result<ReportedTransaction, ApiError> {
    let id = |field: &str, e: crate::domain::IdError| ApiError::malformed(format!("{field}: {e}"));
    let transaction_id =
        TransactionId::parse(row.transaction_id).map_err(|e| id("transaction_id", e))?;
    let op = ReportedOp::parse(&row.op).ok_or_else(|| {
        ApiError::malformed(format!("op: {:?} is not BET, WIN or ROLLBACK", row.op))
    })?;
    let player_id = PlayerId::parse(row.player_id).map_err(|e| id("player_id", e))?;
    let round_id = row
        .round_id
        .map(RoundId::parse)
        .transpose()
        .map_err(|e| id("round_id", e))?;
    let amount = row
        .amount
        .as_ref()
        .map(|wire| currencies.money(wire))
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidAmount, format!("amount: {e}")))?;
    if amount.is_none() && op != ReportedOp::Rollback {
        return Err(ApiError::malformed(format!(
            "amount: required for {}",
            op.as_str()
        )));
    }
    let state = STATES.iter().find(|s| **s == row.state).ok_or_else(|| {
        ApiError::malformed(format!(
            "state: {:?} is not one of {}",
            row.state,
            STATES.join(", ")
        ))
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

/// Parses a CSV statement: the header [`CSV_COLUMNS`] first, then one transaction per
/// line. Ids, codes and amounts never contain commas or quotes, so fields are plain; a
/// quote is refused rather than guessed at. Empty `round_id` means none; empty
/// `amount_value`, `currency` and `scale` together mean no amount (rollbacks only).
pub fn parse_csv(
    body: &[u8],
    report_id: String,
    period_start: String,
    period_end: String,
) -> Result<RawStatement, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::malformed("the CSV body must be UTF-8"))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header = lines
        .next()
        .map(|(_, l)| l.trim())
        .ok_or_else(|| ApiError::malformed(format!("CSV: header row required: {CSV_COLUMNS}")))?;
    if header != CSV_COLUMNS {
        return Err(ApiError::malformed(format!(
            "CSV: the header must be exactly {CSV_COLUMNS}"
        )));
    }
    let mut transactions = Vec::new();
    for (index, line) in lines {
        if transactions.len() == MAX_ROWS {
            return Err(ApiError::malformed(format!(
                "CSV: at most {MAX_ROWS} rows per report; split the period"
            )));
        }
        transactions.push(csv_row(index + 1, line.trim_end_matches('\r'))?);
    }
    Ok(RawStatement {
        report_id,
        period_start,
        period_end,
        transactions,
    })
}

fn csv_row(line_number: usize, line: &str) -> Result<RawRow, ApiError> {
    let at = |message: String| ApiError::malformed(format!("CSV line {line_number}: {message}"));
    if line.contains('"') {
        return Err(at("quoted fields are not accepted".into()));
    }
    let fields: Vec<&str> = line.split(',').collect();
    let [transaction_id, op, player_id, round_id, value, currency, scale, state] = fields[..]
    else {
        return Err(at(format!("8 fields expected, found {}", fields.len())));
    };
    let amount = match (value, currency, scale) {
        ("", "", "") => None,
        (value, currency, scale) => Some(WireMoney {
            value: value.to_owned(),
            currency: currency.to_owned(),
            scale: scale.parse().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidAmount,
                    format!("CSV line {line_number}: scale: a small whole number"),
                )
            })?,
        }),
    };
    Ok(RawRow {
        transaction_id: transaction_id.to_owned(),
        op: op.to_owned(),
        player_id: player_id.to_owned(),
        round_id: (!round_id.is_empty()).then(|| round_id.to_owned()),
        amount,
        state: state.to_owned(),
    })
}
