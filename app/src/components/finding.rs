//! A finding's details as a support agent reads them: the two sides side by side with
//! the differences marked, then the other facts.
use leptos::prelude::*;

use crate::model::{Comparison, DiscrepancyRow};

#[component]
pub fn FindingDetails(row: DiscrepancyRow) -> impl IntoView {
    let facts = (!row.facts.is_empty()).then(|| {
        let items = row
            .facts
            .into_iter()
            .map(|fact| view! { <dt>{fact.name}</dt><dd class="mono">{fact.value}</dd> })
            .collect_view();
        view! { <dl class="facts compact">{items}</dl> }
    });
    // Erased: the findings table nests this in a row type deep enough to overflow the
    // compiler's query depth otherwise.
    view! {
        {row.comparison.map(|comparison| view! { <SideBySide comparison/> })}
        {facts}
    }
    .into_any()
}

#[component]
fn SideBySide(comparison: Comparison) -> impl IntoView {
    let missing = |is_missing: bool| {
        is_missing.then(|| view! { <span class="missing">" (no record)"</span> })
    };
    let rows = comparison
        .fields
        .into_iter()
        .map(|field| {
            let class = field.differs.then_some("differs");
            let mark = if field.differs { "≠" } else { "" };
            let dash = || "—".to_owned();
            let name = field.name.clone();
            view! {
                <tr class=class data-field=name>
                    <th scope="row">{field.name}</th>
                    <td class="mono">{field.left.unwrap_or_else(dash)}</td>
                    <td class="mark" aria-label=field.differs.then_some("differs")>{mark}</td>
                    <td class="mono">{field.right.unwrap_or_else(dash)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="compare" data-testid="comparison">
            <thead><tr>
                <th></th>
                <th scope="col">{comparison.left}{missing(comparison.left_missing)}</th>
                <th></th>
                <th scope="col">{comparison.right}{missing(comparison.right_missing)}</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
