//! The numbers an operator checks first, per window and provider, refreshed every few seconds.
use leptos::prelude::*;
use leptos_router::components::Form;

use super::{every, query_param};
use crate::api::get_overview;
use crate::components::chart::{Bar, BarChart, Segment};
use crate::components::clock::{Time, ZoneName};
use crate::components::widgets::{Badge, Loaded};
use crate::model::{MinutePoint, Overview, Totals, Window};

const REFRESH_SECONDS: u64 = 5;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let window = query_param("window");
    let provider = query_param("provider");
    let tick = RwSignal::new(0u64);
    every(REFRESH_SECONDS, move || tick.update(|n| *n += 1));
    let data = Resource::new(
        move || (window.get(), provider.get(), tick.get()),
        |(window, provider, _)| {
            let window = Window::parse(&window).unwrap_or(Window::FifteenMinutes);
            let provider = (!provider.is_empty()).then_some(provider);
            get_overview(window, provider)
        },
    );
    view! {
        <h1>"Overview"</h1>
        <Loaded load=data show=|overview: Overview| view! { <OverviewBody overview/> }/>
    }
}

#[component]
fn OverviewBody(overview: Overview) -> impl IntoView {
    let totals = overview.totals.clone();
    let per_minute = totals.outcomes.attempts as f64 / overview.window.minutes() as f64;
    view! {
        <Filters overview=overview.clone()/>
        <p class="muted">
            "Since " <Time at=overview.since.clone()/> " " <ZoneName/>
            {format!(" · refreshed every {REFRESH_SECONDS} s")}
        </p>
        <section class="cards" data-testid="overview-cards">
            <Card label="Requests / min" value=format!("{per_minute:.1}")/>
            <Card label="First executions" value=totals.outcomes.first.to_string()/>
            <Card
                label="Duplicate requests"
                value=format!("{} ({:.1} %)", totals.outcomes.replays, totals.outcomes.replay_rate() * 100.0)
                testid="duplicates"
            />
            <Card label="Double charges prevented" value=money_list(&overview.double_charges_prevented) testid="prevented"/>
            <Card label="Conflicts" value=totals.outcomes.conflicts.to_string()/>
            <Card label="Declines" value=totals.outcomes.declined.to_string()/>
            <Card label="5xx" value=totals.outcomes.status_5xx.to_string()/>
            <Card label="Latency p50 / p99" value=latency(&totals)/>
            <Card label="Pending rollbacks" value=overview.open_pending_rollbacks.to_string() href="/pending"/>
            <Card label="Open discrepancies" value=overview.open_discrepancies.to_string() href="/reconciliation?status=OPEN"/>
        </section>
        <Charts
            series=overview.series.clone()
            start_s=overview.series_start_s
            minutes=overview.series_minutes
        />
        <Codes overview/>
    }
}

#[component]
fn Filters(overview: Overview) -> impl IntoView {
    let windows = Window::ALL
        .into_iter()
        .map(|window| {
            let selected = window == overview.window;
            view! { <option value=window.as_str() selected=selected>{window.as_str()}</option> }
        })
        .collect_view();
    let current = overview.provider_id.clone().unwrap_or_default();
    let providers = overview
        .providers
        .iter()
        .map(|provider| {
            let selected = *provider == current;
            view! { <option value=provider.clone() selected=selected>{provider.clone()}</option> }
        })
        .collect_view();
    view! {
        <Form method="GET" action="/" attr:class="filters">
            <label>"Window " <select name="window">{windows}</select></label>
            <label>
                "Provider "
                <select name="provider">
                    <option value="">"All providers"</option>
                    {providers}
                </select>
            </label>
            <button type="submit">"Show"</button>
        </Form>
    }
}

#[component]
fn Card(
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    #[prop(optional, into)] href: Option<String>,
    #[prop(optional, into)] testid: Option<String>,
) -> impl IntoView {
    let value = match href {
        Some(href) => view! { <a href=href>{value}</a> }.into_any(),
        None => value.into_any(),
    };
    view! {
        <div class="card" data-testid=testid>
            <div class="card-label">{label}</div>
            <div class="card-value">{value}</div>
        </div>
    }
}

fn money_list(amounts: &[String]) -> String {
    if amounts.is_empty() {
        "0".to_owned()
    } else {
        amounts.join(" · ")
    }
}

