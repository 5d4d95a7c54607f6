//! What the dashboard's overview shows, read from the attempt counters only: at most one
//! row per minute and key, so a day's overview reads a few thousand rows whatever the size
//! of the attempt log.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, Func, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, DbErr, QueryResult};

use super::counters::BUCKET_COLUMNS;
use super::Outcome;
use crate::db::entities::attempt_counter::{Column, Entity};
use crate::telemetry::metrics::LATENCY_BOUNDS_MS;
pub use app::model::Outcomes;

/// Attempts of some span, by outcome, with their latency histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub outcomes: Outcomes,
    pub latency_ms_sum: i64,
    pub latency_ms_max: i64,
    /// Counts per bucket of [`LATENCY_BOUNDS_MS`], then the open bucket.
    pub latency_buckets: [i64; 13],
}

impl Totals {
    pub fn latency_ms_p50(&self) -> Option<i64> {
        percentile_ms(&self.latency_buckets, self.latency_ms_max, 0.50)
    }

    pub fn latency_ms_p99(&self) -> Option<i64> {
        percentile_ms(&self.latency_buckets, self.latency_ms_max, 0.99)
    }

    /// Adds another span's attempts to this one.
    pub fn add(&mut self, other: &Totals) {
        self.outcomes.add(&other.outcomes);
        self.latency_ms_sum = self.latency_ms_sum.saturating_add(other.latency_ms_sum);
        self.latency_ms_max = self.latency_ms_max.max(other.latency_ms_max);
        for (sum, count) in self.latency_buckets.iter_mut().zip(other.latency_buckets) {
            *sum += count;
        }
    }
}

/// The upper bound of the bucket holding the `quantile`-th latency, never more than the
/// largest latency seen (which is also the answer for the open bucket). `None` without
/// attempts.
pub fn percentile_ms(buckets: &[i64; 13], max_ms: i64, quantile: f64) -> Option<i64> {
    let total: i64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((quantile * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (index, count) in buckets.iter().enumerate() {
        seen += count;
        if seen >= rank {
            let bound = LATENCY_BOUNDS_MS.get(index).copied().unwrap_or(max_ms);
            return Some(bound.min(max_ms));
        }
    }
    Some(max_ms)
}

/// One minute of the chart series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinutePoint {
    pub minute: DateTime<Utc>,
    pub totals: Totals,
}

/// Declines (and other refusals) of one error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeCount {
    pub outcome: String,
    pub error_code: String,
    pub http_status: i32,
    pub count: i64,
}

/// The money that duplicate requests would have moved a second time, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedAmount {
    pub currency: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub since: DateTime<Utc>,
    pub totals: Totals,
    /// Every error code seen, by outcome class (DECLINED, REJECTED, CONFLICT, ERROR).
    pub codes: Vec<CodeCount>,
    pub replayed_amounts: Vec<ReplayedAmount>,
    /// Minutes with attempts only, oldest first.
    pub series: Vec<MinutePoint>,
}

