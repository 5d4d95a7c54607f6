//! The console's frame: the top bar with navigation, the quick search (`/` focuses it),
//! the time-zone switch and the signed-in user; the page's `<title>`; and the role gate
//! that hides what a role cannot use (the server refuses it anyway).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_location, use_query_map};

use super::clock::ClockSwitch;
use crate::api::{current_viewer, get_database_full};
use crate::model::{ConsoleError, Role, Viewer};

/// The signed-in user, loaded once per page load and shared through the context.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<Option<Viewer>, ConsoleError>>);

pub fn provide_viewer() {
    provide_context(ViewerResource(Resource::new(|| (), |_| current_viewer())));
}

fn viewer_resource() -> Resource<Result<Option<Viewer>, ConsoleError>> {
    expect_context::<ViewerResource>().0
}

const LINKS: [(&str, &str, Role); 11] = [
    ("/", "Overview", Role::Support),
    ("/live", "Live trace", Role::Support),
    ("/search", "Search", Role::Support),
    ("/pending", "Pending rollbacks", Role::Support),
    ("/reconciliation", "Reconciliation", Role::Support),
    ("/players", "Players", Role::Support),
    ("/providers", "Providers", Role::Operator),
    ("/approvals", "Approvals", Role::Operator),
    ("/audit", "Audit log", Role::Support),
    ("/users", "Users", Role::Admin),
    ("/webhooks", "Webhooks", Role::Admin),
];

/// The id of the quick search box, which `/` focuses.
const QUICK_SEARCH_ID: &str = "quick-search";

/// The top bar. On the login page, only the name.
#[component]
pub fn TopBar() -> impl IntoView {
    let location = use_location();
    let viewer = viewer_resource();
    focus_search_on_slash();
    view! {
        <PageTitle/>
        <header class="topbar">
            <a class="brand" href="/">"oncewallet"</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let viewer = viewer.await.ok().flatten();
                    viewer.map(|viewer| view! { <Nav viewer path=location.pathname/> })
                })}
            </Suspense>
        </header>
        <DatabaseFullBanner/>
    }
}

/// While the database cannot grow, every page says so first: money operations are being
/// refused, which is what an operator must know before anything else on the page.
#[component]
fn DatabaseFullBanner() -> impl IntoView {
    let viewer = viewer_resource();
    let full = Resource::new(|| (), |_| get_database_full());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                viewer.await.ok().flatten()?;
                let full = full.await.ok().flatten()?;
                Some(view! {
                    <div class="banner banner-critical" role="alert" data-testid="database-full">
                        <strong>"The database is full."</strong>
                        " Since " <time datetime=full.since.clone()>{full.since.clone()}</time>
                        ", money operations are refused with 503 TEMPORARY_UNAVAILABLE (providers retry them); replays, balances and lookups still answer. Free disk space or raise WALLET_SQLITE_MAX_SIZE_MB: the wallet recovers by itself. ("
                        {full.error}
                        ")"
                    </div>
                })
            })}
        </Suspense>
    }
}

#[component]
fn Nav(viewer: Viewer, path: Memo<String>) -> impl IntoView {
    let links = LINKS
        .into_iter()
        .filter(|(_, _, needed)| viewer.role.allows(*needed))
        .map(|(href, name, _)| {
            let current = move || {
                let path = path.get();
                let here = if href == "/" {
                    path == "/"
                } else {
                    path.starts_with(href)
                };
                here.then_some("page")
            };
            view! { <a href=href aria-current=current>{name}</a> }
        })
        .collect_view();
    view! {
        <nav class="mainnav" aria-label="console">{links}</nav>
        <Form method="GET" action="/search" attr:class="quick-search" attr:role="search">
            <input
                type="search"
                name="q"
                id=QUICK_SEARCH_ID
                placeholder="Find an id  ( / )"
                aria-label="Find a transaction, request, player or round id"
                aria-keyshortcuts="/"
            />
        </Form>
        <ClockSwitch/>
        <div class="whoami">
            <a href="/account" data-testid="whoami" title="Your account">{viewer.username.clone()}</a>
            <span class="role">{viewer.role.as_str()}</span>
            <form method="post" action="/auth/logout">
                <button type="submit" class="link">"Sign out"</button>
            </form>
        </div>
    }
}

/// The document's `<title>`: what the page shows, then the product, e.g.
/// `Trace tx-123 · oncewallet`. Read from the URL so that every page, whoever wrote it,
/// gets one without repeating it.
#[component]
fn PageTitle() -> impl IntoView {
    let location = use_location();
    let query = use_query_map();
    let text = move || {
        let q = query.read().get("q").unwrap_or_default();
        format!(
            "{} · oncewallet",
            page_name(&location.pathname.get(), q.trim())
        )
    };
    view! { <Title text=text/> }
}

