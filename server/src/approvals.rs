//! Four eyes: changes one person may ask for but not make alone (docs/SECURITY.md,
//! "Four eyes"). A console refund above its currency's threshold
//! (`WALLET_REFUND_APPROVAL_ABOVE`) and every role change are filed here as requests;
//! someone else approves or rejects each one, and the change is made on approval.
//!
//! An approval first claims the request (`PENDING` → `APPROVING`, in one write, the row
//! locked), then makes the change, then records how it ended (`APPROVED` or `FAILED`). Of
//! two approvals at the same moment the second finds the request claimed and is told so.
//! An approval that died half way (a crash, the database gone) leaves the request
//! `APPROVING`; after [`STALE_CLAIM`] another approval may claim it again. The change
//! itself is idempotent, which is what makes that safe: a refund runs through the
//! exactly-once path keyed by its finding, a role change sets a role. A rejection only
//! takes a `PENDING` request (or one whose claim went stale).
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{json, Value};

use crate::audit;
use crate::db::entities::approval_request::{self, Column, Entity};
use crate::db::Store;
use crate::domain::CurrencyTable;
use crate::error::ServiceError;

/// `staff_audit.subject_type` of the queue's actions.
const SUBJECT: &str = "approval_request";
/// Decided requests the queue page shows under the open ones.
pub const RECENT_DECIDED: u64 = 20;
/// How long an `APPROVING` claim holds before another approval may take it over.
pub const STALE_CLAIM: chrono::Duration = chrono::Duration::seconds(60);
/// The gauge of open requests (`PENDING` or `APPROVING`), by kind.
pub const PENDING_GAUGE: &str = "oncewallet_approval_requests_pending";

/// What waits for a second person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Refund,
    RoleChange,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Refund => "REFUND",
            Kind::RoleChange => "ROLE_CHANGE",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::Refund, Kind::RoleChange]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    /// Claimed by an approval that is making the change (or died making it).
    Approving,
    Approved,
    Rejected,
    /// Approved, but the change was refused (the bet was rolled back meanwhile, …).
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Approving => "APPROVING",
            Status::Approved => "APPROVED",
            Status::Rejected => "REJECTED",
            Status::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Pending,
            Status::Approving,
            Status::Approved,
            Status::Rejected,
            Status::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    fn is_open(self) -> bool {
        matches!(self, Status::Pending | Status::Approving)
    }
}

/// `WALLET_REFUND_APPROVAL_ABOVE`: per currency, the refund amount above which a console
/// refund waits for a second operator. A currency not listed never waits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundThresholds {
    minor_by_currency: HashMap<String, i64>,
}

impl RefundThresholds {
    /// `CODE=AMOUNT,…` with amounts in major units (`EUR=100.00,JPY=10000`), each in a
    /// currency the wallet knows and with no more decimals than its scale.
    pub fn parse(spec: &str, currencies: &CurrencyTable) -> Result<RefundThresholds, String> {
        let mut minor_by_currency = HashMap::new();
        for item in spec
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (code, amount) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?} is not CODE=AMOUNT"))?;
            let code = code.trim().to_ascii_uppercase();
            let currency = currencies
                .currency(&code)
                .map_err(|_| format!("{code} is not a currency the wallet knows"))?;
            let minor = major_to_minor(amount.trim(), currency.scale()).ok_or_else(|| {
                format!(
                    "{item:?}: the amount must be a non-negative decimal with at most {} \
                         decimals",
                    currency.scale()
                )
            })?;
            minor_by_currency.insert(code, minor);
        }
        Ok(RefundThresholds { minor_by_currency })
    }

    /// Whether refunding `amount_minor` of `currency` waits for a second person.
    pub fn needs_approval(&self, currency: &str, amount_minor: i64) -> bool {
        self.minor_by_currency
            .get(currency)
            .is_some_and(|above| amount_minor > *above)
    }

    pub fn is_empty(&self) -> bool {
        self.minor_by_currency.is_empty()
    }
}

