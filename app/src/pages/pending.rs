//! Findings that need a person: orphan debits to refund, tombstones whose bet never came,
//! stale rounds and rollback hint mismatches, oldest and biggest first.
use leptos::prelude::*;

use super::page_param;
use crate::api::{get_pending, AcknowledgeFinding, RefundOrphan};
use crate::components::layout::{CodeBox, IfRole};
use crate::components::widgets::{age_text, Badge, Empty, ErrorBox, Loaded, Pager, TxLink};
use crate::model::{FindingStatus, PendingPage, PendingRow, Role, PENDING_ROLLBACK};

#[component]
pub fn PendingPage() -> impl IntoView {
    let page = page_param();
    let refund = ServerAction::<RefundOrphan>::new();
    let acknowledge = ServerAction::<AcknowledgeFinding>::new();
    let rows = Resource::new(
        move || {
            (
                page.get(),
                refund.version().get(),
                acknowledge.version().get(),
            )
        },
        |(page, _, _)| get_pending(page),
    );
    let outcome = move || {
        let refunded = refund.value().get().map(|result| match result {
            Ok(message) => view! { <p class="ok" role="status">{message}</p> }.into_any(),
            Err(error) => view! { <ErrorBox error/> }.into_any(),
        });
        let acknowledged = acknowledge.value().get().map(|result| match result {
            Ok(()) => view! { <p class="ok" role="status">"Acknowledged."</p> }.into_any(),
            Err(error) => view! { <ErrorBox error/> }.into_any(),
        });
        view! { {refunded} {acknowledged} }
    };
    view! {
        <h1>"Pending rollbacks"</h1>
        <p class="muted">
            "Bets still open past the orphan threshold, rollbacks whose bet never came, rounds open \
             too long and rollbacks whose amount hint differed. A refund reverses the bet once, \
             through the same exactly-once path as a provider's rollback."
        </p>
        {outcome}
        <CodeBox/>
        <p class="toolbar">
            <a class="button" href="/console/pending.csv" rel="external" download data-testid="export-pending">"Export all (CSV)"</a>
            <span class="muted">" amounts in decimal and minor units"</span>
        </p>
        <Loaded load=rows show=move |page: PendingPage| {
            if page.rows.is_empty() {
                return view! { <Empty text="Nothing pending. The reconciliation job looks every few minutes."/> }.into_any();
            }
            view! {
                <table class="grid" data-testid="pending-table">
                    <thead><tr>
                        <th>"Kind"</th><th>"Age"</th><th>"Player"</th><th>"Bet"</th>
                        <th class="num">"Amount"</th><th>"Status"</th><th>"Details"</th><th>"Action"</th>
                    </tr></thead>
                    <tbody>
                        {page.rows.into_iter().map(|row| view! { <PendingLine row refund acknowledge/> }).collect_view()}
                    </tbody>
                </table>
                <Pager page=page.page page_size=page.page_size total=page.total href=|page| format!("/pending?page={page}")/>
            }.into_any()
        }/>
    }
}

#[component]
fn PendingLine(
    row: PendingRow,
    refund: ServerAction<RefundOrphan>,
    acknowledge: ServerAction<AcknowledgeFinding>,
) -> impl IntoView {
    let finding = row.finding.clone();
    let can_refund = finding.kind == PENDING_ROLLBACK
        && row.bet.is_some()
        && finding.status != FindingStatus::Resolved;
    let bet = row
        .bet
        .clone()
        .map(|bet| view! { <TxLink id=bet.transaction_id/> });
    let id = finding.id;
    let is_open = finding.status == FindingStatus::Open;
    view! {
        <tr data-finding-id=id>
            <td><Badge text=finding.kind.clone()/></td>
            <td>{age_text(row.age_seconds)}</td>
            <td class="mono">{row.player_id.clone().unwrap_or_default()}</td>
            <td>{bet}</td>
            <td class="num">{row.amount.clone().unwrap_or_default()}</td>
            <td><Badge text=finding.status.as_str()/></td>
            <td class="details">{finding.details.clone()}</td>
            <td class="actions">
                <IfRole role=Role::Operator>
                    {can_refund.then(|| view! {
                        <ActionForm action=refund attr:class="inline" attr:data-testid="refund-form">
                            <input type="hidden" name="finding_id" value=id/>
                            <input name="reason" required placeholder="reason" aria-label="refund reason"/>
                            <label class="confirm"><input type="checkbox" name="confirmed" value="yes" required/>" confirmed with provider"</label>
                            <button type="submit" class="danger">"Refund"</button>
                        </ActionForm>
                    })}
                    {is_open.then(|| view! {
                        <ActionForm action=acknowledge attr:class="inline">
                            <input type="hidden" name="finding_id" value=id/>
                            <input name="note" placeholder="note" aria-label="note"/>
                            <button type="submit">"Acknowledge"</button>
                        </ActionForm>
                    })}
                </IfRole>
            </td>
        </tr>
    }
}
