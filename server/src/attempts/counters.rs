//! The attempt counters: each batch of the attempt log is folded in memory into one row per
//! minute and key, then added to the stored rows with an upsert in the batch's own
//! transaction. The dashboard reads these (see `overview`), never the log itself.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, QueryTrait,
    Statement,
};

use super::Outcome;
use crate::db::entities::{attempt, attempt_counter};
use crate::telemetry::metrics::LATENCY_BOUNDS_MS;

use attempt_counter::Column;

/// The bucket columns, in the order of [`LATENCY_BOUNDS_MS`] and then the open bucket.
pub const BUCKET_COLUMNS: [Column; 13] = [
    Column::LatencyLe1Ms,
    Column::LatencyLe2Ms,
    Column::LatencyLe5Ms,
    Column::LatencyLe10Ms,
    Column::LatencyLe20Ms,
    Column::LatencyLe50Ms,
    Column::LatencyLe100Ms,
    Column::LatencyLe200Ms,
    Column::LatencyLe500Ms,
    Column::LatencyLe1000Ms,
    Column::LatencyLe2000Ms,
    Column::LatencyLe5000Ms,
    Column::LatencyOver5000Ms,
];
const _: () = assert!(BUCKET_COLUMNS.len() == LATENCY_BOUNDS_MS.len() + 1);

/// Which counter row an attempt adds to; `''` stands for "none".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CounterKey {
    pub minute_unix_s: i64,
    pub provider_id: String,
    pub endpoint: String,
    pub outcome: String,
    pub http_status: i32,
    pub error_code: String,
    pub currency: String,
}

/// What the attempts of one key add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measures {
    pub count: i64,
    pub amount_minor_sum: i64,
    pub latency_ms_sum: i64,
    pub latency_ms_max: i64,
    pub buckets: [i64; 13],
}

impl Measures {
    fn add(&mut self, latency_ms: i64, amount_minor: i64) {
        self.count += 1;
        self.amount_minor_sum = self.amount_minor_sum.saturating_add(amount_minor);
        self.latency_ms_sum = self.latency_ms_sum.saturating_add(latency_ms);
        self.latency_ms_max = self.latency_ms_max.max(latency_ms);
        self.buckets[bucket_of(latency_ms)] += 1;
    }
}

impl Measures {
    /// The measures of two spans together.
    fn merge(&mut self, other: &Measures) {
        self.count += other.count;
        self.amount_minor_sum = self.amount_minor_sum.saturating_add(other.amount_minor_sum);
        self.latency_ms_sum = self.latency_ms_sum.saturating_add(other.latency_ms_sum);
        self.latency_ms_max = self.latency_ms_max.max(other.latency_ms_max);
        for (sum, count) in self.buckets.iter_mut().zip(other.buckets) {
            *sum += count;
        }
    }
}

/// The index of the bucket a latency falls into.
pub fn bucket_of(latency_ms: i64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|bound| latency_ms <= *bound)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// One batch's attempts, folded. Ordered by key, so that concurrent writers on
/// PostgreSQL lock rows in the same order and do not deadlock each other.
#[derive(Debug, Default)]
pub struct Tally(BTreeMap<CounterKey, Measures>);

impl Tally {
    pub fn of(records: &[attempt::ActiveModel]) -> Tally {
        let mut tally = Tally::default();
        for record in records {
            if let Some((key, latency_ms, amount_minor)) = sample(record) {
                tally
                    .0
                    .entry(key)
                    .or_default()
                    .add(latency_ms, amount_minor);
            }
        }
        tally
    }

    /// What the batch's replays would have moved a second time, by currency (minor units).
    pub fn replayed_amounts(&self) -> BTreeMap<String, i64> {
        let mut amounts = BTreeMap::new();
        for (key, measures) in &self.0 {
            if key.outcome == Outcome::Replay.as_str() && !key.currency.is_empty() {
                let sum: &mut i64 = amounts.entry(key.currency.clone()).or_default();
                *sum = sum.saturating_add(measures.amount_minor_sum);
            }
        }
        amounts
    }

    /// Stored rows folded into hours: each row's measures added to its key at the start
    /// of its hour (`minute_unix_s` then names the hour; see `retention::fold_old_minutes`).
    pub fn by_hour(rows: &[attempt_counter::Model]) -> Tally {
        let mut tally = Tally::default();
        for row in rows {
            let key = CounterKey {
                minute_unix_s: row.minute_unix_s.div_euclid(3600) * 3600,
                provider_id: row.provider_id.clone(),
                endpoint: row.endpoint.clone(),
                outcome: row.outcome.clone(),
                http_status: row.http_status,
                error_code: row.error_code.clone(),
                currency: row.currency.clone(),
            };
            tally.0.entry(key).or_default().merge(&measures_of(row));
        }
        tally
    }

