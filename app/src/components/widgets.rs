//! Small building blocks: loading a server call, ids with copy buttons, status badges,
//! bodies, pagers, errors.
use leptos::prelude::*;

use crate::model::ConsoleError;

/// A failed load or action, in words.
#[component]
pub fn ErrorBox(error: ConsoleError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}

/// A server call's result as every page shows it: "Loading…" until the first answer,
/// then `show` of its value, or the error in words. While a new answer is on its way
/// (the filters changed), the last one stays on screen.
#[component]
pub fn Loaded<T, Ser, Show, V>(
    load: Resource<Result<T, ConsoleError>, Ser>,
    show: Show,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    Ser: Send + Sync + 'static,
    Show: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=Loading>
            {move || {
                let show = show.clone();
                Suspend::new(async move {
                    match load.await {
                        Ok(value) => show(value).into_any(),
                        Err(error) => view! { <ErrorBox error/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// What an empty table says instead of nothing.
#[component]
pub fn Empty(#[prop(into)] text: String) -> impl IntoView {
    view! { <p class="empty">{text}</p> }
}

/// A shown-while-loading line.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading">"Loading…"</p> }
}

/// An id in a monospaced font with a button that copies it.
#[component]
pub fn CopyId(#[prop(into)] text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let value = text.clone();
    let copy = move |_| {
        copy_to_clipboard(&value);
        copied.set(true);
    };
    view! {
        <span class="id">
            <code>{text}</code>
            <button type="button" class="copy" title="Copy" on:click=copy>
                {move || if copied.get() { "copied" } else { "copy" }}
            </button>
        </span>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    let clipboard = window().navigator().clipboard();
    drop(clipboard.write_text(text));
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}

/// A link to a transaction's trace page, showing the id.
#[component]
pub fn TxLink(#[prop(into)] id: String) -> impl IntoView {
    let href = format!("/tx/{}", encode(&id));
    view! { <a class="mono" href=href>{id}</a> }
}

/// A coloured label for a state, outcome, status or severity; the colour follows the word.
#[component]
pub fn Badge(#[prop(into)] text: String) -> impl IntoView {
    let class = format!("badge badge-{}", badge_tone(&text));
    view! { <span class=class>{text}</span> }
}

/// One palette for every status word in the console.
pub fn badge_tone(text: &str) -> &'static str {
    match text {
        "FIRST" | "COMMITTED" | "SETTLED" | "ACTIVE" | "RESOLVED" | "VALID" | "CLOSED" | "OK" => {
            "good"
        }
        "REPLAY" | "ACKNOWLEDGED" | "INFO" | "OPEN_ROUND" | "NONE" => "info",
        "DECLINED" | "ROLLED_BACK" | "WARNING" | "OPEN" | "STALE" | "TOMBSTONE" => "warn",
        "CONFLICT" | "REJECTED" | "ERROR" | "CRITICAL" | "BLOCKED" | "INVALID" => "bad",
        _ => "plain",
    }
}

/// A request or response body, folded by default.
#[component]
pub fn Body(#[prop(into)] label: String, #[prop(into)] text: String) -> impl IntoView {
    view! {
        <details class="body">
            <summary>{label}</summary>
            <pre>{text}</pre>
        </details>
    }
}

/// Previous/next links for a zero-based page; `href` builds the URL of a page.
#[component]
pub fn Pager(
    page: u64,
    page_size: u64,
    total: u64,
    href: impl Fn(u64) -> String + Send + Sync + 'static,
) -> impl IntoView {
    let pages = total.div_ceil(page_size.max(1)).max(1);
    let previous = (page > 0).then(|| href(page - 1));
    let next = (page + 1 < pages).then(|| href(page + 1));
    view! {
        <nav class="pager" aria-label="pages">
            {previous.map(|href| view! { <a href=href rel="prev">"← Newer"</a> })}
            <span>{format!("page {} of {pages} · {total} in all", page + 1)}</span>
            {next.map(|href| view! { <a href=href rel="next">"Older →"</a> })}
        </nav>
    }
}

/// Percent-encodes a value for a URL path segment or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A query string from pairs, leaving out empty values.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Seconds as "3 h 20 min", for ages.
pub fn age_text(seconds: i64) -> String {
    let minutes = seconds / 60;
    match minutes {
        m if m < 1 => format!("{seconds} s"),
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), (m / 60) % 24),
    }
}

/// An RFC 3339 time to the second, in UTC; [`Time`](super::clock::Time) follows the
/// top bar's time-zone switch instead.
pub fn time_text(rfc3339: &str) -> String {
    super::clock::time_text(rfc3339, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_ids_readable_and_escapes_the_rest() {
        assert_eq!(encode("tx-1_a.b~"), "tx-1_a.b~");
        assert_eq!(encode("a/b c?&"), "a%2Fb%20c%3F%26");
        assert_eq!(
            query_string(&[("q", "p 1".to_owned()), ("page", String::new())]),
            "?q=p%201"
        );
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age_text(42), "42 s");
        assert_eq!(age_text(31 * 60), "31 min");
        assert_eq!(age_text(3 * 3600 + 20 * 60), "3 h 20 min");
        assert_eq!(age_text(3 * 86400 + 7200), "3 d 2 h");
    }
}
