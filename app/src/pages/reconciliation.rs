//! Reconciliation runs and their findings: filter, acknowledge, resolve with a note, run
//! now, and upload a provider statement as CSV.
use leptos::prelude::*;
use leptos_router::components::Form;

use super::query_param;
use crate::api::{get_reconciliation, AcknowledgeFinding, ResolveFinding, RunReconciliationNow};
use crate::components::clock::{Time, ZoneName};
use crate::components::finding::FindingDetails;
use crate::components::layout::IfRole;
use crate::components::widgets::{query_string, Badge, Empty, ErrorBox, Loaded};
use crate::model::{
    DiscrepancyRow, FindingFilter, FindingStatus, FindingSubject, Reconciliation, Role, RunRow,
};

#[component]
pub fn ReconciliationPage() -> impl IntoView {
    let (kind, status, before) = (
        query_param("kind"),
        query_param("status"),
        query_param("before"),
    );
    let report = query_param("report");
    let upload_error = query_param("upload_error");
    let run = ServerAction::<RunReconciliationNow>::new();
    let acknowledge = ServerAction::<AcknowledgeFinding>::new();
    let resolve = ServerAction::<ResolveFinding>::new();
    let data = Resource::new(
        move || {
            let filter = FindingFilter {
                kind: kind.get(),
                status: status.get(),
                before_id: before.get().parse().ok(),
            };
            (
                filter,
                run.version().get(),
                acknowledge.version().get(),
                resolve.version().get(),
            )
        },
        |(filter, _, _, _)| get_reconciliation(filter),
    );
    let feedback = move || {
        let ran = run.value().get().map(|result| match result {
            Ok(run) => view! { <p class="ok" role="status">{format!("Run {} finished: {} findings, {} new, {} resolved by themselves.", run.id, run.findings, run.opened, run.auto_resolved)}</p> }.into_any(),
            Err(error) => view! { <ErrorBox error/> }.into_any(),
        });
        let acted = [acknowledge.value().get(), resolve.value().get()]
            .into_iter()
            .flatten()
            .filter_map(|result| result.err())
            .map(|error| view! { <ErrorBox error/> })
            .collect_view();
        view! { {ran} {acted} }
    };
    view! {
        <h1>"Reconciliation"</h1>
        {move || (!report.get().is_empty()).then(|| view! {
            <p class="ok" role="status" data-testid="upload-result">{format!("Statement {} checked; its findings are listed below.", report.get())}</p>
        })}
        {move || (!upload_error.get().is_empty()).then(|| view! {
            <p class="error" role="alert">{upload_error.get()}</p>
        })}
        {feedback}
        <Loaded load=data show=move |data| view! { <Body data acknowledge resolve run/> }/>
    }
}

#[component]
fn Body(
    data: Reconciliation,
    acknowledge: ServerAction<AcknowledgeFinding>,
    resolve: ServerAction<ResolveFinding>,
    run: ServerAction<RunReconciliationNow>,
) -> impl IntoView {
    let providers = data.providers.clone();
    view! {
        {data.demo.then(|| view! {
            <p class="note" data-testid="demo-notice">
                "Demo traffic is on: each simulated provider's statement carries one planted "
                "discrepancy of each kind, so the statement findings below are expected. "
                "Try acknowledging and resolving them. WALLET_DEMO=0 turns the demo off."
            </p>
        })}
        <IfRole role=Role::Operator>
            <div class="panels">
                <section class="panel">
                    <h2>"Run now"</h2>
                    <ActionForm action=run>
                        <button type="submit" data-testid="run-now">"Run reconciliation"</button>
                    </ActionForm>
                </section>
                <UploadForm providers=providers.clone()/>
            </div>
        </IfRole>
        <h2>"Findings"</h2>
        <FindingFilters kinds=data.kinds.clone()/>
        <p class="toolbar">
            <a class="button" href=findings_export_href rel="external" download data-testid="export-findings">"Export findings (CSV)"</a>
            <span class="muted">" every finding the filter matches, amounts in decimal and minor units"</span>
        </p>
        <Findings rows=data.findings.clone() acknowledge resolve/>
        {data.next_before_id.map(|before| view! {
            <nav class="pager"><a rel="next" href=move || older_href(before)>"Older →"</a></nav>
        })}
        <h2>"Recent runs"</h2>
        <Runs rows=data.runs/>
    }
}

/// The CSV of the findings the current filter shows.
fn findings_export_href() -> String {
    let query = leptos_router::hooks::use_query_map().get_untracked();
    format!(
        "/console/findings.csv{}",
        query_string(&[
            ("kind", query.get("kind").unwrap_or_default()),
            ("status", query.get("status").unwrap_or_default()),
        ])
    )
}

fn older_href(before: i64) -> String {
    let query = leptos_router::hooks::use_query_map().get_untracked();
    format!(
        "/reconciliation{}",
        query_string(&[
            ("kind", query.get("kind").unwrap_or_default()),
            ("status", query.get("status").unwrap_or_default()),
            ("before", before.to_string()),
        ])
    )
}

/// A plain multipart form: it works before hydration and needs no file APIs in the page.
#[component]
fn UploadForm(providers: Vec<String>) -> impl IntoView {
    let options = providers
        .into_iter()
        .map(|provider| {
            let label = provider.clone();
            view! { <option value=provider>{label}</option> }
        })
        .collect_view();
    view! {
        <section class="panel">
            <h2>"Upload a provider statement"</h2>
            <form method="post" action="/console/statements" enctype="multipart/form-data" data-testid="upload-form">
                <label>"Provider " <select name="provider_id" required>{options}</select></label>
                <label>"Report id " <input name="report_id" required placeholder="2026-11-30-daily"/></label>
                <label>"Period start " <input name="period_start" required placeholder="2026-11-30T00:00:00Z"/></label>
                <label>"Period end " <input name="period_end" required placeholder="2026-12-01T00:00:00Z"/></label>
                <label>"CSV file " <input type="file" name="file" accept=".csv,text/csv" required/></label>
                <button type="submit">"Upload and check"</button>
            </form>
            <p class="muted">"Header: transaction_id,op,player_id,round_id,amount_value,currency,scale,state (see the API docs)."</p>
        </section>
    }
}

