//! The console's refund button: the orphan bet a PENDING_ROLLBACK finding names is rolled
//! back through the operator refund path, keyed by the finding so a second click (or a
//! second operator) refunds nothing more.
use app::backend::{ConsoleError, ConsoleResult};
use app::model::Viewer;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::db::entities::wallet_transaction as wtx;
use crate::domain::ProviderId;
use crate::operator::refund::{refund_bet, RefundOrder};
use crate::reconcile::{discrepancies, PENDING_ROLLBACK};
use crate::state::AppState;
use crate::wallet::operations::StaffAction;

pub async fn refund_finding(
    state: &AppState,
    actor: &Viewer,
    finding_id: i64,
    staff: StaffAction,
) -> ConsoleResult<String> {
    let db = state.store.reader();
    let finding = discrepancies::get(db, finding_id)
        .await
        .map_err(|e| ConsoleError::NotFound(e.to_string()))?;
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
        .map(|(provider, id)| (provider.to_owned(), id.to_owned()))
        .ok_or_else(|| ConsoleError::Invalid("the finding names no provider".to_owned()))?;
    let bet = wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(provider.as_str()))
        .filter(wtx::Column::TransactionId.eq(bet_id.as_str()))
        .filter(wtx::Column::Op.eq("BET"))
        .one(db)
        .await
        .map_err(super::console::unavailable)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no bet {bet_id} of {provider}")))?;
    let refund_id = format!("console-{finding_id}");
    let body = serde_json::json!({
        "refund_id": refund_id,
        "reason": staff.reason,
        "requested_by": actor.username,
        "finding_id": finding_id,
    })
    .to_string();
    let provider_id =
        ProviderId::parse(provider).map_err(|e| ConsoleError::Invalid(e.to_string()))?;
    let order = RefundOrder {
        bet: &bet,
        refund_id: &refund_id,
        staff,
        raw_body: body.as_bytes(),
        request_id: format!("console-{}", uuid::Uuid::new_v4()),
    };
    let refunded = refund_bet(&state.store, &state.currencies, provider_id, order)
        .await
        .map_err(|e| ConsoleError::Invalid(e.message))?;
    let answer = refunded.answer.map_err(super::console::from_service)?;
    let what = match (answer.is_ok(), answer.replayed) {
        (_, true) => "was already refunded by this finding; nothing moved again",
        (true, false) => "is refunded",
        _ => "was not refunded",
    };
    let code = answer
        .error_code()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    if answer.is_ok() && !answer.replayed {
        // The job would clear it on its next run; closing it now keeps the list honest.
        let note = format!(
            "refunded from the console ({})",
            refunded.keyed.transaction_id
        );
        if let Err(error) =
            discrepancies::resolve(&state.store, finding_id, &actor.username, &note).await
        {
            tracing::warn!(%error, finding_id, "refund done, finding left for the job to resolve");
        }
    }
    Ok(format!("Bet {} {what}{code}.", bet.transaction_id))
}
