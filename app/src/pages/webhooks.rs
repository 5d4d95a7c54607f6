//! Webhooks (admins): the subscriptions that receive the wallet's events (docs/EVENTS.md),
//! with what each has been delivered, what is pending and how old, and its dead events;
//! add or replace a subscription, pause or resume one, redeliver a dead event.
use leptos::prelude::*;

use crate::api::{list_webhooks, PauseWebhook, RedeliverEvent, ResumeWebhook, SaveWebhook};
use crate::components::clock::{Time, ZoneName};
use crate::components::widgets::{age_text, Badge, Empty, ErrorBox, Loaded};
use crate::model::{DeadEventRow, WebhookList, WebhookRow};

#[derive(Clone, Copy)]
struct Actions {
    save: ServerAction<SaveWebhook>,
    pause: ServerAction<PauseWebhook>,
    resume: ServerAction<ResumeWebhook>,
    redeliver: ServerAction<RedeliverEvent>,
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let actions = Actions {
        save: ServerAction::new(),
        pause: ServerAction::new(),
        resume: ServerAction::new(),
        redeliver: ServerAction::new(),
    };
    let (refreshed, refresh) = signal(0_u32);
    let webhooks = Resource::new(
        move || {
            (
                actions.save.version().get(),
                actions.pause.version().get(),
                actions.resume.version().get(),
                actions.redeliver.version().get(),
                refreshed.get(),
            )
        },
        |_| list_webhooks(),
    );
    // Delivery moves by itself: the counts follow without a reload.
    super::every(5, move || refresh.update(|n| *n += 1));
    let errors = move || {
        [
            actions.save.value().get(),
            actions.pause.value().get(),
            actions.resume.value().get(),
            actions.redeliver.value().get(),
        ]
        .into_iter()
        .flatten()
        .filter_map(Result::err)
        .map(|error| view! { <ErrorBox error/> })
        .collect_view()
    };
    view! {
        <h1>"Webhooks"</h1>
        <p class="muted">
            "Each subscription receives the events it names (money.moved, finding.opened, \
             finding.resolved, or * for all), signed with its secret, retried until its receiver \
             answers 2xx. A player's events arrive in order; an event refused for the whole retry \
             period is dead and waits here to be redelivered."
        </p>
        {errors}
        <Loaded load=webhooks show=move |list: WebhookList| {
            if list.rows.is_empty() {
                return view! { <Empty text="No subscriptions yet."/> }.into_any();
            }
            view! { <WebhookTable rows=list.rows actions/> }.into_any()
        }/>
        <section class="panel">
            <h2>"Add or replace a subscription"</h2>
            <ActionForm action=actions.save attr:class="filters" attr:data-testid="add-webhook">
                <label>"Webhook id " <input name="webhook_id" required autocomplete="off"/></label>
                <label>"URL " <input name="url" type="url" required autocomplete="off" placeholder="https://…"/></label>
                <label>"Secret " <input name="secret" type="password" required minlength="32" autocomplete="new-password"/></label>
                <label>"Types " <input name="types" value="*" required autocomplete="off"/></label>
                <button type="submit">"Save subscription"</button>
            </ActionForm>
            <p class="muted">
                "The secret (32 characters or more) is the receiver's HMAC key; it is never shown \
                 again. A new subscription receives the events committed from now on."
            </p>
        </section>
    }
}

#[component]
fn WebhookTable(rows: Vec<WebhookRow>, actions: Actions) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|hook| {
            let id = hook.webhook_id.clone();
            let toggle_id = id.clone();
            let toggle = if hook.enabled {
                view! {
                    <ActionForm action=actions.pause attr:class="inline">
                        <input type="hidden" name="webhook_id" value=toggle_id/>
                        <button type="submit">"Pause"</button>
                    </ActionForm>
                }
                .into_any()
            } else {
                view! {
                    <ActionForm action=actions.resume attr:class="inline">
                        <input type="hidden" name="webhook_id" value=toggle_id/>
                        <button type="submit">"Resume"</button>
                    </ActionForm>
                }
                .into_any()
            };
            let state = if hook.enabled { "ACTIVE" } else { "PAUSED" };
            let oldest = if hook.pending > 0 {
                age_text(hook.oldest_pending_age_seconds as i64)
            } else {
                "–".to_owned()
            };
            let dead = dead_events(&id, hook.dead_events, actions);
            let marker = id.clone();
            view! {
                <tr data-webhook=marker>
                    <td class="mono">{id}</td>
                    <td class="mono">{hook.url}</td>
                    <td class="mono">{hook.types.join(", ")}</td>
                    <td><Badge text=state/>" "{toggle}</td>
                    <td class="mono"><Time at=hook.created_at/></td>
                    <td class="num" data-testid="delivered">{hook.delivered}</td>
                    <td class="num" data-testid="pending">{hook.pending}</td>
                    <td class="num">{oldest}</td>
                    <td class="num" data-testid="dead">{hook.dead}</td>
                </tr>
                {dead}
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="webhooks">
            <thead><tr>
                <th>"Webhook"</th><th>"URL"</th><th>"Types"</th><th>"State"</th>
                <th>"Added (" <ZoneName/> ")"</th><th class="num">"Delivered"</th>
                <th class="num">"Pending"</th><th class="num">"Oldest pending"</th>
                <th class="num">"Dead"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The subscription's dead events, in a row under it, each with its redeliver button.
fn dead_events(webhook_id: &str, events: Vec<DeadEventRow>, actions: Actions) -> AnyView {
    if events.is_empty() {
        return ().into_any();
    }
    let items = events
        .into_iter()
        .map(|event| {
            let (hook, event_id) = (webhook_id.to_owned(), event.event_id.clone());
            let marker = event.event_id.clone();
            view! {
                <li data-event=marker>
                    <code class="mono">{event.event_id}</code>" "
                    {event.event_type}" "
                    <span class="mono">{event.player_id.unwrap_or_default()}</span>
                    ", " {event.attempts} " tries, last: "
                    <span class="muted">{event.last_error.unwrap_or_default()}</span>" "
                    <ActionForm action=actions.redeliver attr:class="inline">
                        <input type="hidden" name="webhook_id" value=hook/>
                        <input type="hidden" name="event_id" value=event_id/>
                        <button type="submit">"Redeliver"</button>
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    let marker = webhook_id.to_owned();
    view! {
        <tr data-dead-for=marker>
            <td colspan="9">
                <p>"Dead events, oldest first:"</p>
                <ul class="keys" data-testid="dead-events">{items}</ul>
            </td>
        </tr>
    }
    .into_any()
}