fn latency(totals: &Totals) -> String {
    let show = |ms: Option<i64>| ms.map_or_else(|| "–".to_owned(), |ms| format!("{ms} ms"));
    format!(
        "{} / {}",
        show(totals.latency_ms_p50),
        show(totals.latency_ms_p99)
    )
}

/// Every minute of the window, oldest first: the server's figures where it sent some,
/// zeros elsewhere, so a stop in traffic shows.
fn every_minute(series: &[MinutePoint], start_s: i64, minutes: i64) -> Vec<MinutePoint> {
    let mut sent = series.iter().peekable();
    (0..minutes.max(0))
        .map(|index| {
            let minute_s = start_s + index * 60;
            while sent.next_if(|point| point.minute_s < minute_s).is_some() {}
            let totals = sent
                .next_if(|point| point.minute_s == minute_s)
                .map(|point| point.totals.clone())
                .unwrap_or_default();
            MinutePoint { minute_s, totals }
        })
        .collect()
}

#[component]
fn Charts(series: Vec<MinutePoint>, start_s: i64, minutes: i64) -> impl IntoView {
    let series = every_minute(&series, start_s, minutes);
    let outcomes = series
        .iter()
        .map(|point| {
            let t = &point.totals.outcomes;
            let refused = t.declined + t.conflicts;
            let failed = t.rejected + t.errors;
            Bar {
                at_s: point.minute_s,
                detail: format!(
                    "{} {}: {} first, {} duplicate, {refused} declined or conflict, \
                     {failed} rejected or error",
                    t.attempts,
                    if t.attempts == 1 {
                        "request"
                    } else {
                        "requests"
                    },
                    t.first,
                    t.replays
                ),
                segments: vec![
                    Segment {
                        value: t.first,
                        class: "s-first",
                    },
                    Segment {
                        value: t.replays,
                        class: "s-replay",
                    },
                    Segment {
                        value: refused,
                        class: "s-declined",
                    },
                    Segment {
                        value: failed,
                        class: "s-error",
                    },
                ],
            }
        })
        .collect();
    let latency = series
        .iter()
        .map(|point| Bar {
            at_s: point.minute_s,
            detail: point
                .totals
                .latency_ms_p99
                .map_or_else(|| "no requests".to_owned(), |ms| format!("p99 {ms} ms")),
            segments: vec![Segment {
                value: point.totals.latency_ms_p99.unwrap_or(0),
                class: "s-latency",
            }],
        })
        .collect();
    view! {
        <div class="charts">
            <BarChart
                title="Requests per minute"
                bars=outcomes
                legend=vec![
                    ("first", "s-first"),
                    ("duplicate", "s-replay"),
                    ("declined / conflict", "s-declined"),
                    ("rejected / error", "s-error"),
                ]
            />
            <BarChart
                title="Latency p99 per minute (ms)"
                bars=latency
                legend=vec![("p99", "s-latency")]
            />
        </div>
    }
}

#[component]
fn Codes(overview: Overview) -> impl IntoView {
    if overview.codes.is_empty() {
        return view! { <p class="empty">"No declines, conflicts or errors in this window."</p> }
            .into_any();
    }
    let rows = overview
        .codes
        .into_iter()
        .map(|code| {
            view! {
                <tr>
                    <td><Badge text=code.outcome/></td>
                    <td class="mono">{code.error_code}</td>
                    <td class="num">{code.http_status}</td>
                    <td class="num">{code.count}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h2>"Refusals by code"</h2>
        <table class="grid" data-testid="codes">
            <thead><tr><th>"Class"</th><th>"Code"</th><th>"Status"</th><th>"Count"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcomes;

    fn point(minute_s: i64, attempts: i64) -> MinutePoint {
        MinutePoint {
            minute_s,
            totals: Totals {
                outcomes: Outcomes {
                    attempts,
                    ..Outcomes::default()
                },
                ..Totals::default()
            },
        }
    }

    #[test]
    fn every_minute_of_the_window_is_drawn_and_the_silent_ones_are_zero() {
        // A point before the window (a clock step) and one inside it.
        let sent = [point(0, 7), point(180, 2), point(300, 5)];

        let drawn = every_minute(&sent, 120, 4);

        let minutes: Vec<i64> = drawn.iter().map(|p| p.minute_s).collect();
        assert_eq!(minutes, [120, 180, 240, 300]);
        let attempts: Vec<i64> = drawn.iter().map(|p| p.totals.outcomes.attempts).collect();
        assert_eq!(attempts, [0, 2, 0, 5]);
        assert_eq!(every_minute(&[], 0, 1440).len(), 1440);
    }
}
