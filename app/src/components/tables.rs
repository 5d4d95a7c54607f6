//! Tables more than one page shows.
use leptos::prelude::*;

use super::clock::{Time, ZoneName};
use super::widgets::{Badge, Body, TxLink};
use crate::model::{AuditRow, TransactionRow};

/// Transactions in a compact table, each linking to its own trace.
#[component]
pub fn Transactions(rows: Vec<TransactionRow>) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|row| {
            view! {
                <tr>
                    <td class="mono"><Time at=row.created_at.clone()/></td>
                    <td>{row.provider_id}</td>
                    <td><TxLink id=row.transaction_id/></td>
                    <td>{row.op}</td>
                    <td class="mono">{row.player_id}</td>
                    <td class="mono">{row.round_id.unwrap_or_default()}</td>
                    <td class="num">{row.amount.unwrap_or_default()}</td>
                    <td><Badge text=row.state/></td>
                    <td class="mono">{row.error_code.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr><th>"Created (" <ZoneName/> ")"</th><th>"Provider"</th><th>"Transaction"</th><th>"Op"</th>
            <th>"Player"</th><th>"Round"</th><th class="num">"Amount"</th><th>"State"</th><th>"Code"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// Staff actions in a table.
#[component]
pub fn AuditTable(rows: Vec<AuditRow>) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|row| {
            view! {
                <tr>
                    <td class="mono"><Time at=row.at.clone()/></td>
                    <td>{row.actor}</td>
                    <td class="mono">{row.action}</td>
                    <td class="mono">{format!("{} {}", row.subject_type, row.subject_id)}</td>
                    <td>{row.reason}</td>
                    <td><Body label="details" text=row.details/></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="audit-table">
            <thead><tr><th>"At (" <ZoneName/> ")"</th><th>"Who"</th><th>"Action"</th><th>"Subject"</th><th>"Reason"</th><th>"Details"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
