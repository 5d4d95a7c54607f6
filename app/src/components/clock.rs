//! Times as the console shows them: UTC, as the server renders them, or the browser's
//! local time once the user flips the switch in the top bar. The choice is kept in
//! `localStorage` and applied after hydration, so the server's HTML and the first
//! client render agree (both UTC) and the page then switches in place.
use leptos::prelude::*;

/// Where the choice is kept in the browser.
#[cfg(feature = "hydrate")]
const STORAGE_KEY: &str = "oncewallet.times";

/// The zone times are shown in, shared through the context.
#[derive(Clone, Copy)]
pub struct Clock {
    local: RwSignal<bool>,
}

impl Clock {
    pub fn is_local(self) -> bool {
        self.local.get()
    }
}

/// Provides the clock and, in the browser, restores the remembered choice.
pub fn provide_clock() {
    let clock = Clock {
        local: RwSignal::new(false),
    };
    provide_context(clock);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| {
        if stored_choice_is_local() {
            clock.local.set(true);
        }
    });
}

/// The clock from the context; UTC when none was provided.
pub fn use_clock() -> Clock {
    use_context::<Clock>().unwrap_or(Clock {
        local: RwSignal::new(false),
    })
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` in the chosen zone.
#[component]
pub fn Time(#[prop(into)] at: String) -> impl IntoView {
    let clock = use_clock();
    let shown = at.clone();
    view! { <time datetime=at>{move || time_text(&shown, clock.is_local())}</time> }
}

/// The chosen zone's name, for column headings: "UTC" or "local".
#[component]
pub fn ZoneName() -> impl IntoView {
    let clock = use_clock();
    move || if clock.is_local() { "local" } else { "UTC" }
}

/// The top bar's switch between UTC and the browser's local time.
#[component]
pub fn ClockSwitch() -> impl IntoView {
    let clock = use_clock();
    let flip = move |_| {
        let local = !clock.local.get_untracked();
        clock.local.set(local);
        remember(local);
    };
    let label = move || {
        if clock.is_local() {
            format!("Times: local ({})", local_zone_name())
        } else {
            "Times: UTC".to_owned()
        }
    };
    view! {
        <button
            type="button"
            class="clock"
            data-testid="time-zone"
            aria-pressed=move || clock.is_local().to_string()
            title="Show times in UTC or in this browser's time zone"
            on:click=flip
        >
            {label}
        </button>
    }
}

/// `HH:MM` of a minute (seconds since the epoch) in the chosen zone, for charts.
pub fn minute_text(at_s: i64, local: bool) -> String {
    let text = if local {
        local_text(at_s as f64 * 1000.0)
    } else {
        None
    };
    text.unwrap_or_else(|| utc_text(at_s))
        .get(11..16)
        .unwrap_or_default()
        .to_owned()
}

/// An RFC 3339 time to the second, in the chosen zone.
pub fn time_text(rfc3339: &str, local: bool) -> String {
    if local {
        if let Some(text) = parse_ms(rfc3339).and_then(local_text) {
            return text;
        }
    }
    rfc3339
        .get(..19)
        .map(|text| text.replace('T', " "))
        .unwrap_or_else(|| rfc3339.to_owned())
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, computed without a date library (civil-from-days, as in
/// Howard Hinnant's date algorithms).
fn utc_text(at_s: i64) -> String {
    let days = at_s.div_euclid(86_400);
    let seconds = at_s.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(feature = "hydrate")]
fn parse_ms(rfc3339: &str) -> Option<f64> {
    let ms = web_sys::js_sys::Date::parse(rfc3339);
    (!ms.is_nan()).then_some(ms)
}

#[cfg(not(feature = "hydrate"))]
fn parse_ms(_rfc3339: &str) -> Option<f64> {
    None
}

/// The browser's local rendering of a time; `None` on the server, which has no browser
/// zone and renders UTC.
#[cfg(feature = "hydrate")]
fn local_text(epoch_ms: f64) -> Option<String> {
    let date = web_sys::js_sys::Date::new(&epoch_ms.into());
    if date.get_time().is_nan() {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    ))
}

#[cfg(not(feature = "hydrate"))]
fn local_text(_epoch_ms: f64) -> Option<String> {
    None
}

/// The browser's offset now, as `UTC+05:30`.
#[cfg(feature = "hydrate")]
fn local_zone_name() -> String {
    let offset = -(web_sys::js_sys::Date::new_0().get_timezone_offset() as i64);
    let sign = if offset < 0 { '-' } else { '+' };
    format!("UTC{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)
}

#[cfg(not(feature = "hydrate"))]
fn local_zone_name() -> String {
    "UTC".to_owned()
}

#[cfg(feature = "hydrate")]
fn stored_choice_is_local() -> bool {
    let storage = window().local_storage().ok().flatten();
    storage
        .and_then(|storage| storage.get_item(STORAGE_KEY).ok().flatten())
        .is_some_and(|value| value == "local")
}

#[cfg(not(feature = "hydrate"))]
fn stored_choice_is_local() -> bool {
    false
}

/// Keeps the choice for the next visit; a browser that refuses storage just forgets it.
#[cfg(feature = "hydrate")]
fn remember(local: bool) {
    if let Ok(Some(storage)) = window().local_storage() {
        drop(storage.set_item(STORAGE_KEY, if local { "local" } else { "utc" }));
    }
}

#[cfg(not(feature = "hydrate"))]
fn remember(_local: bool) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_read_to_the_second() {
        assert_eq!(
            time_text("2026-12-05T13:21:40.123Z", false),
            "2026-12-05 13:21:40"
        );
        assert_eq!(time_text("not a time", false), "not a time");
    }

    #[test]
    fn minutes_since_the_epoch_read_as_utc_clock_times() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00");
        // 2026-12-05T13:21:00Z
        assert_eq!(utc_text(1_796_476_860), "2026-12-05 13:21:00");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(minute_text(1_796_476_860, false), "13:21");
    }
}