/// `"100.5"` at scale 2 → 10050; `None` for anything else than digits with at most
/// `scale` decimals.
fn major_to_minor(text: &str, scale: u32) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > scale as usize {
        return None;
    }
    let padded = format!("{whole}{fraction:0<width$}", width = scale as usize);
    padded.parse().ok()
}

/// A request as it is filed.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub kind: Kind,
    /// The finding a refund settles, the user whose role changes.
    pub subject: String,
    /// A refund's amount in minor units and its currency.
    pub amount: Option<(i64, String)>,
    /// What is asked, in words, for the queue.
    pub summary: String,
    pub details: Value,
}

/// Why an approval or rejection did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("no approval request has id {0}")]
    NotFound(i64),
    #[error("you asked for this change; someone else must approve or reject it")]
    OwnRequest,
    #[error("request {id} is already {status}")]
    AlreadyDecided { id: i64, status: &'static str },
    #[error("request {id} is being approved by {by}")]
    BeingApproved { id: i64, by: String },
    #[error(transparent)]
    Db(#[from] ServiceError),
}

/// Files `new` as `PENDING` by `requested_by`, audited as `approval.requested`. If the
/// subject already has an open request of the same kind, that one is returned instead
/// (`false`): a second click asks nothing new.
pub async fn file(
    store: &Store,
    requested_by: &str,
    new: NewRequest,
) -> Result<(approval_request::Model, bool), ServiceError> {
    let requested_by = requested_by.to_owned();
    let filed = store
        .write(Box::new(move |txn| {
            let (new, requested_by) = (new.clone(), requested_by.clone());
            Box::pin(async move {
                let now = Utc::now();
                let (amount_minor, currency) = new.amount.clone().unzip();
                let row = approval_request::ActiveModel {
                    kind: Set(new.kind.as_str().to_owned()),
                    subject: Set(new.subject.clone()),
                    status: Set(Status::Pending.as_str().to_owned()),
                    amount_minor: Set(amount_minor),
                    currency: Set(currency),
                    summary: Set(new.summary.clone()),
                    details: Set(new.details.to_string()),
                    requested_by: Set(requested_by.clone()),
                    requested_at: Set(now),
                    decided_by: Set(None),
                    decided_at: Set(None),
                    outcome: Set(None),
                    ..Default::default()
                };
                // The partial unique index on open requests is the arbiter: the insert
                // does nothing if the subject already has one.
                let inserted = Entity::insert(row)
                    .on_conflict(OnConflict::new().do_nothing().to_owned())
                    .exec_without_returning(txn)
                    .await?
                    == 1;
                let open = open_request_of(txn, new.kind, &new.subject).await?;
                if inserted {
                    record(txn, &requested_by, "approval.requested", &open, now).await?;
                }
                Ok((open, inserted))
            })
        }))
        .await?;
    set_pending_gauge(store).await;
    Ok(filed)
}

async fn open_request_of(
    txn: &DatabaseTransaction,
    kind: Kind,
    subject: &str,
) -> Result<approval_request::Model, sea_orm::DbErr> {
    Entity::find()
        .filter(Column::Kind.eq(kind.as_str()))
        .filter(Column::Subject.eq(subject))
        .filter(Column::Status.is_in([Status::Pending.as_str(), Status::Approving.as_str()]))
        .one(txn)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("open request for {subject}")))
}

/// The open requests, oldest first, then the [`RECENT_DECIDED`] last decided ones.
pub async fn queue(
    db: &impl ConnectionTrait,
) -> Result<(Vec<approval_request::Model>, Vec<approval_request::Model>), sea_orm::DbErr> {
    let open = Entity::find()
        .filter(Column::Status.is_in([Status::Pending.as_str(), Status::Approving.as_str()]))
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    let decided = Entity::find()
        .filter(Column::Status.is_not_in([Status::Pending.as_str(), Status::Approving.as_str()]))
        .order_by_desc(Column::Id)
        .limit(RECENT_DECIDED)
        .all(db)
        .await?;
    Ok((open, decided))
}

