//! The console's refund button: the orphan bet a PENDING_ROLLBACK finding names is rolled
//! back through the operator refund path, keyed by the finding so a second click (or a
//! second operator) refunds nothing more.
use app::backend::{ConsoleError, ConsoleResult};
use app::model::Viewer;

use crate::approvals::{self, Kind, NewRequest, RefundThresholds};
use crate::console::amounts::money_text;
use crate::db::entities::wallet_transaction as wtx;
use crate::domain::ProviderId;
use crate::http::state::AppState;
use crate::operator::refund::{refund_bet, RefundOrder};
use crate::reconcile::{discrepancies, PENDING_ROLLBACK};
use crate::wallet::operations::StaffAction;

/// The console's refund: done now, or filed for a second operator's approval when the
/// bet is above its currency's `WALLET_REFUND_APPROVAL_ABOVE` (`crate::approvals`).
pub async fn refund_or_file(
    state: &AppState,
    thresholds: &RefundThresholds,
    actor: &Viewer,
    finding_id: i64,
    staff: StaffAction,
) -> ConsoleResult<String> {
    let bet = orphan_bet(state, finding_id).await?;
    let (amount, currency) = (bet.amount_minor.unwrap_or(0), bet.currency.clone());
    let currency = currency.unwrap_or_default();
    if !thresholds.needs_approval(&currency, amount) {
        return refund_finding(state, &actor.username, finding_id, &bet, staff).await;
    }
    let money = money_text(&state.currencies, amount, &currency);
    let request = NewRequest {
        kind: Kind::Refund,
        subject: finding_id.to_string(),
        amount: Some((amount, currency)),
        summary: format!(
            "Refund bet {} of {} to player {}: {money} (finding {finding_id})",
            bet.transaction_id, bet.scope, bet.player_id
        ),
        details: serde_json::json!({ "reason": staff.reason }),
    };
    let (filed, new) = approvals::file(&state.store, &actor.username, request)
        .await
        .map_err(super::errors::from_service)?;
    Ok(if new {
        format!(
            "The refund of bet {} ({money}) is above the approval threshold: it waits for a \
             second operator's approval (request {}).",
            bet.transaction_id, filed.id
        )
    } else {
        format!(
            "The refund of bet {} already waits for approval (request {}, asked by {}).",
            bet.transaction_id, filed.id, filed.requested_by
        )
    })
}

/// The bet a PENDING_ROLLBACK finding names.
pub async fn orphan_bet(state: &AppState, finding_id: i64) -> ConsoleResult<wtx::Model> {
    let db = state.store.reader();
    let finding = discrepancies::get(db, finding_id)
        .await
        .map_err(super::errors::from_discrepancy)?;
    if finding.kind != PENDING_ROLLBACK {
        return Err(ConsoleError::Invalid(format!(
            "finding {finding_id} is {}; only orphan debits (PENDING_ROLLBACK) are refunded",
            finding.kind
        )));
    }
    // A transaction's subject is `<provider>/<transaction id>`.
    let (provider, bet_id) = finding
        .subject_id
        .split_once('/')
        .ok_or_else(|| ConsoleError::Invalid("the finding names no provider".to_owned()))?;
    crate::console::records::bet(db, provider, bet_id)
        .await
        .map_err(super::errors::unavailable)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no bet {bet_id} of {provider}")))
}

/// Rolls the finding's bet back through the operator refund path, keyed by the finding:
/// whoever runs it again (a second click, a second approval) refunds nothing more.
pub async fn refund_finding(
    state: &AppState,
    requested_by: &str,
    finding_id: i64,
    bet: &wtx::Model,
    staff: StaffAction,
) -> ConsoleResult<String> {
    let provider = bet.scope.clone();
    let refund_id = format!("console-{finding_id}");
    let body = serde_json::json!({
        "refund_id": refund_id,
        "reason": staff.reason,
        "requested_by": requested_by,
        "done_by": staff.actor,
        "finding_id": finding_id,
    })
    .to_string();
    let provider_id =
        ProviderId::parse(provider).map_err(|e| ConsoleError::Invalid(e.to_string()))?;
    let staff_actor = staff.actor.clone();
    let order = RefundOrder {
        bet,
        refund_id: &refund_id,
        staff,
        raw_body: body.as_bytes(),
        request_id: format!("console-{}", uuid::Uuid::new_v4()),
    };
    let refunded = refund_bet(&state.store, &state.currencies, provider_id, order)
        .await
        .map_err(|e| ConsoleError::Invalid(e.message))?;
    let answer = refunded.answer.map_err(super::errors::from_service)?;
    if !answer.is_ok() {
        // Declined (the bet rolled back meanwhile, …): an error, so that an approval that
        // ran it ends FAILED rather than APPROVED.
        let code = answer.error_code().unwrap_or_else(|| "DECLINED".to_owned());
        return Err(ConsoleError::Conflict(format!(
            "Bet {} was not refunded ({code}).",
            bet.transaction_id
        )));
    }
    let what = if answer.replayed {
        "was already refunded by this finding; nothing moved again"
    } else {
        "is refunded"
    };
    if !answer.replayed {
        // The job would clear it on its next run; closing it now keeps the list honest.
        let note = format!(
            "refunded from the console ({})",
            refunded.keyed.transaction_id
        );
        if let Err(error) =
            discrepancies::resolve(&state.store, finding_id, &staff_actor, &note).await
        {
            tracing::warn!(%error, finding_id, "refund done, finding left for the job to resolve");
        }
    }
    Ok(format!("Bet {} {what}.", bet.transaction_id))
}
