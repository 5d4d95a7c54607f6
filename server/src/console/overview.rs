//! The overview page's numbers: the attempt counters of a window, its minutes with
//! traffic for the charts, plus the open findings an operator should look at.
use app::model::{self as view, Window};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::amounts::money_text;
use super::PENDING_KINDS;
use crate::attempts::overview::{self as counters, percentile_ms, MinutePoint, Totals};
use crate::db::entities::{discrepancy, provider};
use crate::domain::CurrencyTable;
use crate::idempotency::format_time;

pub async fn overview(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    window: Window,
    provider_id: Option<String>,
    now: DateTime<Utc>,
) -> Result<view::Overview, DbErr> {
    let data = counters::overview(db, window.minutes(), provider_id.as_deref(), now).await?;
    let providers = provider_ids(db).await?;
    let unresolved = discrepancy::Column::Status.ne("RESOLVED");
    let open_pending_rollbacks = discrepancy::Entity::find()
        .filter(unresolved.clone())
        .filter(discrepancy::Column::Kind.is_in(PENDING_KINDS))
        .count(db)
        .await? as i64;
    let open_discrepancies = discrepancy::Entity::find()
        .filter(unresolved)
        .count(db)
        .await? as i64;
    Ok(view::Overview {
        window,
        provider_id,
        providers,
        since: format_time(data.since),
        totals: totals(&data.totals),
        codes: data
            .codes
            .into_iter()
            .map(|code| view::CodeCount {
                outcome: code.outcome,
                error_code: code.error_code,
                http_status: code.http_status,
                count: code.count,
            })
            .collect(),
        double_charges_prevented: data
            .replayed_amounts
            .iter()
            .filter(|amount| amount.amount_minor != 0)
            .map(|amount| money_text(currencies, amount.amount_minor, &amount.currency))
            .collect(),
        series: minutes_with_traffic(&data.series, data.since, window),
        series_start_s: data.since.timestamp(),
        series_minutes: window.minutes(),
        open_pending_rollbacks,
        open_discrepancies,
    })
}

/// Every provider id, for the selectors.
pub async fn provider_ids(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    Ok(provider::Entity::find()
        .order_by_asc(provider::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

/// The window's minutes that had any attempt, oldest first; the page fills the rest
/// with zeros (`app/src/pages/overview.rs`).
fn minutes_with_traffic(
    series: &[MinutePoint],
    since: DateTime<Utc>,
    window: Window,
) -> Vec<view::MinutePoint> {
    let end_s = since.timestamp() + window.minutes() * 60;
    series
        .iter()
        .filter(|point| (since.timestamp()..end_s).contains(&point.minute.timestamp()))
        .filter(|point| point.totals.outcomes.attempts > 0)
        .map(|point| view::MinutePoint {
            minute_s: point.minute.timestamp(),
            totals: totals(&point.totals),
        })
        .collect()
}

fn totals(totals: &Totals) -> view::Totals {
    view::Totals {
        outcomes: totals.outcomes,
        latency_ms_p50: percentile_ms(&totals.latency_buckets, totals.latency_ms_max, 0.50),
        latency_ms_p99: percentile_ms(&totals.latency_buckets, totals.latency_ms_max, 0.99),
    }
}
