//! The staff audit log: who did what, to which subject, when and why. Written in the same
//! transaction as the action, so an action is never without its record.
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::Value;

use crate::db::entities::staff_audit;
use crate::error::ServiceError;

#[allow(clippy::too_many_arguments)] // one row's columns; a struct would only rename them
pub async fn record(
    txn: &impl ConnectionTrait,
    actor: &str,
    action: &str,
    subject_type: &str,
    subject_id: &str,
    reason: &str,
    details: Value,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    staff_audit::Entity::insert(entry(
        actor,
        action,
        subject_type,
        subject_id,
        reason,
        details,
        now,
    ))
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// The row [`record`] inserts.
#[allow(clippy::too_many_arguments)] // one row's columns, as `record` takes them
pub fn entry(
    actor: &str,
    action: &str,
    subject_type: &str,
    subject_id: &str,
    reason: &str,
    details: Value,
    now: DateTime<Utc>,
) -> staff_audit::ActiveModel {
    staff_audit::ActiveModel {
        at: Set(now),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        subject_type: Set(subject_type.to_owned()),
        subject_id: Set(subject_id.to_owned()),
        reason: Set(reason.to_owned()),
        details: Set(details.to_string()),
        ..Default::default()
    }
}
