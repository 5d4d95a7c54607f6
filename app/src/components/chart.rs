//! Charts drawn as inline SVG by the app itself: no chart library, no external script.
//!
//! One bar per minute of the window, zeros included (the page fills the minutes the
//! server sent none for, `app/src/pages/overview.rs`), so a stop in traffic shows as a
//! gap. Up to [`DENSE_ABOVE`] bars, each is its own group with a full-height hover area
//! whose `<title>` gives its time and values. A day has 1,440: each colour is then one
//! `<path>`, and the minute under the pointer is read out below the chart, which keeps
//! the page a few elements instead of ten thousand. The time ticks are HTML under the
//! SVG, so the stretched drawing never distorts their text.
use leptos::prelude::*;

use super::clock::{minute_text, use_clock};

/// One stacked segment of a bar: its height and its CSS class (which sets the colour).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub value: i64,
    pub class: &'static str,
}

/// One bar: the minute it covers, what its tooltip says after the time, and its
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
/// Above this many bars (an hour's worth and then some), a chart draws one path per
/// colour instead of one group per bar.
pub const DENSE_ABOVE: usize = 120;

/// Stacked bars over time, one per minute, with the largest value marked and labelled
/// time ticks.
#[component]
pub fn BarChart(
    #[prop(into)] title: String,
    bars: Vec<Bar>,
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
    let count = bars.len();
    let ticks = ticks(&bars);
    let tooltip = move |at_s: i64, detail: &str| {
        let zone = if clock.is_local() { "local" } else { "UTC" };
        format!("{} {zone} · {detail}", minute_text(at_s, clock.is_local()))
    };
    let (drawn, readout) = if count > DENSE_ABOVE {
        dense(bars, peak, tooltip)
    } else {
        (sparse(bars, peak, tooltip).into_any(), None)
    };
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
                    data-bars=count
                >
                    <line class="axis" x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT />
                    {drawn}
                </svg>
                <div class="ticks" data-testid="chart-ticks">{tick_labels}</div>
            </div>
            {readout}
            <div class="legend">{legend}</div>
        </figure>
    }
}

/// Where each bar's segments fall: `(index, class, top, height)` in drawing units,
/// bottom segment first.
fn stacked(bars: &[Bar], peak: i64) -> impl Iterator<Item = (usize, &'static str, f64, f64)> + '_ {
    bars.iter().enumerate().flat_map(move |(index, bar)| {
        let mut top = HEIGHT;
        bar.segments
            .iter()
            .filter(|segment| segment.value > 0)
            .map(move |segment| {
                let height = segment.value as f64 / peak as f64 * (HEIGHT - 8.0);
                top -= height;
                (index, segment.class, top, height)
            })
            .collect::<Vec<_>>()
    })
}

/// One group per bar, each with its own hover area and `<title>`.
fn sparse(
    bars: Vec<Bar>,
    peak: i64,
    tooltip: impl Fn(i64, &str) -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let slot = WIDTH / bars.len().max(1) as f64;
    let bar_width = (slot * 0.8).max(1.0);
    let mut pieces: Vec<Vec<_>> = vec![Vec::new(); bars.len()];
    for (index, class, top, height) in stacked(&bars, peak) {
        pieces[index].push(view! {
            <rect
                class=class
                x=format!("{:.1}", index as f64 * slot)
                y=format!("{top:.1}")
                width=format!("{bar_width:.1}")
                height=format!("{height:.1}")
            />
        });
    }
    bars.into_iter()
        .zip(pieces)
        .enumerate()
        .map(|(index, (bar, pieces))| {
            let x = index as f64 * slot;
            let (at_s, detail) = (bar.at_s, bar.detail);
            view! {
                <g class="bar" data-at=at_s>
                    <title>{move || tooltip(at_s, &detail)}</title>
                    <rect class="hit" x=format!("{x:.1}") y="0" width=format!("{slot:.1}") height=HEIGHT/>
                    {pieces}
                </g>
            }
        })
        .collect_view()
}

/// One `<path>` per colour, a transparent area that follows the pointer, and the
/// read-out line that names the minute under it.
fn dense(
    bars: Vec<Bar>,
    peak: i64,
    tooltip: impl Fn(i64, &str) -> String + Copy + Send + Sync + 'static,
) -> (AnyView, Option<AnyView>) {
    let count = bars.len();
    let slot = WIDTH / count as f64;
    let mut paths: Vec<(&'static str, String)> = Vec::new();
    for (index, class, top, height) in stacked(&bars, peak) {
        let d = match paths.iter_mut().find(|(known, _)| *known == class) {
            Some((_, d)) => d,
            None => {
                paths.push((class, String::new()));
                &mut paths.last_mut().expect("just pushed").1
            }
        };
        let x = index as f64 * slot;
        d.push_str(&format!(
            "M{x:.2} {top:.2}h{slot:.2}v{height:.2}h-{slot:.2}z"
        ));
    }
    let minutes = StoredValue::new(
        bars.into_iter()
            .map(|bar| {
                let total: i64 = bar.segments.iter().map(|segment| segment.value).sum();
                (bar.at_s, bar.detail, total)
            })
            .collect::<Vec<_>>(),
    );
    let hovered = RwSignal::new(None::<usize>);
    let follow = move |event: leptos::ev::MouseEvent| {
        if let Some((x, width)) = pointer_on_area(&event) {
            let per_pixel = count as f64 / width;
            let index = minutes.with_value(|minutes| {
                tallest_under(minutes, (x - 0.5) * per_pixel, (x + 0.5) * per_pixel)
            });
            hovered.set(index);
        }
    };
    let cursor = move || {
        hovered.get().map(|index| {
            view! {
                <rect class="cursor" x=format!("{:.2}", index as f64 * slot) y="0" width=format!("{:.2}", slot.max(2.0)) height=HEIGHT/>
            }
        })
    };
    let drawn = view! {
        {paths
            .into_iter()
            .map(|(class, d)| view! { <path class=class d=d/> })
            .collect_view()}
        {cursor}
        <rect
            class="hit"
            x="0"
            y="0"
            width=WIDTH
            height=HEIGHT
            on:mousemove=follow
            on:mouseleave=move |_| hovered.set(None)
        />
    }
    .into_any();
    let readout = view! {
        <p class="readout" data-testid="chart-readout">
            {move || match hovered.get() {
                Some(index) => minutes.with_value(|minutes| {
                    minutes
                        .get(index)
                        .map(|(at_s, detail, _)| tooltip(*at_s, detail))
                        .unwrap_or_default()
                }),
                None => "Point at the chart to read a minute.".to_owned(),
            }}
        </p>
    }
    .into_any();
    (drawn, Some(readout))
}

/// Where the pointer is across the hover area, and the area's width, in CSS pixels.
/// Only the browser has a pointer.
fn pointer_on_area(event: &leptos::ev::MouseEvent) -> Option<(f64, f64)> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        // Leptos delegates events to the document, so the current target is not the
        // area; the area lies on top of the drawing, so it is the target.
        let area = event.target()?.dyn_into::<web_sys::Element>().ok()?;
        let rect = area.get_bounding_client_rect();
        (rect.width() > 0.0).then(|| (f64::from(event.client_x()) - rect.left(), rect.width()))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = event;
        None
    }
}

