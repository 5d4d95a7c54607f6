//! Providers (operators and admins): every provider with its keys, when each was added and
//! last used, and its requests of the last 24 hours; add a provider or a key (the secret is
//! shown once, here) and retire a key once its successor is in use.
use leptos::prelude::*;

use crate::api::{list_providers, AddKey, AddProvider, RetireKey};
use crate::components::clock::{Time, ZoneName};
use crate::components::layout::CodeBox;
use crate::components::widgets::{Empty, ErrorBox, Loaded};
use crate::model::{NewKey, ProviderList, ProviderRow};

#[derive(Clone, Copy)]
struct Actions {
    add_provider: ServerAction<AddProvider>,
    add_key: ServerAction<AddKey>,
    retire: ServerAction<RetireKey>,
}

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let actions = Actions {
        add_provider: ServerAction::new(),
        add_key: ServerAction::new(),
        retire: ServerAction::new(),
    };
    let providers = Resource::new(
        move || {
            (
                actions.add_provider.version().get(),
                actions.add_key.version().get(),
                actions.retire.version().get(),
            )
        },
        |_| list_providers(),
    );
    let errors = move || {
        [
            actions.add_provider.value().get().map(|r| r.map(drop)),
            actions.add_key.value().get().map(|r| r.map(drop)),
            actions.retire.value().get(),
        ]
        .into_iter()
        .flatten()
        .filter_map(Result::err)
        .map(|error| view! { <ErrorBox error/> })
        .collect_view()
    };
    // The secret of a key just made: shown once, never stored in the page or sent again.
    let secret = move || {
        let made = actions
            .add_key
            .value()
            .get()
            .and_then(Result::ok)
            .or_else(|| actions.add_provider.value().get().and_then(Result::ok));
        made.map(|key: NewKey| {
            view! {
                <div class="notice" role="status" data-testid="new-secret">
                    <p>"New key for " <code class="mono">{key.provider_id}</code>
                        ", shown once: give it to the provider now."</p>
                    <p>"Key id " <code class="mono" data-testid="new-key-id">{key.key_id}</code></p>
                    <p>"Secret " <code class="mono" data-testid="new-key-secret">{key.secret}</code></p>
                </div>
            }
        })
    };
    view! {
        <h1>"Providers"</h1>
        <p class="muted">
            "Each provider signs its requests with one of its keys. To rotate: add a key, let the \
             provider move to it, and retire the old key once its last use stops moving."
        </p>
        <CodeBox/>
        {errors}
        {secret}
        <Loaded load=providers show=move |list: ProviderList| {
            if list.rows.is_empty() {
                return view! { <Empty text="No providers yet."/> }.into_any();
            }
            view! { <ProviderTable rows=list.rows actions/> }.into_any()
        }/>
        <section class="panel">
            <h2>"New provider"</h2>
            <ActionForm action=actions.add_provider attr:class="filters" attr:data-testid="add-provider">
                <label>"Provider id " <input name="provider_id" required autocomplete="off"/></label>
                <label>"Name " <input name="name" required autocomplete="off"/></label>
                <button type="submit">"Add provider"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn ProviderTable(rows: Vec<ProviderRow>, actions: Actions) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|provider| {
            let id = provider.provider_id.clone();
            let keys = provider
                .keys
                .into_iter()
                .map(|key| {
                    let (provider_id, key_id) = (id.clone(), key.key_id.clone());
                    let marker = key.key_id.clone();
                    view! {
                        <li data-key=marker>
                            <code class="mono">{key.key_id}</code>
                            " added " <Time at=key.created_at/>
                            ", last used "
                            {match key.last_used_at {
                                Some(at) => view! { <Time at/> }.into_any(),
                                None => view! { <span class="muted">"never"</span> }.into_any(),
                            }}
                            " "
                            <ActionForm action=actions.retire attr:class="inline">
                                <input type="hidden" name="provider_id" value=provider_id/>
                                <input type="hidden" name="key_id" value=key_id/>
                                <button type="submit">"Retire"</button>
                            </ActionForm>
                        </li>
                    }
                })
                .collect_view();
            let (marker, shown) = (id.clone(), id.clone());
            view! {
                <tr data-provider=marker>
                    <td class="mono">{shown}<br/><span class="muted">{provider.name}</span></td>
                    <td class="mono"><Time at=provider.created_at/></td>
                    <td>
                        <ul class="keys">{keys}</ul>
                        <ActionForm action=actions.add_key attr:class="inline">
                            <input type="hidden" name="provider_id" value=id/>
                            <button type="submit">"Add key"</button>
                        </ActionForm>
                    </td>
                    <td class="num">{provider.first}</td>
                    <td class="num">{provider.replays}</td>
                    <td class="num">{provider.declined}</td>
                    <td class="num">{provider.failed}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="providers">
            <thead><tr>
                <th>"Provider"</th><th>"Added (" <ZoneName/> ")"</th><th>"Keys"</th>
                <th class="num">"First (24 h)"</th><th class="num">"Duplicates"</th>
                <th class="num">"Declined / conflict"</th><th class="num">"Rejected / error"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
