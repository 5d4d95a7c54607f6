//! Everything a dispute needs about one transaction id or request id, on one shareable page.
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::get_trace;
use crate::components::clock::{Time, ZoneName};
use crate::components::tables::{AuditTable, Transactions};
use crate::components::widgets::{Badge, Body, CopyId, Empty, Loaded};
use crate::model::{
    AttemptDetail, ChainVerdict, LedgerLine, RoundView, Trace, TransactionRow, TransactionTrace,
};

#[component]
pub fn TracePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let trace = Resource::new(move || id.get(), get_trace);
    view! {
        <Loaded load=trace show={move |found: Option<Trace>| match found {
            Some(trace) => view! { <TraceBody trace/> }.into_any(),
            None => view! {
                <h1>"Trace"</h1>
                <Empty text=format!("Nothing matches {:?}: no transaction id or request id like it.", id.get_untracked())/>
            }.into_any(),
        }}/>
    }
}

#[component]
fn TraceBody(trace: Trace) -> impl IntoView {
    let count = trace.transactions.len();
    let transactions = trace
        .transactions
        .into_iter()
        .map(|tx| view! { <TransactionSection tx/> })
        .collect_view();
    let unmatched = (!trace.unmatched_attempts.is_empty()).then(|| {
        view! {
            <section>
                <h2>"Attempts that reached no transaction"</h2>
                <Attempts attempts=trace.unmatched_attempts/>
            </section>
        }
    });
    view! {
        <h1>"Trace " <CopyId text=trace.query.clone()/></h1>
        {(count > 1).then(|| view! {
            <p class="muted">{format!("{count} transactions share this id (one per provider).")}</p>
        })}
        {transactions}
        {unmatched}
    }
}

#[component]
fn TransactionSection(tx: TransactionTrace) -> impl IntoView {
    let row = tx.transaction.clone();
    // A key made through the PAM stores the wallet's own answer, which the PAM words its
    // own way: what the studio got is in the attempts (docs/PAM.md, "In the console").
    let through_pam = tx
        .attempts
        .first()
        .is_some_and(|attempt| attempt.row.endpoint.starts_with("/pam/"));
    let response_label = if through_pam {
        "Stored answer (the studio's PAM answers are in the attempts)"
    } else {
        "First response (replayed as is)"
    };
    view! {
        <section class="trace" data-testid="trace">
            <h2>
                {format!("{} ", row.op)}<Badge text=row.state.clone()/>
                <span class="muted">{format!(" in {}'s key space", row.provider_id)}</span>
            </h2>
            <Facts row=row.clone() chain=tx.chain.clone()/>
            <div class="two">
                <Body label="First request" text=tx.first_request.clone()/>
                <Body label=response_label text=tx.first_response.clone()/>
            </div>
            <h3>"History"</h3>
            <ol class="history" data-testid="history">
                {tx.history.iter().map(|event| view! {
                    <li><span class="mono"><Time at=event.at.clone()/></span>" "{event.what.clone()}</li>
                }).collect_view()}
            </ol>
            <h3>{format!("Attempts ({})", tx.attempts.len())}</h3>
            <Attempts attempts=tx.attempts.clone()/>
            <h3>"Ledger entries"</h3>
            <Ledger lines=tx.ledger.clone()/>
            {tx.round.clone().map(|round| view! { <Round round/> })}
            {tx.target.clone().map(|target| view! {
                <h3>"The bet it names"</h3>
                <Transactions rows=vec![target]/>
            })}
            {(!tx.related.is_empty()).then(|| view! {
                <h3>"Rollbacks and wins naming it"</h3>
                <Transactions rows=tx.related.clone()/>
            })}
            {tx.tombstone.clone().map(|note| view! { <p class="note">{note}</p> })}
            {(!tx.audit.is_empty()).then(|| view! {
                <h3>"Staff actions"</h3>
                <AuditTable rows=tx.audit.clone()/>
            })}
        </section>
    }
}

