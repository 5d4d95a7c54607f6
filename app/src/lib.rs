//! The oncewallet operator console: Leptos pages rendered on the server and hydrated in
//! the browser, reading and acting through the server functions in [`api`].
// The findings table nests deep enough for the view types to pass the default of 128.
#![recursion_limit = "256"]
pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod components;
pub mod model;
pub mod pages;
pub mod security;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Meta, MetaTags};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use components::clock::provide_clock;
use components::layout::{provide_viewer, TopBar};
use pages::{
    account::AccountPage, approvals::ApprovalsPage, audit::AuditPage, live::LivePage,
    login::LoginPage, overview::OverviewPage, pending::PendingPage, players::PlayerPage,
    players::PlayersPage, providers::ProvidersPage, reconciliation::ReconciliationPage,
    search::SearchPage, trace::TracePage, users::UsersPage, webhooks::WebhooksPage,
};

/// The HTML document the server renders around the app.
///
/// `HydrationScripts` loads `/pkg/<output_name>.js` and `.wasm`, and the stylesheet is
/// `/pkg/<output_name>.css`; the server sets `output_name` to the current bundle's
/// content-hashed stem (`server/src/site.rs`). When those files are missing the page
/// still renders, it just never becomes interactive.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    security::set_page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // No favicon yet; this stops the browser asking for /favicon.ico.
                <link rel="icon" href="data:,"/>
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

const DESCRIPTION: &str = "oncewallet's operator console: live traces, duplicate requests, \
     pending rollbacks, reconciliation and dispute tracing for a seamless casino wallet.";

/// The root component: the top bar and one route per console page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_viewer();
    provide_clock();
    // Effects run only in the browser, so `data-hydrated` turns "true" once the WASM
    // has taken over the server's HTML: browser tests wait for it before clicking.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Meta name="description" content=DESCRIPTION/>
        <Router>
            <TopBar/>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=NotFound>
                    <Route path=path!("") view=OverviewPage/>
                    <Route path=path!("/login") view=LoginPage/>
                    <Route path=path!("/live") view=LivePage/>
                    <Route path=path!("/tx/:id") view=TracePage/>
                    <Route path=path!("/search") view=SearchPage/>
                    <Route path=path!("/pending") view=PendingPage/>
                    <Route path=path!("/reconciliation") view=ReconciliationPage/>
                    <Route path=path!("/players") view=PlayersPage/>
                    <Route path=path!("/players/:id") view=PlayerPage/>
                    <Route path=path!("/providers") view=ProvidersPage/>
                    <Route path=path!("/approvals") view=ApprovalsPage/>
                    <Route path=path!("/audit") view=AuditPage/>
                    <Route path=path!("/users") view=UsersPage/>
                    <Route path=path!("/webhooks") view=WebhooksPage/>
                    <Route path=path!("/account") view=AccountPage/>
                </Routes>
            </main>
            <footer class="footer">
                // `rel="external"`: served by axum, not by the Leptos router.
                <a href="/api-docs" rel="external">"API documentation"</a>
                <a href="/metrics" rel="external">"Metrics"</a>
                <a href="/healthz" rel="external">"Health"</a>
            </footer>
        </Router>
    }
}

/// Only reachable for paths the server routes to Leptos but no `Route` matches.
#[component]
fn NotFound() -> impl IntoView {
    view! {
        <h1>"Not found"</h1>
        <p><a href="/">"Back to the overview"</a></p>
    }
}
