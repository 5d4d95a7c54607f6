//! Database rows turned into the console's display rows: times as RFC 3339, amounts
//! formatted with their currency's scale, bodies pretty-printed.
use std::borrow::Cow;

use app::model::{
    AttemptDetail, AttemptRow, AuditRow, DiscrepancyRow, FindingStatus, FindingSubject, PlayerRow,
    PlayerStatus, RunRow, SessionRow, TransactionRow, UserRow,
};
use sea_orm::DbErr;

use super::amounts::money_text;
use super::findings::{details_text, facts_and_comparison};
use crate::attempts::replay_body;
use crate::db::entities::{
    attempt, discrepancy, player, reconciliation_run, staff_audit, wallet_transaction as wtx,
};
use crate::domain::CurrencyTable;
use crate::idempotency::{first_body_of, format_time, request_of};

/// JSON bodies indented for reading; anything else as it came.
pub fn pretty(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|_| body.to_owned())
}

pub fn attempt_row(model: &attempt::Model) -> AttemptRow {
    AttemptRow {
        id: model.id,
        request_id: model.request_id.clone(),
        received_at: format_time(model.received_at),
        latency_ms: model.latency_ms,
        method: model.method.clone(),
        protocol: protocol_of(&model.endpoint).to_owned(),
        endpoint: model.endpoint.clone(),
        traceparent: model.traceparent.clone(),
        provider_id: model.provider_id.clone(),
        key_id: model.key_id.clone(),
        transaction_id: model.transaction_id.clone(),
        signature: model.signature.clone(),
        outcome: model.outcome.clone(),
        http_status: model.http_status,
        error_code: model.error_code.clone(),
    }
}

/// Which API an attempt was sent to, by its path.
pub fn protocol_of(endpoint: &str) -> &'static str {
    if endpoint.starts_with("/pam/valkyrie") {
        "PAM (Valkyrie)"
    } else if endpoint.starts_with("/wallet/") {
        "Wallet API"
    } else if endpoint.starts_with("/operator/") {
        "Operator API"
    } else {
        "other"
    }
}

/// An attempt with its bodies; `key` is its key's row, which holds the bodies of the
/// key's first execution (the attempt's own are empty then).
pub fn attempt_detail(
    currencies: &CurrencyTable,
    model: &attempt::Model,
    key: Option<&wtx::Model>,
) -> AttemptDetail {
    let (request, response) = match key {
        Some(key)
            if model.request_body.is_empty()
                && crate::attempts::bodies_are_the_keys(&model.outcome) =>
        {
            let response = if model.response_body.is_empty() {
                first_body_of(key, currencies)
            } else {
                // A protocol that answers in its own words (the PAM) kept its answer.
                Cow::Borrowed(model.response_body.as_str())
            };
            (request_of(key), response)
        }
        Some(key) => {
            let status = u16::try_from(key.http_status).unwrap_or(500);
            let replay = replay_body(model, || first_body_of(key, currencies), status, currencies);
            (
                Cow::Borrowed(model.request_body.as_str()),
                replay.map_or(Cow::Borrowed(model.response_body.as_str()), Cow::Owned),
            )
        }
        None => (
            Cow::Borrowed(model.request_body.as_str()),
            Cow::Borrowed(model.response_body.as_str()),
        ),
    };
    AttemptDetail {
        row: attempt_row(model),
        request_body: pretty(&request),
        response_body: pretty(&response),
    }
}

pub fn transaction_row(currencies: &CurrencyTable, model: &wtx::Model) -> TransactionRow {
    let amount = match (model.amount_minor, &model.currency) {
        (Some(minor), Some(currency)) => Some(money_text(currencies, minor, currency)),
        _ => None,
    };
    TransactionRow {
        id: model.id,
        provider_id: model.scope.clone(),
        transaction_id: model.transaction_id.clone(),
        op: model.op.clone(),
        kind: model.kind.clone(),
        player_id: model.player_id.clone(),
        round_id: model.round_id.clone(),
        game_id: model.game_id.clone(),
        amount,
        amount_minor: model.amount_minor,
        currency: model.currency.clone(),
        target_transaction_id: model.target_transaction_id.clone(),
        state: model.state.clone(),
        error_code: model.error_code.clone(),
        http_status: model.http_status,
        request_id: model.request_id.clone(),
        created_at: format_time(model.created_at),
        updated_at: format_time(model.updated_at),
    }
}