/// The overview of the last `minutes` minutes up to `now` (the current, partial minute
/// included), for one provider or all. Two grouped queries over the counters.
pub async fn overview(
    db: &impl ConnectionTrait,
    minutes: i64,
    provider_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Overview, DbErr> {
    let current_minute_s = now.timestamp().div_euclid(60) * 60;
    let since_s = current_minute_s - (minutes - 1) * 60;
    let series = minute_series(db, since_s, provider_id).await?;
    let mut totals = Totals::default();
    for point in &series {
        totals.add(&point.totals);
    }
    let (codes, replayed_amounts) = codes_and_amounts(db, since_s, provider_id).await?;
    Ok(Overview {
        since: DateTime::from_timestamp(since_s, 0).unwrap_or_default(),
        totals,
        codes,
        replayed_amounts,
        series,
    })
}

/// The counters from `since_s` on, for one provider or all.
fn select_window(since_s: i64, provider_id: Option<&str>) -> SelectStatement {
    let mut select = Query::select();
    select
        .from(Entity)
        .and_where(Expr::col(Column::MinuteUnixS).gte(since_s));
    if let Some(provider_id) = provider_id {
        select.and_where(Expr::col(Column::ProviderId).eq(provider_id));
    }
    select
}

/// `CAST(SUM(expr) AS BIGINT)`: PostgreSQL sums BIGINTs into NUMERIC.
fn sum(expr: impl Into<SimpleExpr>) -> SimpleExpr {
    SimpleExpr::from(Func::sum(expr)).cast_as(Alias::new("BIGINT"))
}

/// The counts of the rows matching `condition`, 0 for the others.
fn count_where(condition: SimpleExpr) -> SimpleExpr {
    sum(Expr::case(condition, Expr::col(Column::Count)).finally(0))
}

fn outcome_is(outcome: Outcome) -> SimpleExpr {
    Expr::col(Column::Outcome).eq(outcome.as_str())
}

async fn minute_series(
    db: &impl ConnectionTrait,
    since_s: i64,
    provider_id: Option<&str>,
) -> Result<Vec<MinutePoint>, DbErr> {
    let mut select = select_window(since_s, provider_id);
    select
        .column(Column::MinuteUnixS)
        .expr_as(sum(Expr::col(Column::Count)), Alias::new("attempts"))
        .expr_as(count_where(outcome_is(Outcome::First)), Alias::new("first"))
        .expr_as(
            count_where(outcome_is(Outcome::Replay)),
            Alias::new("replays"),
        )
        .expr_as(
            count_where(outcome_is(Outcome::Conflict)),
            Alias::new("conflicts"),
        )
        .expr_as(
            count_where(outcome_is(Outcome::Declined)),
            Alias::new("declined"),
        )
        .expr_as(
            count_where(outcome_is(Outcome::Rejected)),
            Alias::new("rejected"),
        )
        .expr_as(
            count_where(outcome_is(Outcome::Error)),
            Alias::new("errors"),
        )
        .expr_as(
            count_where(Expr::col(Column::HttpStatus).gte(500)),
            Alias::new("status_5xx"),
        )
        .expr_as(
            sum(Expr::col(Column::LatencyMsSum)),
            Alias::new("latency_ms_sum"),
        )
        .expr_as(
            Expr::col(Column::LatencyMsMax).max(),
            Alias::new("latency_ms_max"),
        );
    for (index, column) in BUCKET_COLUMNS.into_iter().enumerate() {
        select.expr_as(
            sum(Expr::col(column)),
            Alias::new(format!("bucket_{index}")),
        );
    }
    select
        .group_by_col(Column::MinuteUnixS)
        .order_by(Column::MinuteUnixS, sea_orm::Order::Asc);
    let rows = db
        .query_all(db.get_database_backend().build(&select))
        .await?;
    rows.iter().map(minute_point).collect()
}

fn minute_point(row: &QueryResult) -> Result<MinutePoint, DbErr> {
    let get = |name: &str| row.try_get::<i64>("", name);
    let mut latency_buckets = [0; 13];
    for (index, bucket) in latency_buckets.iter_mut().enumerate() {
        *bucket = get(&format!("bucket_{index}"))?;
    }
    let minute_unix_s = get("minute_unix_s")?;
    Ok(MinutePoint {
        minute: DateTime::from_timestamp(minute_unix_s, 0).unwrap_or_default(),
        totals: Totals {
            outcomes: Outcomes {
                attempts: get("attempts")?,
                first: get("first")?,
                replays: get("replays")?,
                conflicts: get("conflicts")?,
                declined: get("declined")?,
                rejected: get("rejected")?,
                errors: get("errors")?,
                status_5xx: get("status_5xx")?,
            },
            latency_ms_sum: get("latency_ms_sum")?,
            latency_ms_max: get("latency_ms_max")?,
            latency_buckets,
        },
    })
}

/// Counts by error code, and replayed money by currency, in one grouped read.
async fn codes_and_amounts(
    db: &impl ConnectionTrait,
    since_s: i64,
    provider_id: Option<&str>,
) -> Result<(Vec<CodeCount>, Vec<ReplayedAmount>), DbErr> {
    let mut select = select_window(since_s, provider_id);
    select
        .columns([
            Column::Outcome,
            Column::ErrorCode,
            Column::HttpStatus,
            Column::Currency,
        ])
        .expr_as(sum(Expr::col(Column::Count)), Alias::new("count"))
        .expr_as(
            sum(Expr::col(Column::AmountMinorSum)),
            Alias::new("amount_minor_sum"),
        )
        .and_where(
            Expr::col(Column::ErrorCode)
                .ne("")
                .or(outcome_is(Outcome::Replay)),
        )
        .group_by_columns([
            Column::Outcome,
            Column::ErrorCode,
            Column::HttpStatus,
            Column::Currency,
        ])
        .order_by(Column::Outcome, sea_orm::Order::Asc)
        .order_by(Column::ErrorCode, sea_orm::Order::Asc)
        .order_by(Column::HttpStatus, sea_orm::Order::Asc);
    let rows = db
        .query_all(db.get_database_backend().build(&select))
        .await?;
    let mut codes: Vec<CodeCount> = Vec::new();
    let mut amounts: Vec<ReplayedAmount> = Vec::new();
    for row in &rows {
        let outcome: String = row.try_get("", "outcome")?;
        let error_code: String = row.try_get("", "error_code")?;
        let http_status: i32 = row.try_get("", "http_status")?;
        let currency: String = row.try_get("", "currency")?;
        let count: i64 = row.try_get("", "count")?;
        let amount_minor: i64 = row.try_get("", "amount_minor_sum")?;
        if !error_code.is_empty() {
            // Rows differing only by currency are one code count.
            match codes.last_mut() {
                Some(last)
                    if (
                        last.outcome.as_str(),
                        last.error_code.as_str(),
                        last.http_status,
                    ) == (outcome.as_str(), error_code.as_str(), http_status) =>
                {
                    last.count += count;
                }
                _ => codes.push(CodeCount {
                    outcome: outcome.clone(),
                    error_code,
                    http_status,
                    count,
                }),
            }
        }
        if outcome == Outcome::Replay.as_str() && !currency.is_empty() {
            match amounts.iter_mut().find(|a| a.currency == currency) {
                Some(amount) => {
                    amount.amount_minor = amount.amount_minor.saturating_add(amount_minor)
                }
                None => amounts.push(ReplayedAmount {
                    currency,
                    amount_minor,
                }),
            }
        }
    }
    amounts.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok((codes, amounts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_the_upper_bound_of_their_bucket() {
        let mut buckets = [0; 13];
        buckets[0] = 50; // ≤ 1 ms
        buckets[3] = 49; // ≤ 10 ms
        buckets[6] = 1; // ≤ 100 ms
        assert_eq!(percentile_ms(&buckets, 80, 0.50), Some(1));
        assert_eq!(percentile_ms(&buckets, 80, 0.99), Some(10));
        assert_eq!(percentile_ms(&buckets, 80, 1.0), Some(80));
    }

    #[test]
    fn the_open_bucket_answers_the_largest_latency() {
        let mut buckets = [0; 13];
        buckets[12] = 3;
        assert_eq!(percentile_ms(&buckets, 9_000, 0.5), Some(9_000));
        assert_eq!(percentile_ms(&[0; 13], 0, 0.5), None);
    }
}
