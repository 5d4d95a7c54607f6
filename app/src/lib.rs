//! The oncewallet web UI: Leptos components, rendered on the server and hydrated in the
//! browser. Today it is a landing page; the operator dashboard grows here.
pub mod model;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Meta, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// The HTML document the server renders around the app.
///
/// `HydrationScripts` loads `/pkg/<output_name>.js` and `.wasm`; when those files are
/// missing the page still renders, it just never becomes interactive.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // No favicon yet; this stops the browser asking for /favicon.ico.
                <link rel="icon" href="data:,"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component. The router is here from the start so that the server's route
/// list (`leptos_axum::generate_route_list`) follows the pages as they are added.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so `data-hydrated` turns "true" once the WASM
    // has taken over the server's HTML: browser tests wait for it before clicking.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Stylesheet id="leptos" href="/pkg/oncewallet.css"/>
        <Title text="oncewallet"/>
        <Meta name="description" content=DESCRIPTION/>
        <Router>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=NotFound>
                    <Route path=path!("") view=Landing/>
                </Routes>
            </main>
        </Router>
    }
}

const DESCRIPTION: &str = "A seamless casino wallet: game providers debit and credit player \
     balances over a signed HTTP API, and every transaction is applied exactly once.";

#[component]
fn Landing() -> impl IntoView {
    view! {
        <h1>"oncewallet"</h1>
        <p class="lede">{DESCRIPTION}</p>
        // `rel="external"` makes the client-side router leave these to the browser:
        // they are served by axum, not by Leptos.
        <nav>
            <ul>
                <li><a href="/api-docs" rel="external">"API documentation"</a></li>
                <li><a href="/healthz" rel="external">"Health check"</a></li>
            </ul>
        </nav>
        <HydrationProbe/>
    }
}

/// A counter that only moves once the WASM bundle has hydrated the page: the
/// browser tests click it to prove the server-rendered HTML came alive.
#[component]
fn HydrationProbe() -> impl IntoView {
    let (clicks, set_clicks) = signal(0u32);
    view! {
        <section class="probe">
            <button
                id="counter"
                data-testid="counter"
                type="button"
                on:click=move |_| set_clicks.update(|n| *n += 1)
            >
                "Clicks: " <span data-testid="count">{clicks}</span>
            </button>
        </section>
    }
}

/// Only reachable for paths the server routes to Leptos but no `Route` matches.
#[component]
fn NotFound() -> impl IntoView {
    view! {
        <h1>"Not found"</h1>
        <p><a href="/">"Back to the start"</a></p>
    }
}
