//! Staff actions, newest first, filterable by who, what and on which subject.
use leptos::prelude::*;
use leptos_router::components::Form;

use super::{page_param, query_param};
use crate::api::get_audit;
use crate::components::tables::AuditTable;
use crate::components::widgets::{query_string, Empty, Loaded, Pager};
use crate::model::{AuditFilter, AuditPage};

#[component]
pub fn AuditPage() -> impl IntoView {
    let (actor, action, subject) = (
        query_param("actor"),
        query_param("action"),
        query_param("subject"),
    );
    let page = page_param();
    let rows = Resource::new(
        move || {
            let filter = AuditFilter {
                actor: actor.get(),
                action: action.get(),
                subject: subject.get(),
            };
            (filter, page.get())
        },
        |(filter, page)| get_audit(filter, page),
    );
    view! {
        <h1>"Audit log"</h1>
        <Form method="GET" action="/audit" attr:class="filters">
            <label>"Who " <input name="actor" value=move || actor.get() size="12"/></label>
            <label>"Action " <input name="action" value=move || action.get() placeholder="operator.refund" size="18"/></label>
            <label>"Subject id " <input name="subject" value=move || subject.get() size="16"/></label>
            <button type="submit">"Filter"</button>
        </Form>
        <p class="toolbar">
            <a class="button" href=move || export_href(actor.get(), action.get(), subject.get()) rel="external" download data-testid="export-audit">"Export (CSV)"</a>
            <span class="muted">" every entry the filter matches, newest first"</span>
        </p>
        <Loaded load=rows show=move |page: AuditPage| {
            if page.rows.is_empty() {
                return view! { <Empty text="No staff actions match."/> }.into_any();
            }
            let filters = [("actor", actor.get_untracked()), ("action", action.get_untracked()), ("subject", subject.get_untracked())];
            view! {
                <AuditTable rows=page.rows/>
                <Pager page=page.page page_size=page.page_size total=page.total
                    href=move |page| {
                        let mut pairs = filters.to_vec();
                        pairs.push(("page", page.to_string()));
                        format!("/audit{}", query_string(&pairs))
                    }/>
            }.into_any()
        }/>
    }
}

/// The CSV of the entries the current filter shows.
fn export_href(actor: String, action: String, subject: String) -> String {
    format!(
        "/console/audit.csv{}",
        query_string(&[("actor", actor), ("action", action), ("subject", subject)])
    )
}