/// Claims request `id` for `approver`'s approval and returns it: refused to its own
/// requester, once decided, and while another approval holds a fresh claim. Audited as
/// `approval.approved` (again when a stale claim is taken over).
pub async fn claim(
    store: &Store,
    id: i64,
    approver: &str,
) -> Result<approval_request::Model, ApprovalError> {
    let approver = approver.to_owned();
    let claimed = store
        .write(Box::new(move |txn| {
            let approver = approver.clone();
            Box::pin(async move {
                let Some(row) = locked(txn, id).await? else {
                    return Ok(Err(ApprovalError::NotFound(id)));
                };
                if row.requested_by == approver {
                    return Ok(Err(ApprovalError::OwnRequest));
                }
                let status = Status::parse(&row.status).unwrap_or(Status::Failed);
                if !status.is_open() {
                    return Ok(Err(ApprovalError::AlreadyDecided {
                        id,
                        status: status.as_str(),
                    }));
                }
                let now = Utc::now();
                if status == Status::Approving
                    && row.decided_at.is_some_and(|at| now - at < STALE_CLAIM)
                {
                    return Ok(Err(ApprovalError::BeingApproved {
                        id,
                        by: row.decided_by.unwrap_or_default(),
                    }));
                }
                let mut change: approval_request::ActiveModel = row.into();
                change.status = Set(Status::Approving.as_str().to_owned());
                change.decided_by = Set(Some(approver.clone()));
                change.decided_at = Set(Some(now));
                let row = Entity::update(change).exec(txn).await?;
                record(txn, &approver, "approval.approved", &row, now).await?;
                Ok(Ok(row))
            })
        }))
        .await
        .map_err(ApprovalError::Db)?;
    set_pending_gauge(store).await;
    claimed
}

