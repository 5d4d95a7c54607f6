//! The console's side of four eyes (`crate::approvals`): filing a role change, the queue,
//! and approving a request, which makes the change it asks for.
use app::backend::{ConsoleError, ConsoleResult};
use app::model::{ApprovalQueue, ApprovalRow, Role, Viewer};
use serde_json::Value;

use super::errors::{from_approval, from_service, from_user_admin, unavailable};
use super::refund::{orphan_bet, refund_finding};
use crate::approvals::{self, ApprovalError, Kind, NewRequest, Status};
use crate::console::records;
use crate::db::entities::approval_request;
use crate::http::state::AppState;
use crate::idempotency::format_time;
use crate::staff::UserAdminError;
use crate::wallet::operations::StaffAction;

/// Files `user_id`'s move to `role` for a second admin, after the checks that would
/// refuse it anyway (the user exists and has another role).
pub async fn file_role_change(
    state: &AppState,
    actor: &Viewer,
    user_id: i64,
    role: Role,
) -> ConsoleResult<String> {
    let user = records::staff_user(state.store.reader(), user_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| from_user_admin(UserAdminError::NotFound(user_id)))?;
    if user.role == role.as_str() {
        return Ok(format!("{} is already {}.", user.username, role.as_str()));
    }
    let request = NewRequest {
        kind: Kind::RoleChange,
        subject: user_id.to_string(),
        amount: None,
        summary: format!(
            "Make {} {} (now {})",
            user.username,
            role.as_str(),
            user.role
        ),
        details: serde_json::json!({ "role": role.as_str() }),
    };
    let (filed, new) = approvals::file(&state.store, &actor.username, request)
        .await
        .map_err(from_service)?;
    Ok(if new {
        format!(
            "The role change waits for a second admin's approval (request {}).",
            filed.id
        )
    } else {
        format!(
            "A role change for {} already waits for approval (request {}, asked by {}).",
            user.username, filed.id, filed.requested_by
        )
    })
}

pub async fn queue(state: &AppState) -> ConsoleResult<ApprovalQueue> {
    let (open, decided) = approvals::queue(state.store.reader())
        .await
        .map_err(unavailable)?;
    Ok(ApprovalQueue {
        open: open.iter().map(row).collect(),
        decided: decided.iter().map(row).collect(),
    })
}

fn row(request: &approval_request::Model) -> ApprovalRow {
    let details: Value = serde_json::from_str(&request.details).unwrap_or(Value::Null);
    ApprovalRow {
        id: request.id,
        kind: request.kind.clone(),
        status: request.status.clone(),
        summary: request.summary.clone(),
        reason: details["reason"].as_str().map(str::to_owned),
        requested_by: request.requested_by.clone(),
        requested_at: format_time(request.requested_at),
        decided_by: request.decided_by.clone(),
        decided_at: request.decided_at.map(format_time),
        outcome: request.outcome.clone(),
    }
}

/// Approves request `request_id` and makes its change. A role change needs an admin. A
/// refused change ends the request `FAILED`; a database failure leaves it `APPROVING`, to
/// be finished by approving it again.
pub async fn approve(state: &AppState, actor: &Viewer, request_id: i64) -> ConsoleResult<String> {
    let kind = kind_actor_may_decide(state, actor, request_id).await?;
    let request = approvals::claim(&state.store, request_id, &actor.username)
        .await
        .map_err(from_approval)?;
    let done = match kind {
        Kind::Refund => approve_refund(state, actor, &request).await,
        Kind::RoleChange => approve_role_change(state, actor, &request).await,
    };
    let (status, outcome) = match &done {
        Ok(text) => (Status::Approved, text.clone()),
        Err(ConsoleError::Unavailable) => return done,
        Err(refused) => (Status::Failed, refused.to_string()),
    };
    approvals::finish(&state.store, request_id, &actor.username, status, &outcome)
        .await
        .map_err(from_service)?;
    done
}

async fn approve_refund(
    state: &AppState,
    actor: &Viewer,
    request: &approval_request::Model,
) -> ConsoleResult<String> {
    let finding_id: i64 = request
        .subject
        .parse()
        .map_err(|_| ConsoleError::Invalid(format!("bad finding id {}", request.subject)))?;
    let details: Value = serde_json::from_str(&request.details).unwrap_or(Value::Null);
    let reason = format!(
        "{} (four eyes: asked by {}, approved by {}, request {})",
        details["reason"].as_str().unwrap_or_default(),
        request.requested_by,
        actor.username,
        request.id
    );
    let staff = StaffAction {
        actor: actor.username.clone(),
        reason,
    };
    let bet = orphan_bet(state, finding_id).await?;
    refund_finding(state, &request.requested_by, finding_id, &bet, staff).await
}

async fn approve_role_change(
    state: &AppState,
    actor: &Viewer,
    request: &approval_request::Model,
) -> ConsoleResult<String> {
    let user_id: i64 = request
        .subject
        .parse()
        .map_err(|_| ConsoleError::Invalid(format!("bad user id {}", request.subject)))?;
    let details: Value = serde_json::from_str(&request.details).unwrap_or(Value::Null);
    let role = details["role"]
        .as_str()
        .and_then(Role::parse)
        .ok_or_else(|| ConsoleError::Invalid("the request names no role".to_owned()))?;
    let user = crate::staff::set_role(&state.store, actor, user_id, role)
        .await
        .map_err(from_user_admin)?;
    Ok(format!(
        "{} is now {}; their sessions have ended.",
        user.username,
        user.role.as_str()
    ))
}

pub async fn reject(
    state: &AppState,
    actor: &Viewer,
    request_id: i64,
    note: &str,
) -> ConsoleResult<()> {
    kind_actor_may_decide(state, actor, request_id).await?;
    approvals::reject(&state.store, request_id, &actor.username, note)
        .await
        .map(drop)
        .map_err(from_approval)
}

/// The request's kind, if `actor` may decide requests of it: a role change needs an admin
/// (whether to approve or reject), a refund an operator (the server function checked).
async fn kind_actor_may_decide(
    state: &AppState,
    actor: &Viewer,
    request_id: i64,
) -> ConsoleResult<Kind> {
    let request = records::approval_request(state.store.reader(), request_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| from_approval(ApprovalError::NotFound(request_id)))?;
    let kind = Kind::parse(&request.kind)
        .ok_or_else(|| unavailable(format!("request {request_id} has kind {}", request.kind)))?;
    if kind == Kind::RoleChange && actor.role != Role::Admin {
        return Err(ConsoleError::Forbidden(
            "only an admin decides a role change".to_owned(),
        ));
    }
    Ok(kind)
}