#[component]
fn FindingFilters(kinds: Vec<String>) -> impl IntoView {
    let query = leptos_router::hooks::use_query_map().get_untracked();
    let current_kind = query.get("kind").unwrap_or_default();
    let current_status = query.get("status").unwrap_or_default();
    let kinds = kinds
        .into_iter()
        .map(|kind| {
            let selected = kind == current_kind;
            let label = kind.clone();
            view! { <option value=kind selected=selected>{label}</option> }
        })
        .collect_view();
    let statuses = FindingStatus::ALL
        .into_iter()
        .map(FindingStatus::as_str)
        .map(|status| {
            let selected = status == current_status;
            view! { <option value=status selected=selected>{status}</option> }
        })
        .collect_view();
    view! {
        <Form method="GET" action="/reconciliation" attr:class="filters">
            <label>"Kind " <select name="kind"><option value="">"Any"</option>{kinds}</select></label>
            <label>"Status " <select name="status"><option value="">"Any"</option>{statuses}</select></label>
            <button type="submit">"Filter"</button>
        </Form>
    }
}

#[component]
fn Findings(
    rows: Vec<DiscrepancyRow>,
    acknowledge: ServerAction<AcknowledgeFinding>,
    resolve: ServerAction<ResolveFinding>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <Empty text="No findings match. On clean data the job finds nothing."/> }
            .into_any();
    }
    let rows = rows
        .into_iter()
        .map(|row| view! { <FindingLine row acknowledge resolve/> })
        .collect_view();
    view! {
        <table class="grid" data-testid="findings">
            <thead><tr>
                <th>"Kind"</th><th>"Severity"</th><th>"Subject"</th><th>"Provider"</th><th>"Details"</th>
                <th>"First / last seen"</th><th>"Status"</th><th>"Action"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn FindingLine(
    row: DiscrepancyRow,
    acknowledge: ServerAction<AcknowledgeFinding>,
    resolve: ServerAction<ResolveFinding>,
) -> impl IntoView {
    let id = row.id;
    let is_open = row.status == FindingStatus::Open;
    let is_resolved = row.status == FindingStatus::Resolved;
    let who = match (&row.resolved_by, &row.acknowledged_by) {
        (Some(by), _) => format!(
            "by {by}: {}",
            row.resolution_note.clone().unwrap_or_default()
        ),
        (None, Some(by)) => format!("by {by}"),
        _ => String::new(),
    };
    // A transaction's subject is `<provider>/<transaction id>`; the trace page takes the id.
    let transaction = (row.subject_type == FindingSubject::Transaction)
        .then(|| row.subject_id.split_once('/').map(|(_, id)| id.to_owned()))
        .flatten();
    let subject = if let Some(id) = transaction {
        view! { <a class="mono" href=format!("/tx/{}", crate::components::widgets::encode(&id))>{row.subject_id.clone()}</a> }.into_any()
    } else {
        view! { <span class="mono">{format!("{} {}", row.subject_type.as_str(), row.subject_id)}</span> }
            .into_any()
    };
    view! {
        <tr data-finding-id=id>
            <td class="mono">{row.kind.clone()}</td>
            <td><Badge text=row.severity.clone()/></td>
            <td>{subject}</td>
            <td>{row.provider_id.clone().unwrap_or_default()}</td>
            <td class="details"><FindingDetails row=row.clone()/></td>
            <td class="mono"><Time at=row.first_seen_at.clone()/><br/><Time at=row.last_seen_at.clone()/></td>
            <td><Badge text=row.status.as_str()/><div class="muted">{who}</div></td>
            <td class="actions">
                <IfRole role=Role::Operator>
                    {is_open.then(|| view! {
                        <ActionForm action=acknowledge attr:class="inline">
                            <input type="hidden" name="finding_id" value=id/>
                            <input name="note" placeholder="note" aria-label="acknowledgement note"/>
                            <button type="submit">"Acknowledge"</button>
                        </ActionForm>
                    })}
                    {(!is_resolved).then(|| view! {
                        <ActionForm action=resolve attr:class="inline">
                            <input type="hidden" name="finding_id" value=id/>
                            <input name="note" required placeholder="how it was resolved" aria-label="resolution note"/>
                            <button type="submit">"Resolve"</button>
                        </ActionForm>
                    })}
                </IfRole>
            </td>
        </tr>
    }
}

#[component]
fn Runs(rows: Vec<RunRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <Empty text="No runs yet."/> }.into_any();
    }
    let rows = rows
        .into_iter()
        .map(|run| {
            view! {
                <tr>
                    <td class="num">{run.id}</td>
                    <td class="mono"><Time at=run.started_at.clone()/></td>
                    <td>{run.trigger}</td>
                    <td class="num">{run.findings}</td>
                    <td class="num">{run.opened}</td>
                    <td class="num">{run.auto_resolved}</td>
                    <td class="num">{run.critical_open}</td>
                    <td class="num">{run.duration_ms}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="runs">
            <thead><tr><th class="num">"Run"</th><th>"Started (" <ZoneName/> ")"</th><th>"Trigger"</th><th class="num">"Findings"</th>
            <th class="num">"New"</th><th class="num">"Auto-resolved"</th><th class="num">"Critical open"</th><th class="num">"ms"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