/// Records how an approved change ended: `APPROVED` or `FAILED` with `outcome`, if
/// `approver` still holds the claim.
pub async fn finish(
    store: &Store,
    id: i64,
    approver: &str,
    status: Status,
    outcome: &str,
) -> Result<(), ServiceError> {
    let (approver, outcome) = (approver.to_owned(), outcome.to_owned());
    store
        .write(Box::new(move |txn| {
            let (approver, outcome) = (approver.clone(), outcome.clone());
            Box::pin(async move {
                // Only the approval that holds the claim: after a stale claim was taken
                // over, the earlier one must not write its outcome over the later one's.
                Entity::update_many()
                    .col_expr(Column::Status, status.as_str().into())
                    .col_expr(Column::Outcome, Some(outcome).into())
                    .filter(Column::Id.eq(id))
                    .filter(Column::Status.eq(Status::Approving.as_str()))
                    .filter(Column::DecidedBy.eq(approver))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        }))
        .await?;
    set_pending_gauge(store).await;
    Ok(())
}

/// Rejects a `PENDING` request, or one whose approval died more than [`STALE_CLAIM`]
/// ago; refused to its own requester. Audited as `approval.rejected` with the note.
pub async fn reject(
    store: &Store,
    id: i64,
    actor: &str,
    note: &str,
) -> Result<approval_request::Model, ApprovalError> {
    let (actor, note) = (actor.to_owned(), note.trim().to_owned());
    let rejected = store
        .write(Box::new(move |txn| {
            let (actor, note) = (actor.clone(), note.clone());
            Box::pin(async move {
                let Some(row) = locked(txn, id).await? else {
                    return Ok(Err(ApprovalError::NotFound(id)));
                };
                if row.requested_by == actor {
                    return Ok(Err(ApprovalError::OwnRequest));
                }
                let stale = row
                    .decided_at
                    .is_some_and(|at| Utc::now() - at >= STALE_CLAIM);
                match Status::parse(&row.status) {
                    Some(Status::Pending) => {}
                    // An approval that died half way may have made the change or not; a
                    // rejection then only closes the request (the audit log says so).
                    Some(Status::Approving) if stale => {}
                    Some(Status::Approving) => {
                        return Ok(Err(ApprovalError::BeingApproved {
                            id,
                            by: row.decided_by.unwrap_or_default(),
                        }))
                    }
                    other => {
                        return Ok(Err(ApprovalError::AlreadyDecided {
                            id,
                            status: other.unwrap_or(Status::Failed).as_str(),
                        }))
                    }
                }
                let now = Utc::now();
                let mut change: approval_request::ActiveModel = row.into();
                change.status = Set(Status::Rejected.as_str().to_owned());
                change.decided_by = Set(Some(actor.clone()));
                change.decided_at = Set(Some(now));
                change.outcome = Set((!note.is_empty()).then(|| note.clone()));
                let row = Entity::update(change).exec(txn).await?;
                record(txn, &actor, "approval.rejected", &row, now).await?;
                Ok(Ok(row))
            })
        }))
        .await
        .map_err(ApprovalError::Db)?;
    set_pending_gauge(store).await;
    rejected
}

/// The request, locked for the rest of the transaction on PostgreSQL (SQLite has one
/// writer, and the clause is left out there).
async fn locked(
    txn: &DatabaseTransaction,
    id: i64,
) -> Result<Option<approval_request::Model>, sea_orm::DbErr> {
    Entity::find_by_id(id).lock_exclusive().one(txn).await
}

async fn record(
    txn: &DatabaseTransaction,
    actor: &str,
    action: &str,
    row: &approval_request::Model,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let details = json!({
        "kind": row.kind,
        "subject": row.subject,
        "summary": row.summary,
        "requested_by": row.requested_by,
        "outcome": row.outcome,
    });
    let id = row.id.to_string();
    audit::record(txn, actor, action, SUBJECT, &id, "", details, now).await
}

/// Sets [`PENDING_GAUGE`] from the database: after every change here, and on a timer
/// ([`spawn_pending_gauge`]) for the changes other processes make.
pub async fn set_pending_gauge(store: &Store) {
    let open = Entity::find()
        .filter(Column::Status.is_in([Status::Pending.as_str(), Status::Approving.as_str()]))
        .all(store.reader())
        .await;
    match open {
        Ok(open) => {
            for kind in [Kind::Refund, Kind::RoleChange] {
                let count = open.iter().filter(|row| row.kind == kind.as_str()).count();
                metrics::gauge!(PENDING_GAUGE, "kind" => kind.as_str()).set(count as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "counting open approval requests failed"),
    }
}

/// Refreshes [`PENDING_GAUGE`] every 15 s for as long as the process runs.
pub fn spawn_pending_gauge(store: Store) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            interval.tick().await;
            set_pending_gauge(&store).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_major_units_in_known_currencies() {
        let currencies = CurrencyTable::default();
        let limits =
            RefundThresholds::parse("EUR=100.00, jpy=10000,USD=0.5", &currencies).expect("valid");
        assert!(!limits.needs_approval("EUR", 10_000), "at the threshold");
        assert!(limits.needs_approval("EUR", 10_001));
        assert!(limits.needs_approval("JPY", 10_001));
        assert!(limits.needs_approval("USD", 51));
        assert!(!limits.needs_approval("GBP", i64::MAX), "not listed");
        for bad in [
            "EUR",
            "EUR=1.001",
            "XXX=1",
            "EUR=-1",
            "EUR=1e3",
            "EUR=",
            "JPY=1.5",
        ] {
            assert!(RefundThresholds::parse(bad, &currencies).is_err(), "{bad}");
        }
        assert!(RefundThresholds::parse("", &currencies)
            .expect("empty")
            .is_empty());
    }
}