#[component]
fn Facts(row: TransactionRow, chain: ChainVerdict) -> impl IntoView {
    let chain = match chain {
        ChainVerdict::Verified { entries } => view! {
            <Badge text="VALID"/>{format!(" the player's hash chain verifies ({entries} entries)")}
        }
        .into_any(),
        ChainVerdict::Broken { entry_id, reason } => view! {
            <Badge text="INVALID"/>{format!(" hash chain broken at entry {entry_id}: {reason}")}
        }
        .into_any(),
        ChainVerdict::NotApplicable => {
            view! { <span class="muted">"no player ledger entries"</span> }.into_any()
        }
    };
    view! {
        <dl class="facts">
            <dt>"Transaction id"</dt><dd><CopyId text=row.transaction_id.clone()/></dd>
            <dt>"Player"</dt><dd><a class="mono" href=format!("/players/{}", crate::components::widgets::encode(&row.player_id))>{row.player_id.clone()}</a></dd>
            <dt>"Amount"</dt><dd>{row.amount.clone().unwrap_or_else(|| "–".to_owned())}{row.kind.clone().map(|k| format!(" ({k})"))}</dd>
            <dt>"Round"</dt><dd class="mono">{row.round_id.clone().unwrap_or_default()}</dd>
            <dt>"Game"</dt><dd class="mono">{row.game_id.clone().unwrap_or_default()}</dd>
            <dt>"First answer"</dt><dd>{row.http_status}" "{row.error_code.clone().unwrap_or_default()}</dd>
            <dt>"First request id"</dt><dd><CopyId text=row.request_id.clone()/></dd>
            <dt>"Created"</dt><dd class="mono"><Time at=row.created_at.clone()/></dd>
            <dt>"Hash chain"</dt><dd data-testid="chain">{chain}</dd>
        </dl>
    }
}

#[component]
pub fn Attempts(attempts: Vec<AttemptDetail>) -> impl IntoView {
    if attempts.is_empty() {
        return view! { <Empty text="No attempts logged (yet: the log is written in batches)."/> }
            .into_any();
    }
    let rows = attempts
        .into_iter()
        .map(|attempt| {
            let row = attempt.row;
            view! {
                <tr data-testid="attempt">
                    <td class="mono"><Time at=row.received_at.clone()/></td>
                    <td><CopyId text=row.request_id.clone()/></td>
                    <td><Badge text=row.outcome.clone()/></td>
                    <td class="num">{row.http_status}</td>
                    <td class="mono">{row.error_code.clone().unwrap_or_default()}</td>
                    <td><Badge text=row.signature.clone()/></td>
                    <td data-testid="protocol">
                        {row.protocol.clone()}
                        {row.traceparent.clone().map(|trace| view! {
                            <div class="muted mono" title="traceparent">{trace}</div>
                        })}
                    </td>
                    <td class="num">{row.latency_ms}</td>
                    <td>
                        <Body label="request" text=attempt.request_body/>
                        <Body label="response" text=attempt.response_body/>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr>
                <th>"Received (" <ZoneName/> ")"</th><th>"Request id"</th><th>"Outcome"</th><th>"Status"</th>
                <th>"Code"</th><th>"Signature"</th><th>"Protocol"</th><th class="num">"ms"</th><th>"Bodies"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Ledger(lines: Vec<LedgerLine>) -> impl IntoView {
    if lines.is_empty() {
        return view! { <Empty text="No money moved."/> }.into_any();
    }
    let rows = lines
        .into_iter()
        .map(|line| {
            view! {
                <tr>
                    <td class="num">{line.id}</td>
                    <td class="mono">{line.account}</td>
                    <td class="num">{line.amount}</td>
                    <td class="num">{line.balance_before.unwrap_or_default()}</td>
                    <td class="num">{line.balance_after.unwrap_or_default()}</td>
                    <td class="mono hash">{line.chain_hash.map(|h| h.chars().take(16).collect::<String>())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="ledger">
            <thead><tr><th class="num">"Entry"</th><th>"Account"</th><th class="num">"Amount"</th>
            <th class="num">"Balance before"</th><th class="num">"Balance after"</th><th>"Chain link"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Round(round: RoundView) -> impl IntoView {
    view! {
        <h3>"Round " <code>{round.round_id.clone()}</code>" "<Badge text=round.state.clone()/></h3>
        <p class="muted">
            {format!("Game {} · opened ", round.game_id)}<Time at=round.opened_at.clone()/>" · "
            {match round.closed_at.clone() {
                Some(at) => view! { "closed " <Time at/> }.into_any(),
                None => "still open".into_any(),
            }}
        </p>
        <Transactions rows=round.transactions/>
    }
}