    /// The tally with its minutes before `end` (seconds since the epoch, a whole hour)
    /// added into their hours.
    pub fn hours_before(self, end: i64) -> Tally {
        let mut folded = Tally::default();
        for (mut key, measures) in self.0 {
            if key.minute_unix_s < end {
                key.minute_unix_s = key.minute_unix_s.div_euclid(3600) * 3600;
            }
            folded.0.entry(key).or_default().merge(&measures);
        }
        folded
    }

    /// Adds another tally's measures into this one.
    pub fn absorb(&mut self, other: Tally) {
        for (key, measures) in other.0 {
            self.0.entry(key).or_default().merge(&measures);
        }
    }

    /// The upserts of [`Tally::upsert_statement`], at most `rows` rows each (SQLite bounds
    /// the parameters of one statement).
    pub fn upsert_statements(&self, backend: DbBackend, rows: usize) -> Vec<Statement> {
        let entries: Vec<_> = self.0.iter().collect();
        entries
            .chunks(rows.max(1))
            .map(|chunk| {
                attempt_counter::Entity::insert_many(
                    chunk.iter().map(|(key, measures)| row(key, measures)),
                )
                .on_conflict(on_conflict())
                .build(backend)
            })
            .collect()
    }

    /// How many rows the tally writes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds the tally to the stored counters: one statement, `count = count + excluded.count`
    /// and so on, so that other processes' additions to the same rows are never lost.
    pub async fn upsert(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        if let Some(statement) = self.upsert_statement(db.get_database_backend()) {
            db.execute(statement).await?;
        }
        Ok(())
    }

    /// The statement [`Tally::upsert`] runs; `None` for an empty tally.
    pub fn upsert_statement(&self, backend: DbBackend) -> Option<Statement> {
        if self.is_empty() {
            return None;
        }
        let rows = self.0.iter().map(|(key, measures)| row(key, measures));
        Some(
            attempt_counter::Entity::insert_many(rows)
                .on_conflict(on_conflict())
                .build(backend),
        )
    }
}

/// The counter key and measures of one log record; `None` for a record missing a field
/// the capture always sets.
fn sample(record: &attempt::ActiveModel) -> Option<(CounterKey, i64, i64)> {
    let received_at: &DateTime<Utc> = record.received_at.try_as_ref()?;
    let fingerprint = record.fingerprint.try_as_ref()?.as_deref();
    let (currency, amount_minor) = fingerprint.map_or((String::new(), 0), amount_of);
    let key = CounterKey {
        minute_unix_s: received_at.timestamp().div_euclid(60) * 60,
        provider_id: record.provider_id.try_as_ref()?.clone().unwrap_or_default(),
        endpoint: record.endpoint.try_as_ref()?.clone(),
        outcome: record.outcome.try_as_ref()?.clone(),
        http_status: *record.http_status.try_as_ref()?,
        error_code: record.error_code.try_as_ref()?.clone().unwrap_or_default(),
        currency,
    };
    Some((key, (*record.latency_ms.try_as_ref()?).max(0), amount_minor))
}

/// The currency and minor units of a fingerprint's `amount`, `('', 0)` when it has none.
/// Every logged request passes here (replays too), so only the two fields are read,
/// borrowed, and the rest skipped: no map of the whole fingerprint is built.
pub fn amount_of(fingerprint: &str) -> (String, i64) {
    #[derive(serde::Deserialize)]
    struct Amount<'a> {
        #[serde(rename = "amount.currency", borrow)]
        currency: Option<std::borrow::Cow<'a, str>>,
        #[serde(rename = "amount.value", borrow)]
        value: Option<std::borrow::Cow<'a, str>>,
    }
    let Ok(amount) = serde_json::from_str::<Amount<'_>>(fingerprint) else {
        return (String::new(), 0);
    };
    match (
        amount.currency,
        amount.value.and_then(|v| v.parse::<i64>().ok()),
    ) {
        (Some(currency), Some(value)) => (currency.into_owned(), value.max(0)),
        _ => (String::new(), 0),
    }
}

