//! Players: find one, see the balance, status and history, block or unblock.
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_params_map;

use super::{page_param, query_param};
use crate::api::{get_player, list_players, SetPlayerBlocked};
use crate::components::clock::{Time, ZoneName};
use crate::components::layout::IfRole;
use crate::components::tables::Transactions;
use crate::components::widgets::{
    encode, query_string, Badge, CopyId, Empty, ErrorBox, Loaded, Pager,
};
use crate::model::{PlayerDetail, PlayerList, PlayerStatus, Role};

#[component]
pub fn PlayersPage() -> impl IntoView {
    let query = query_param("q");
    let page = page_param();
    let players = Resource::new(
        move || (query.get(), page.get()),
        |(query, page)| list_players(query, page),
    );
    view! {
        <h1>"Players"</h1>
        <Form method="GET" action="/players" attr:class="filters">
            <input type="search" name="q" value=move || query.get() placeholder="player id starts with…" aria-label="player id"/>
            <button type="submit">"Find"</button>
        </Form>
        <Loaded load=players show=|list: PlayerList| {
            if list.rows.is_empty() {
                return view! { <Empty text="No players match."/> }.into_any();
            }
            let q = list.query.clone();
            let rows = list.rows.into_iter().map(|player| view! {
                <tr>
                    <td><a class="mono" href=format!("/players/{}", encode(&player.id))>{player.id.clone()}</a></td>
                    <td class="num">{player.balance}</td>
                    <td><Badge text=player.status.as_str()/></td>
                    <td class="mono"><Time at=player.updated_at.clone()/></td>
                </tr>
            }).collect_view();
            view! {
                <table class="grid" data-testid="players">
                    <thead><tr><th>"Player"</th><th class="num">"Balance"</th><th>"Status"</th><th>"Last change (" <ZoneName/> ")"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                <Pager page=list.page page_size=list.page_size total=list.total
                    href=move |page| format!("/players{}", query_string(&[("q", q.clone()), ("page", page.to_string())]))/>
            }.into_any()
        }/>
    }
}

#[component]
pub fn PlayerPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let page = page_param();
    let block = ServerAction::<SetPlayerBlocked>::new();
    let detail = Resource::new(
        move || (id.get(), page.get(), block.version().get()),
        |(id, page, _)| get_player(id, page),
    );
    view! {
        {move || block.value().get().and_then(Result::err).map(|error| view! {
            <ErrorBox error/>
        })}
        <Loaded load=detail show=move |detail| view! { <PlayerBody detail block/> }/>
    }
}

#[component]
fn BlockForm(
    player_id: String,
    blocked: bool,
    block: ServerAction<SetPlayerBlocked>,
) -> impl IntoView {
    view! {
        <ActionForm action=block attr:class="inline" attr:data-testid="block-form">
            <input type="hidden" name="player_id" value=player_id/>
            <input type="hidden" name="blocked" value=(!blocked).to_string()/>
            <input name="reason" required placeholder="reason" aria-label="reason"/>
            <button type="submit" class=if blocked { "" } else { "danger" }>
                {if blocked { "Unblock" } else { "Block" }}
            </button>
        </ActionForm>
    }
}

#[component]
fn PlayerBody(detail: PlayerDetail, block: ServerAction<SetPlayerBlocked>) -> impl IntoView {
    let player = detail.player.clone();
    let blocked = player.status == PlayerStatus::Blocked;
    let player_id = player.id.clone();
    let href_id = player.id.clone();
    view! {
        <h1>"Player " <CopyId text=player.id.clone()/></h1>
        <dl class="facts">
            <dt>"Balance"</dt><dd data-testid="balance">{player.balance.clone()}</dd>
            <dt>"Status"</dt><dd><Badge text=player.status.as_str()/></dd>
            <dt>"Currency"</dt><dd>{player.currency.clone()}</dd>
            <dt>"Since"</dt><dd class="mono"><Time at=player.created_at.clone()/></dd>
        </dl>
        <IfRole role=Role::Operator>
            <BlockForm player_id=player_id.clone() blocked block/>
        </IfRole>
        <h2>"History"</h2>
        {if detail.history.is_empty() {
            view! { <Empty text="No transactions yet."/> }.into_any()
        } else {
            view! {
                <Transactions rows=detail.history/>
                <Pager page=detail.page page_size=detail.page_size total=detail.total
                    href=move |page| format!("/players/{}?page={page}", encode(&href_id))/>
            }.into_any()
        }}
    }
}
