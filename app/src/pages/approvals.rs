//! Four eyes (operators and admins): refunds above their currency's threshold and role
//! changes wait here until someone other than the requester approves or rejects them.
use leptos::prelude::*;

use crate::api::{list_approvals, ApproveRequest, RejectRequest};
use crate::components::clock::{Time, ZoneName};
use crate::components::layout::CodeBox;
use crate::components::widgets::{Badge, Empty, ErrorBox, Loaded};
use crate::model::{ApprovalQueue, ApprovalRow};

#[derive(Clone, Copy)]
struct Actions {
    approve: ServerAction<ApproveRequest>,
    reject: ServerAction<RejectRequest>,
}

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let actions = Actions {
        approve: ServerAction::new(),
        reject: ServerAction::new(),
    };
    let queue = Resource::new(
        move || {
            (
                actions.approve.version().get(),
                actions.reject.version().get(),
            )
        },
        |_| list_approvals(),
    );
    let outcome = move || {
        let approved = actions.approve.value().get().map(|result| match result {
            Ok(message) => {
                view! { <p class="ok" role="status" data-testid="approval-outcome">{message}</p> }
                    .into_any()
            }
            Err(error) => view! { <ErrorBox error/> }.into_any(),
        });
        let rejected = actions.reject.value().get().map(|result| match result {
            Ok(()) => view! { <p class="ok" role="status">"Rejected."</p> }.into_any(),
            Err(error) => view! { <ErrorBox error/> }.into_any(),
        });
        view! { {approved} {rejected} }
    };
    view! {
        <h1>"Approvals"</h1>
        <p class="muted">
            "Refunds above their currency's approval threshold and every role change wait here \
             until someone other than the person who asked approves or rejects them. An approval \
             makes the change once, however many times it is clicked."
        </p>
        {outcome}
        <CodeBox/>
        <Loaded load=queue show=move |queue: ApprovalQueue| view! {
            <section class="panel">
                <h2>"Waiting"</h2>
                <ApprovalTable rows=queue.open actions open=true/>
            </section>
            <section class="panel">
                <h2>"Recently decided"</h2>
                <ApprovalTable rows=queue.decided actions open=false/>
            </section>
        }/>
    }
}

#[component]
fn ApprovalTable(rows: Vec<ApprovalRow>, actions: Actions, open: bool) -> impl IntoView {
    if rows.is_empty() {
        let text = if open {
            "Nothing waits for approval."
        } else {
            "Nothing decided yet."
        };
        return view! { <Empty text=text/> }.into_any();
    }
    let rows = rows
        .into_iter()
        .map(|request| {
            let id = request.id;
            let decision = if open {
                view! {
                    <ActionForm action=actions.approve attr:class="inline">
                        <input type="hidden" name="request_id" value=id/>
                        <button type="submit">"Approve"</button>
                    </ActionForm>
                    <ActionForm action=actions.reject attr:class="inline">
                        <input type="hidden" name="request_id" value=id/>
                        <input name="note" placeholder="why (optional)" aria-label="Why reject"/>
                        <button type="submit">"Reject"</button>
                    </ActionForm>
                }
                .into_any()
            } else {
                view! {
                    <span class="mono">{request.decided_by.clone().unwrap_or_default()}</span>
                    " "
                    {request.decided_at.clone().map(|at| view! { <Time at/> })}
                    <br/>
                    <span>{request.outcome.clone().unwrap_or_default()}</span>
                }
                .into_any()
            };
            view! {
                <tr data-request=id>
                    <td class="mono">{id}</td>
                    <td><Badge text=request.kind/></td>
                    <td>{request.summary}<br/><span class="muted">{request.reason.unwrap_or_default()}</span></td>
                    <td class="mono">{request.requested_by}<br/><Time at=request.requested_at/></td>
                    <td><Badge text=request.status/></td>
                    <td>{decision}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid=if open { "approvals-open" } else { "approvals-decided" }>
            <thead><tr>
                <th>"#"</th><th>"Kind"</th><th>"What"</th><th>"Asked by (" <ZoneName/> ")"</th>
                <th>"Status"</th><th>{if open { "Decision" } else { "Decided" }}</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
