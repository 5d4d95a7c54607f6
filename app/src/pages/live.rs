//! Attempts as they arrive, from every server process: the page polls the attempt log
//! every second for what came after the newest row it has, and keeps the last rows.
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::Form;

use super::{every, query_param};
use crate::api::get_feed;
use crate::components::clock::{Time, ZoneName};
use crate::components::widgets::{Badge, ErrorBox, Loading, TxLink};
use crate::model::{AttemptRow, FeedFilter};

/// The page keeps this many rows; older ones are a search away.
const MAX_ROWS: usize = 200;
const OUTCOMES: [&str; 6] = [
    "FIRST", "REPLAY", "CONFLICT", "DECLINED", "REJECTED", "ERROR",
];

#[derive(Clone, Copy)]
struct LiveState {
    rows: RwSignal<Vec<AttemptRow>>,
    cursor: RwSignal<Option<i64>>,
    paused: RwSignal<bool>,
    polling: RwSignal<bool>,
    seeded: RwSignal<bool>,
}

#[component]
pub fn LivePage() -> impl IntoView {
    let filter = Memo::new({
        let (provider, endpoint, outcome, player) = (
            query_param("provider"),
            query_param("endpoint"),
            query_param("outcome"),
            query_param("player"),
        );
        move |_| FeedFilter {
            provider_id: provider.get(),
            endpoint: endpoint.get(),
            outcome: outcome.get(),
            player_id: player.get(),
        }
    });
    let state = LiveState {
        rows: RwSignal::new(Vec::new()),
        cursor: RwSignal::new(None),
        paused: RwSignal::new(false),
        polling: RwSignal::new(false),
        seeded: RwSignal::new(false),
    };
    let first_page = Resource::new(move || filter.get(), |filter| get_feed(None, filter));
    every(1, move || poll(state, filter.get_untracked()));
    view! {
        <h1>"Live trace"</h1>
        <LiveFilters filter=filter.get_untracked() paused=state.paused/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match first_page.await {
                    Ok(page) => {
                        state.rows.set(page.rows);
                        state.cursor.set(page.cursor);
                        state.seeded.set(true);
                        view! { <LiveTable rows=state.rows/> }.into_any()
                    }
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Asks for what came after the newest row, unless paused or a poll is still running.
fn poll(state: LiveState, filter: FeedFilter) {
    if state.paused.get_untracked()
        || state.polling.get_untracked()
        || !state.seeded.get_untracked()
    {
        return;
    }
    state.polling.set(true);
    let after = state.cursor.get_untracked();
    spawn_local(async move {
        if let Ok(page) = get_feed(after, filter).await {
            if !page.rows.is_empty() {
                state.rows.update(|rows| {
                    let mut fresh = page.rows;
                    fresh.append(rows);
                    fresh.truncate(MAX_ROWS);
                    *rows = fresh;
                });
            }
            if page.cursor.is_some() {
                state.cursor.set(page.cursor);
            }
        }
        state.polling.set(false);
    });
}

#[component]
fn LiveFilters(filter: FeedFilter, paused: RwSignal<bool>) -> impl IntoView {
    let outcomes = OUTCOMES
        .into_iter()
        .map(|outcome| {
            let selected = filter.outcome == outcome;
            view! { <option value=outcome selected=selected>{outcome}</option> }
        })
        .collect_view();
    view! {
        <div class="toolbar">
            <Form method="GET" action="/live" attr:class="filters">
                <label>"Provider " <input name="provider" value=filter.provider_id size="12"/></label>
                <label>"Endpoint " <input name="endpoint" value=filter.endpoint placeholder="/wallet/v1/bet" size="16"/></label>
                <label>
                    "Outcome "
                    <select name="outcome">
                        <option value="">"Any"</option>
                        {outcomes}
                    </select>
                </label>
                <label>"Player " <input name="player" value=filter.player_id size="12"/></label>
                <button type="submit">"Filter"</button>
            </Form>
            <button
                type="button"
                data-testid="pause"
                aria-pressed=move || paused.get().to_string()
                on:click=move |_| paused.update(|p| *p = !*p)
            >
                {move || if paused.get() { "Resume" } else { "Pause" }}
            </button>
            <span class="muted" data-testid="live-status">
                {move || if paused.get() { "paused" } else { "live · polling every second" }}
            </span>
        </div>
    }
}

#[component]
fn LiveTable(rows: RwSignal<Vec<AttemptRow>>) -> impl IntoView {
    view! {
        <table class="grid" data-testid="live-table">
            <thead>
                <tr>
                    <th>"Received (" <ZoneName/> ")"</th><th>"Provider"</th><th>"Endpoint"</th>
                    <th>"Transaction"</th><th>"Outcome"</th><th>"Status"</th>
                    <th>"Code"</th><th>"Signature"</th><th class="num">"ms"</th><th>"Request id"</th>
                </tr>
            </thead>
            <tbody>
                <For each=move || rows.get() key=|row| row.id let:row>
                    <AttemptLine row/>
                </For>
            </tbody>
        </table>
        <Show when=move || rows.with(Vec::is_empty)>
            <p class="empty">"No attempts yet. They appear here as they arrive."</p>
        </Show>
    }
}

/// One attempt; the transaction id (or the request id) links to the trace page.
#[component]
pub fn AttemptLine(row: AttemptRow) -> impl IntoView {
    let transaction = match row.transaction_id.clone() {
        Some(id) => view! { <TxLink id/> }.into_any(),
        None => view! { <span class="muted">"–"</span> }.into_any(),
    };
    view! {
        <tr data-attempt-id=row.id>
            <td class="mono"><Time at=row.received_at.clone()/></td>
            <td>{row.provider_id.clone().unwrap_or_default()}</td>
            <td class="mono">
                {row.endpoint.clone()}
                <div class="muted" data-testid="protocol">{row.protocol.clone()}</div>
            </td>
            <td>{transaction}</td>
            <td><Badge text=row.outcome.clone()/></td>
            <td class="num">{row.http_status}</td>
            <td class="mono">{row.error_code.clone().unwrap_or_default()}</td>
            <td><Badge text=row.signature.clone()/></td>
            <td class="num">{row.latency_ms}</td>
            <td><TxLink id=row.request_id.clone()/></td>
        </tr>
    }
}