/// What the page at `path` shows; `q` is the search box's text, when any.
pub fn page_name(path: &str, q: &str) -> String {
    let decoded = |text: &str| decode(text);
    if let Some(id) = path.strip_prefix("/tx/") {
        return format!("Trace {}", decoded(id));
    }
    if let Some(id) = path.strip_prefix("/players/") {
        return format!("Player {}", decoded(id));
    }
    match path.trim_end_matches('/') {
        "" => "Overview".to_owned(),
        "/login" => "Sign in".to_owned(),
        "/account" => "Your account".to_owned(),
        "/search" if !q.is_empty() => format!("Search {q}"),
        other => LINKS
            .iter()
            .find(|(href, _, _)| *href == other)
            .map(|(_, name, _)| (*name).to_owned())
            .unwrap_or_else(|| "Console".to_owned()),
    }
}

/// Undoes the percent-encoding of a path segment (ids are ASCII; anything else is left
/// as it came).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// In the browser, `/` anywhere but in a text field focuses the quick search box.
fn focus_search_on_slash() {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        use leptos::wasm_bindgen::JsCast;
        let handle = window_event_listener(leptos::ev::keydown, |event| {
            if event.key() != "/" || event.ctrl_key() || event.meta_key() || event.alt_key() {
                return;
            }
            let typing = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlElement>().ok())
                .is_some_and(|element| {
                    matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                        || element.is_content_editable()
                });
            if typing {
                return;
            }
            let input = document()
                .get_element_by_id(QUICK_SEARCH_ID)
                .and_then(|element| element.dyn_into::<web_sys::HtmlInputElement>().ok());
            if let Some(input) = input {
                event.prevent_default();
                drop(input.focus());
                input.select();
            }
        });
        on_cleanup(move || handle.remove());
    });
}

/// Shows its children only to roles that include `role`.
#[component]
pub fn IfRole(role: Role, children: ChildrenFn) -> impl IntoView {
    let viewer = viewer_resource();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let allowed = matches!(viewer.await, Ok(Some(v)) if v.role.allows(role));
                allowed.then(|| children.with_value(|children| children()))
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_a_title_that_names_what_it_shows() {
        assert_eq!(page_name("/", ""), "Overview");
        assert_eq!(page_name("/tx/tx-123", ""), "Trace tx-123");
        assert_eq!(page_name("/tx/a%2Fb", ""), "Trace a/b");
        assert_eq!(page_name("/players", ""), "Players");
        assert_eq!(page_name("/players/p-1", ""), "Player p-1");
        assert_eq!(page_name("/search", "p-1"), "Search p-1");
        assert_eq!(page_name("/search", ""), "Search");
        assert_eq!(page_name("/pending", ""), "Pending rollbacks");
        assert_eq!(page_name("/login", ""), "Sign in");
        assert_eq!(page_name("/somewhere", ""), "Console");
    }
}

/// On pages with sensitive actions (a refund, an approval, a role change, a user reset):
/// a box for a fresh code from the authenticator app, for users with a second factor.
/// The server asks for one when the last is more than ten minutes old. A plain form post
/// to `/auth/confirm-code`, which comes back here with `?code=ok|wrong|locked`.
#[component]
pub fn CodeBox() -> impl IntoView {
    let viewer = viewer_resource();
    let location = use_location();
    let query = use_query_map();
    let outcome = move || {
        match query.read().get("code").unwrap_or_default().as_str() {
        "ok" => Some(view! { <span class="ok" role="status">"Code confirmed for ten minutes."</span> }.into_any()),
        "wrong" => Some(view! { <span class="error" role="alert">"That code is not right, or was already used."</span> }.into_any()),
        "locked" => Some(view! { <span class="error" role="alert">"Too many wrong codes. Wait a few minutes."</span> }.into_any()),
        _ => None,
    }
    };
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let enrolled = viewer
                    .get()
                    .and_then(|v| v.ok().flatten())
                    .is_some_and(|v| v.mfa_enrolled);
                enrolled.then(|| view! {
                    <form method="post" action="/auth/confirm-code" class="filters code-box" data-testid="code-box">
                        <input type="hidden" name="next" value=move || location.pathname.get()/>
                        <label>"Code for refunds, approvals and user changes "
                            <input name="code" required autocomplete="one-time-code" size="10"/>
                        </label>
                        <button type="submit">"Confirm"</button>
                        {outcome}
                    </form>
                })
            }}
        </Suspense>
    }
}
