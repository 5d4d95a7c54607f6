//! One box for a transaction id, request id, player id or round id, with a CSV export.
use leptos::prelude::*;
use leptos_router::components::Form;

use super::{page_param, query_param};
use crate::api::search_transactions;
use crate::components::tables::Transactions;
use crate::components::widgets::{encode, query_string, Empty, Loaded, Pager};
use crate::model::SearchResults;

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = query_param("q");
    let page = page_param();
    let results = Resource::new(
        move || (query.get(), page.get()),
        |(query, page)| search_transactions(query, page),
    );
    view! {
        <h1>"Search"</h1>
        <Form method="GET" action="/search" attr:class="filters">
            <input
                type="search"
                name="q"
                value=move || query.get()
                placeholder="transaction id, request id, player id or round id"
                size="48"
                aria-label="search"
                autofocus
            />
            <button type="submit">"Search"</button>
        </Form>
        <Loaded load=results show=|results: SearchResults| {
            if results.query.is_empty() {
                return view! { <Empty text="Type an id: every kind is matched exactly."/> }.into_any();
            }
            if results.rows.is_empty() {
                return view! { <Empty text=format!("Nothing matches {:?}.", results.query)/> }.into_any();
            }
            let export = format!("/console/export.csv?q={}", encode(&results.query));
            let q = results.query.clone();
            view! {
                <p class="toolbar">
                    <a class="button" href=export rel="external" download data-testid="export">"Export CSV"</a>
                    <span class="muted">" up to 100,000 rows, newest first"</span>
                </p>
                <Transactions rows=results.rows/>
                <Pager page=results.page page_size=results.page_size total=results.total
                    href=move |page| format!("/search{}", query_string(&[("q", q.clone()), ("page", page.to_string())]))/>
            }.into_any()
        }/>
    }
}