fn measures_of(row: &attempt_counter::Model) -> Measures {
    Measures {
        count: row.count,
        amount_minor_sum: row.amount_minor_sum,
        latency_ms_sum: row.latency_ms_sum,
        latency_ms_max: row.latency_ms_max,
        buckets: [
            row.latency_le1_ms,
            row.latency_le2_ms,
            row.latency_le5_ms,
            row.latency_le10_ms,
            row.latency_le20_ms,
            row.latency_le50_ms,
            row.latency_le100_ms,
            row.latency_le200_ms,
            row.latency_le500_ms,
            row.latency_le1000_ms,
            row.latency_le2000_ms,
            row.latency_le5000_ms,
            row.latency_over5000_ms,
        ],
    }
}

fn row(key: &CounterKey, measures: &Measures) -> attempt_counter::ActiveModel {
    let [b1, b2, b5, b10, b20, b50, b100, b200, b500, b1000, b2000, b5000, rest] = measures.buckets;
    attempt_counter::Model {
        minute_unix_s: key.minute_unix_s,
        provider_id: key.provider_id.clone(),
        endpoint: key.endpoint.clone(),
        outcome: key.outcome.clone(),
        http_status: key.http_status,
        error_code: key.error_code.clone(),
        currency: key.currency.clone(),
        count: measures.count,
        amount_minor_sum: measures.amount_minor_sum,
        latency_ms_sum: measures.latency_ms_sum,
        latency_ms_max: measures.latency_ms_max,
        latency_le1_ms: b1,
        latency_le2_ms: b2,
        latency_le5_ms: b5,
        latency_le10_ms: b10,
        latency_le20_ms: b20,
        latency_le50_ms: b50,
        latency_le100_ms: b100,
        latency_le200_ms: b200,
        latency_le500_ms: b500,
        latency_le1000_ms: b1000,
        latency_le2000_ms: b2000,
        latency_le5000_ms: b5000,
        latency_over5000_ms: rest,
    }
    .into_active_model()
    .reset_all()
}

/// `ON CONFLICT (key) DO UPDATE SET` adding every measure; the maximum and the saturating
/// amount are written as CASE expressions, which read the same on SQLite and PostgreSQL.
fn on_conflict() -> OnConflict {
    let stored = |column: Column| Expr::col((attempt_counter::Entity, column));
    let incoming = |column: Column| Expr::col((Alias::new("excluded"), column));
    let sum = |column: Column| (column, stored(column).add(incoming(column)));
    let mut updates = vec![
        sum(Column::Count),
        sum(Column::LatencyMsSum),
        (
            Column::LatencyMsMax,
            Expr::case(
                incoming(Column::LatencyMsMax).gt(stored(Column::LatencyMsMax)),
                incoming(Column::LatencyMsMax),
            )
            .finally(stored(Column::LatencyMsMax))
            .into(),
        ),
        (
            Column::AmountMinorSum,
            // Both sides are never negative; past i64::MAX the sum stays there instead
            // of failing the batch (PostgreSQL) or turning into a float (SQLite).
            Expr::case(
                incoming(Column::AmountMinorSum)
                    .gt(Expr::val(i64::MAX).sub(stored(Column::AmountMinorSum))),
                Expr::val(i64::MAX),
            )
            .finally(stored(Column::AmountMinorSum).add(incoming(Column::AmountMinorSum)))
            .into(),
        ),
    ];
    updates.extend(BUCKET_COLUMNS.into_iter().map(sum));
    let mut on_conflict = OnConflict::columns([
        Column::MinuteUnixS,
        Column::ProviderId,
        Column::Endpoint,
        Column::Outcome,
        Column::HttpStatus,
        Column::ErrorCode,
        Column::Currency,
    ]);
    on_conflict.values(updates);
    on_conflict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_into_the_bucket_of_their_upper_bound() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(2), 1);
        assert_eq!(bucket_of(3), 2);
        assert_eq!(bucket_of(5000), 11);
        assert_eq!(bucket_of(5001), 12);
    }

    #[test]
    fn amounts_are_read_from_the_fingerprint() {
        let fingerprint = r#"{"amount.currency":"EUR","amount.value":"1250","op":"BET"}"#;
        assert_eq!(amount_of(fingerprint), ("EUR".to_owned(), 1250));
        assert_eq!(amount_of(r#"{"amount.value":null}"#), (String::new(), 0));
        assert_eq!(amount_of("not json"), (String::new(), 0));
        assert_eq!(amount_of(r#"{"op":"WIN"}"#), (String::new(), 0));
        assert_eq!(
            amount_of(r#"{"amount.currency":"EUR","amount.value":7}"#),
            (String::new(), 0)
        );
    }
}
