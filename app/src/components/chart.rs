//! Charts drawn as inline SVG by the app itself: no chart library, no external script.
//!
//! One bar per bucket of the window, zeros included (the server fills the gaps,
//! `server/src/dashboard/overview.rs`), so a stop in traffic shows as a gap. Every bar
//! has a full-height hover area whose `<title>` gives its time and values, and the time
//! ticks are HTML under the SVG, so the stretched drawing never distorts their text.
use leptos::prelude::*;

use super::clock::{minute_text, use_clock};

/// One stacked segment of a bar: its height and its CSS class (which sets the colour).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub value: i64,
    pub class: &'static str,
}

/// One bar: when its bucket starts, what its tooltip says after the time, and its
/// segments, bottom first.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub at_s: i64,
    pub detail: String,
    pub segments: Vec<Segment>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 160.0;
/// Tick spacings people read easily, in minutes.
const TICK_STEPS_MIN: [i64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720];
const MAX_TICKS: i64 = 6;

/// Stacked bars over time, with the largest value marked and labelled time ticks.
#[component]
pub fn BarChart(
    #[prop(into)] title: String,
    bars: Vec<Bar>,
    /// Minutes each bar covers.
    bucket_minutes: i64,
    /// Names and CSS classes of the segments, for the legend.
    legend: Vec<(&'static str, &'static str)>,
) -> impl IntoView {
    let clock = use_clock();
    let peak = bars
        .iter()
        .map(|bar| bar.segments.iter().map(|s| s.value).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let count = bars.len().max(1);
    let slot = WIDTH / count as f64;
    let bar_width = (slot * 0.8).max(1.0);
    let ticks = ticks(&bars, bucket_minutes);
    let drawn = bars
        .into_iter()
        .enumerate()
        .map(|(index, bar)| {
            let x = index as f64 * slot;
            let mut top = HEIGHT;
            let pieces = bar
                .segments
                .into_iter()
                .filter(|segment| segment.value > 0)
                .map(|segment| {
                    let height = segment.value as f64 / peak as f64 * (HEIGHT - 8.0);
                    top -= height;
                    view! {
                        <rect
                            class=segment.class
                            x=format!("{x:.1}")
                            y=format!("{top:.1}")
                            width=format!("{bar_width:.1}")
                            height=format!("{height:.1}")
                        />
                    }
                })
                .collect_view();
            let (at_s, detail) = (bar.at_s, bar.detail);
            let tooltip = move || {
                let zone = if clock.is_local() { "local" } else { "UTC" };
                format!("{} {zone} · {detail}", minute_text(at_s, clock.is_local()))
            };
            view! {
                <g class="bar" data-at=at_s>
                    <title>{tooltip}</title>
                    <rect class="hit" x=format!("{x:.1}") y="0" width=format!("{slot:.1}") height=HEIGHT/>
                    {pieces}
                </g>
            }
        })
        .collect_view();
    let tick_labels = ticks
        .into_iter()
        .map(|(at_s, percent)| {
            view! {
                <span class="tick-label" style=format!("left: {percent:.2}%")>
                    {move || minute_text(at_s, clock.is_local())}
                </span>
            }
        })
        .collect_view();
    let legend = legend
        .into_iter()
        .map(|(name, class)| {
            view! {
                <span class="legend-item">
                    <span class=format!("swatch {class}")></span>
                    {name}
                </span>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            <div class="plot">
                <span class="peak" title="the largest bar">{peak}</span>
                <svg
                    viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                    role="img"
                    aria-label=title
                    preserveAspectRatio="none"
                >
                    <line class="axis" x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT />
                    {drawn}
                </svg>
                <div class="ticks" data-testid="chart-ticks">{tick_labels}</div>
            </div>
            <div class="legend">{legend}</div>
        </figure>
    }
}

/// The time ticks: every multiple of the smallest readable step that keeps at most
/// [`MAX_TICKS`], each with where it falls in percent of the width (a bar's middle when
/// bars are minutes). Bucket starts need not be round: the window ends at the current
/// minute.
fn ticks(bars: &[Bar], bucket_minutes: i64) -> Vec<(i64, f64)> {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Vec::new();
    };
    let bucket_s = bucket_minutes.max(1) * 60;
    let (start_s, end_s) = (first.at_s, last.at_s + bucket_s);
    let span_s = (end_s - start_s).max(1);
    let step_s = 60
        * TICK_STEPS_MIN
            .into_iter()
            .find(|step| span_s / (step * 60) <= MAX_TICKS)
            .unwrap_or(24 * 60);
    // The first multiple of the step at or after the start.
    let first_tick_s = (start_s + step_s - 1).div_euclid(step_s) * step_s;
    (0..)
        .map(|n| first_tick_s + n * step_s)
        .take_while(|tick_s| *tick_s < end_s)
        .map(|tick_s| {
            let middle = tick_s - start_s + bucket_s * 2 / 5;
            (tick_s, middle as f64 / span_s as f64 * 100.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(count: i64, bucket_minutes: i64) -> Vec<Bar> {
        // From 10:03 UTC on 2026-12-05.
        let start = 1_796_464_980;
        (0..count)
            .map(|index| Bar {
                at_s: start + index * bucket_minutes * 60,
                detail: String::new(),
                segments: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn ticks_fall_on_round_times_and_stay_few() {
        let bars = minutes(15, 1);
        let quarter = ticks(&bars, 1);
        let labels: Vec<String> = quarter
            .iter()
            .map(|(at, _)| minute_text(*at, false))
            .collect();
        assert_eq!(labels, ["10:05", "10:10", "10:15"]);
        let hour = minutes(60, 1);
        assert_eq!(ticks(&hour, 1).len(), 6);
        let day = minutes(96, 15);
        let day_ticks: Vec<String> = ticks(&day, 15)
            .iter()
            .map(|(at, _)| minute_text(*at, false))
            .collect();
        assert_eq!(
            day_ticks,
            ["12:00", "16:00", "20:00", "00:00", "04:00", "08:00"]
        );
    }
}