/// The bar the pointer shows when it covers the bars from `from` to `to` (fractional
/// indexes: a day has two or three minutes to a pixel). The tallest of them, since that is
/// the one the eye sees there; the first when all are equal. `None` outside the chart.
fn tallest_under(bars: &[(i64, String, i64)], from: f64, to: f64) -> Option<usize> {
    let last = bars.len().checked_sub(1)? as f64;
    let first = from.floor().clamp(0.0, last) as usize;
    let end = to.ceil().clamp(1.0, last + 1.0) as usize;
    (first..end.max(first + 1))
        .rev()
        .max_by_key(|&index| bars[index].2)
}

/// The time ticks: every multiple of the smallest readable step that keeps at most
/// [`MAX_TICKS`], each with where it falls in percent of the width (near its bar's
/// middle). The window ends at the current minute, so its start need not be round.
fn ticks(bars: &[Bar]) -> Vec<(i64, f64)> {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Vec::new();
    };
    let bucket_s = 60;
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

    fn minutes(count: i64) -> Vec<Bar> {
        // From 10:03 UTC on 2026-12-05.
        let start = 1_796_464_980;
        (0..count)
            .map(|index| Bar {
                at_s: start + index * 60,
                detail: String::new(),
                segments: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn the_pointer_shows_the_tallest_bar_under_its_pixel() {
        let bars: Vec<(i64, String, i64)> = [0, 0, 3, 0, 5, 5, 0]
            .into_iter()
            .enumerate()
            .map(|(index, total)| (index as i64 * 60, String::new(), total))
            .collect();

        assert_eq!(
            tallest_under(&bars, 0.2, 1.9),
            Some(0),
            "all silent: the first"
        );
        assert_eq!(tallest_under(&bars, 1.5, 3.5), Some(2));
        assert_eq!(tallest_under(&bars, 3.0, 6.0), Some(4), "a tie: the first");
        assert_eq!(
            tallest_under(&bars, 6.5, 7.5),
            Some(6),
            "the last minute is reachable"
        );
        assert_eq!(tallest_under(&bars, -3.0, -0.5), Some(0));
        assert_eq!(tallest_under(&[], 0.0, 1.0), None);
    }

    #[test]
    fn ticks_fall_on_round_times_and_stay_few() {
        let bars = minutes(15);
        let quarter = ticks(&bars);
        let labels: Vec<String> = quarter
            .iter()
            .map(|(at, _)| minute_text(*at, false))
            .collect();
        assert_eq!(labels, ["10:05", "10:10", "10:15"]);
        let hour = minutes(60);
        assert_eq!(ticks(&hour).len(), 6);
        let day = minutes(24 * 60);
        let day_ticks: Vec<String> = ticks(&day)
            .iter()
            .map(|(at, _)| minute_text(*at, false))
            .collect();
        assert_eq!(
            day_ticks,
            ["12:00", "16:00", "20:00", "00:00", "04:00", "08:00"]
        );
    }
}