pub fn audit_row(model: &staff_audit::Model) -> AuditRow {
    AuditRow {
        id: model.id,
        at: format_time(model.at),
        actor: model.actor.clone(),
        action: model.action.clone(),
        subject_type: model.subject_type.clone(),
        subject_id: model.subject_id.clone(),
        reason: model.reason.clone(),
        details: pretty(&model.details),
    }
}

/// Fails on a status or subject the wallet never writes: a row edited by hand is not
/// shown as something it is not.
pub fn discrepancy_row(model: &discrepancy::Model) -> Result<DiscrepancyRow, DbErr> {
    let (facts, comparison) = facts_and_comparison(&model.kind, &model.details);
    let status = FindingStatus::parse(&model.status).ok_or_else(|| {
        DbErr::Custom(format!(
            "finding {} has status {:?}",
            model.id, model.status
        ))
    })?;
    let subject_type = FindingSubject::parse(&model.subject_type).ok_or_else(|| {
        DbErr::Custom(format!(
            "finding {} is about a {:?}",
            model.id, model.subject_type
        ))
    })?;
    Ok(DiscrepancyRow {
        id: model.id,
        kind: model.kind.clone(),
        severity: model.severity.clone(),
        subject_type,
        subject_id: model.subject_id.clone(),
        provider_id: model.provider_id.clone(),
        details: details_text(&model.details),
        facts,
        comparison,
        first_seen_at: format_time(model.first_seen_at),
        last_seen_at: format_time(model.last_seen_at),
        status,
        acknowledged_by: model.acknowledged_by.clone(),
        resolved_by: model.resolved_by.clone(),
        resolved_at: model.resolved_at.map(format_time),
        resolution_note: model.resolution_note.clone(),
    })
}

pub fn run_row(model: &reconciliation_run::Model) -> RunRow {
    RunRow {
        id: model.id,
        started_at: format_time(model.started_at),
        trigger: model.trigger.clone(),
        findings: model.findings,
        opened: model.opened,
        auto_resolved: model.auto_resolved,
        critical_open: model.critical_open,
        duration_ms: model.duration_ms,
    }
}

/// Fails on a status the wallet never writes, as the money path does.
pub fn player_row(currencies: &CurrencyTable, model: &player::Model) -> Result<PlayerRow, DbErr> {
    let status = PlayerStatus::parse(&model.status).ok_or_else(|| {
        DbErr::Custom(format!("player {} has status {:?}", model.id, model.status))
    })?;
    Ok(PlayerRow {
        id: model.id.clone(),
        currency: model.currency.clone(),
        status,
        balance: money_text(currencies, model.balance_minor, &model.currency),
        balance_minor: model.balance_minor,
        created_at: format_time(model.created_at),
        updated_at: format_time(model.updated_at),
    })
}

pub fn user_row(user: &crate::staff::StaffUser) -> UserRow {
    UserRow {
        id: user.id,
        username: user.username.clone(),
        role: user.role.as_str().to_owned(),
        disabled: user.disabled,
        created_at: format_time(user.created_at),
        last_login_at: user.last_login_at.map(format_time),
        must_change_password: user.must_change_password,
    }
}

pub fn session_row(session: &crate::staff::sessions::ActiveSession) -> SessionRow {
    SessionRow {
        handle: session.handle.clone(),
        username: session.username.clone(),
        role: session.role.as_str().to_owned(),
        address: session.address.clone(),
        started_at: session.started_at.map(format_time),
        last_seen_at: session.last_seen_at.map(format_time),
        expires_at: format_time(session.expires_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_pretty_when_json_and_untouched_otherwise() {
        assert_eq!(pretty(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty("not json"), "not json");
    }
}
