//! Charts drawn as inline SVG by the app itself: no chart library, no external script.
use leptos::prelude::*;

/// One stacked segment of a bar: its height and its CSS class (which sets the colour).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub value: i64,
    pub class: &'static str,
}

/// One bar: a label for its tooltip and its segments, bottom first.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub segments: Vec<Segment>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 160.0;
const AXIS: f64 = 28.0;

/// Stacked bars over time, with the largest value marked on the axis.
#[component]
pub fn BarChart(
    #[prop(into)] title: String,
    bars: Vec<Bar>,
    /// Names and CSS classes of the segments, for the legend.
    legend: Vec<(&'static str, &'static str)>,
) -> impl IntoView {
    let peak = bars
        .iter()
        .map(|bar| bar.segments.iter().map(|s| s.value).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = (WIDTH - AXIS) / bars.len().max(1) as f64;
    let bar_width = (slot * 0.8).max(1.0);
    let first_label = bars
        .first()
        .map(|bar| bar.label.clone())
        .unwrap_or_default();
    let last_label = bars.last().map(|bar| bar.label.clone()).unwrap_or_default();
    let rects = bars
        .into_iter()
        .enumerate()
        .map(|(index, bar)| {
            let x = AXIS + index as f64 * slot;
            let total: i64 = bar.segments.iter().map(|s| s.value).sum();
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
            view! {
                <g>
                    <title>{format!("{}: {total}", bar.label)}</title>
                    {pieces}
                </g>
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
            <svg
                viewBox=format!("0 0 {WIDTH} {}", HEIGHT + 16.0)
                role="img"
                aria-label=title
                preserveAspectRatio="none"
            >
                <line class="axis" x1=AXIS y1=HEIGHT x2=WIDTH y2=HEIGHT />
                <text class="tick" x="0" y="12">{peak}</text>
                <text class="tick" x="0" y=HEIGHT>"0"</text>
                {rects}
                <text class="tick" x=AXIS y=HEIGHT + 14.0>{first_label}</text>
                <text class="tick end" x=WIDTH y=HEIGHT + 14.0>{last_label}</text>
            </svg>
            <div class="legend">{legend}</div>
        </figure>
    }
}
