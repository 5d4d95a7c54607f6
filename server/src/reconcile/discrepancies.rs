//! What people do with findings: list them (the dashboard, the operator API), acknowledge
//! them ("seen, being handled") and resolve them with a note. Every change is one unit of
//! work with its row in the staff audit log.
use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use serde_json::json;

use crate::db::entities::discrepancy;
use crate::db::Store;
use crate::error::ServiceError;

/// A page of findings is at most this long.
pub const MAX_PAGE: u64 = 500;
/// Names and notes are for people; more than this is a mistake.
const MAX_ACTOR_BYTES: usize = 200;
const MAX_NOTE_BYTES: usize = 4096;

/// Why a person's action on a finding was refused.
#[derive(Debug, thiserror::Error)]
pub enum DiscrepancyError {
    /// The id names no finding.
    #[error("no discrepancy with id {0}")]
    NotFound(i64),
    /// Only OPEN findings can be acknowledged, and RESOLVED ones cannot change.
    #[error("discrepancy {id} is {from}; it cannot become {to}")]
    InvalidTransition {
        id: i64,
        from: String,
        to: &'static str,
    },
    /// Every action names who took it, and a resolution says why.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<sea_orm::DbErr> for DiscrepancyError {
    fn from(error: sea_orm::DbErr) -> Self {
        DiscrepancyError::Service(ServiceError::Db(error))
    }
}

/// Which findings to list: newest first, after `before_id` when paging.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub before_id: Option<i64>,
    pub limit: u64,
}

/// One page, and the cursor of the next (older) one.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<discrepancy::Model>,
    pub next_before_id: Option<i64>,
}

pub async fn list(db: &impl ConnectionTrait, filter: &Filter) -> Result<Page, sea_orm::DbErr> {
    let limit = filter.limit.clamp(1, MAX_PAGE);
    let mut select = discrepancy::Entity::find();
    if let Some(kind) = &filter.kind {
        select = select.filter(discrepancy::Column::Kind.eq(kind.as_str()));
    }
    if let Some(status) = &filter.status {
        select = select.filter(discrepancy::Column::Status.eq(status.as_str()));
    }
    if let Some(before) = filter.before_id {
        select = select.filter(discrepancy::Column::Id.lt(before));
    }
    let mut items = select
        .order_by_desc(discrepancy::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let next_before_id = if more {
        items.last().map(|d| d.id)
    } else {
        None
    };
    Ok(Page {
        items,
        next_before_id,
    })
}

pub async fn get(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<discrepancy::Model, DiscrepancyError> {
    discrepancy::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(DiscrepancyError::NotFound(id))
}

/// The staff audit log's actions for findings.
pub const AUDIT_ACKNOWLEDGE: &str = "discrepancy.acknowledge";
pub const AUDIT_RESOLVE: &str = "discrepancy.resolve";
/// The audit log's subject type for a finding (its id is the discrepancy's id).
pub const AUDIT_SUBJECT: &str = "DISCREPANCY";

/// OPEN → ACKNOWLEDGED: someone is on it. The job keeps updating `last_seen_at`, and
/// still resolves it if the condition clears.
pub async fn acknowledge(
    store: &Store,
    id: i64,
    actor: &str,
    note: Option<&str>,
) -> Result<discrepancy::Model, DiscrepancyError> {
    let action = Action {
        actor: checked("actor", actor, MAX_ACTOR_BYTES)?,
        note: note
            .map(|n| checked("note", n, MAX_NOTE_BYTES))
            .transpose()?,
        to: "ACKNOWLEDGED",
    };
    transition(store, id, action).await
}

/// OPEN or ACKNOWLEDGED → RESOLVED, with who and why.
pub async fn resolve(
    store: &Store,
    id: i64,
    actor: &str,
    note: &str,
) -> Result<discrepancy::Model, DiscrepancyError> {
    let action = Action {
        actor: checked("actor", actor, MAX_ACTOR_BYTES)?,
        note: Some(checked("note", note, MAX_NOTE_BYTES)?),
        to: "RESOLVED",
    };
    transition(store, id, action).await
}

/// A person's change of a finding's status, validated.
struct Action {
    actor: String,
    note: Option<String>,
    /// `ACKNOWLEDGED` or `RESOLVED`.
    to: &'static str,
}

impl Action {
    fn allowed_from(&self, status: &str) -> bool {
        match self.to {
            "ACKNOWLEDGED" => status == "OPEN",
            _ => status != "RESOLVED",
        }
    }

    fn apply(&self, row: &mut discrepancy::ActiveModel, now: chrono::DateTime<Utc>) {
        row.status = Set(self.to.to_owned());
        if self.to == "ACKNOWLEDGED" {
            row.acknowledged_by = Set(Some(self.actor.clone()));
            row.acknowledged_at = Set(Some(now));
        } else {
            row.resolved_by = Set(Some(self.actor.clone()));
            row.resolved_at = Set(Some(now));
        }
        if let Some(note) = &self.note {
            row.resolution_note = Set(Some(note.clone()));
        }
    }

    fn audit_action(&self) -> &'static str {
        match self.to {
            "ACKNOWLEDGED" => AUDIT_ACKNOWLEDGE,
            _ => AUDIT_RESOLVE,
        }
    }
}

/// Not blank and at most `max` bytes as sent (the OpenAPI document's `maxLength`, for
/// ASCII), stored without the surrounding whitespace.
fn checked(field: &str, value: &str, max: usize) -> Result<String, DiscrepancyError> {
    if value.len() > max {
        return Err(DiscrepancyError::Invalid(format!(
            "{field}: at most {max} bytes"
        )));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(DiscrepancyError::Invalid(format!("{field}: required")));
    }
    Ok(value.to_owned())
}

/// Reads, checks the transition, writes it and its audit record in one unit of work, so
/// two people acting at once cannot both pass the check and no change goes unrecorded.
async fn transition(
    store: &Store,
    id: i64,
    action: Action,
) -> Result<discrepancy::Model, DiscrepancyError> {
    let action = std::sync::Arc::new(action);
    let outcome = store
        .write(Box::new(move |txn| {
            let action = std::sync::Arc::clone(&action);
            Box::pin(async move {
                let Some(row) = discrepancy::Entity::find_by_id(id)
                    .lock_exclusive()
                    .one(txn)
                    .await?
                else {
                    return Ok(Err(DiscrepancyError::NotFound(id)));
                };
                if !action.allowed_from(&row.status) {
                    return Ok(Err(DiscrepancyError::InvalidTransition {
                        id,
                        from: row.status,
                        to: action.to,
                    }));
                }
                let now = Utc::now();
                let details = json!({
                    "kind": row.kind,
                    "subject_type": row.subject_type,
                    "subject_id": row.subject_id,
                    "from": row.status,
                    "to": action.to,
                });
                let mut active: discrepancy::ActiveModel = row.into();
                action.apply(&mut active, now);
                let updated = discrepancy::Entity::update(active).exec(txn).await?;
                if updated.status == "RESOLVED" {
                    let event = crate::events::outbox::finding_event(
                        crate::events::FINDING_RESOLVED,
                        &updated,
                    );
                    crate::events::outbox::record_findings(txn, vec![event], now).await?;
                }
                crate::audit::record(
                    txn,
                    &action.actor,
                    action.audit_action(),
                    AUDIT_SUBJECT,
                    &id.to_string(),
                    action.note.as_deref().unwrap_or_default(),
                    details,
                    now,
                )
                .await?;
                Ok(Ok(updated))
            })
        }))
        .await?;
    outcome
}
