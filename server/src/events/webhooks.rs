//! Webhook subscriptions (docs/EVENTS.md, "Subscriptions"): create or replace, list, read
//! with delivery stats, delete; and the dead events of one, and their redelivery. The
//! operator API and the console both come here.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde::{Deserialize, Serialize};

use super::outbox;
use crate::db::entities::{webhook, webhook_delivery};
use crate::db::Store;
use crate::domain::WebhookId;
use crate::error::{ApiError, ErrorCode, ServiceError};

/// The shortest secret accepted: 32 characters, about 190 bits if random.
pub const MIN_SECRET_CHARS: usize = 32;
const MAX_SECRET_CHARS: usize = 256;
const MAX_URL_BYTES: usize = 2048;
/// As the OpenAPI document's `maxItems` says: each type once, and `*`.
const MAX_TYPES: usize = 4;
/// A delivery's state while it is retried or waits behind an earlier event.
pub const PENDING: &str = "PENDING";
/// A delivery that was retried for as long as the subscription allows.
pub const DEAD: &str = "DEAD";
/// Dead events one listing shows at most.
pub const MAX_DEAD_LISTED: u64 = 200;

/// `PUT /operator/v1/webhooks/{webhook_id}`'s body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where events are POSTed: `https://…` (or `http://…` on a private network).
    #[schema(
        example = "https://crm.example.com/oncewallet/events",
        max_length = 2048,
        pattern = "^https?://[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]*)?$"
    )]
    pub url: String,
    /// The HMAC-SHA256 key of the `Oncewallet-Signature` header, 32–256 characters.
    /// Never returned or logged.
    #[schema(min_length = 32, max_length = 256)]
    pub secret: String,
    /// `money.moved`, `finding.opened`, `finding.resolved`, or `*` for all (which makes
    /// any other type listed beside it redundant).
    #[schema(min_items = 1, max_items = 4, value_type = Vec<EventType>)]
    pub types: Vec<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// An event type a subscription names, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "money.moved")]
    MoneyMoved,
    #[serde(rename = "finding.opened")]
    FindingOpened,
    #[serde(rename = "finding.resolved")]
    FindingResolved,
    #[serde(rename = "*")]
    All,
}

/// A subscription as the operator API and the console show it: never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub webhook_id: String,
    pub url: String,
    pub types: Vec<String>,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
    pub stats: DeliveryStats,
}

/// Where a subscription's delivery stands.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct DeliveryStats {
    /// Events the receiver acknowledged.
    pub delivered: i64,
    /// Events not acknowledged yet and not dead: being retried, waiting behind an earlier
    /// event of their player, or not tried yet.
    pub pending: i64,
    /// Age of the oldest pending event, seconds; 0 when none.
    pub oldest_pending_age_seconds: f64,
    /// Events given up on; each can be redelivered.
    pub dead: i64,
}

/// A dead event, as the console lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeadEvent {
    pub event_id: String,
    pub event_type: String,
    pub player_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// Why a request about a subscription was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("event {0} is not dead for this webhook")]
    NotDead(String),
    #[error("no event {0}")]
    NoSuchEvent(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<sea_orm::DbErr> for WebhookError {
    fn from(error: sea_orm::DbErr) -> Self {
        WebhookError::Service(ServiceError::Db(error))
    }
}

impl WebhookError {
    pub fn into_api(self) -> ApiError {
        match self {
            WebhookError::NotFound(id) => {
                ApiError::new(ErrorCode::NotFound, format!("no webhook {id}"))
            }
            WebhookError::Invalid(message) => ApiError::malformed(message),
            WebhookError::NoSuchEvent(event) => ApiError::new(
                ErrorCode::NotFound,
                format!("no event {event}: event ids are evt_ and digits"),
            ),
            WebhookError::NotDead(event) => ApiError::new(
                ErrorCode::InvalidTransition,
                format!(
                    "event {event} is not dead for this webhook; only dead events are redelivered"
                ),
            ),
            WebhookError::Service(error) => error.into_api(),
        }
    }
}

/// The event types a subscription may name.
pub const TYPES: [&str; 3] = [
    super::MONEY_MOVED,
    super::FINDING_OPENED,
    super::FINDING_RESOLVED,
];

/// A request's fields, checked.
fn checked(request: WebhookRequest) -> Result<WebhookRequest, WebhookError> {
    let invalid = |message: &str| Err(WebhookError::Invalid(message.to_owned()));
    let url = request.url.trim().to_owned();
    match reqwest::Url::parse(&url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some()
                && url.len() <= MAX_URL_BYTES => {}
        _ => return invalid("url: an absolute http:// or https:// URL of at most 2048 bytes"),
    }
    let secret_chars = request.secret.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&secret_chars) {
        return invalid("secret: 32–256 characters");
    }
    if request.types.len() > MAX_TYPES {
        return invalid("types: at most 4 (the three types and *)");
    }
    let mut types: Vec<String> = Vec::new();
    for name in request.types {
        if name != "*" && !TYPES.contains(&name.as_str()) {
            return Err(WebhookError::Invalid(format!(
                "types: {name:?} is not an event type (money.moved, finding.opened, \
                 finding.resolved or *)"
            )));
        }
        if !types.contains(&name) {
            types.push(name);
        }
    }
    if types.is_empty() {
        return invalid("types: one or more event types, or [\"*\"]");
    }
    if types.iter().any(|t| t == "*") {
        types = vec!["*".to_owned()];
    }
    Ok(WebhookRequest {
        url,
        secret: request.secret,
        types,
        enabled: request.enabled,
    })
}

/// The types a stored subscription receives.
pub fn types_of(row: &webhook::Model) -> Vec<String> {
    serde_json::from_str(&row.types).unwrap_or_default()
}

/// Whether a subscription with `types` receives `event_type`.
pub fn receives(types: &[String], event_type: &str) -> bool {
    types.iter().any(|t| t == "*" || t == event_type)
}

/// Creates or replaces a subscription. A new one starts after the last event committed
/// so far; a replaced one keeps its place and its counts. `actor`: the staff member, whose
/// change is audited (the operator API's token names no one).
pub async fn put(
    store: &Store,
    id: WebhookId,
    request: WebhookRequest,
    actor: Option<&str>,
) -> Result<WebhookView, WebhookError> {
    let request = Arc::new(checked(request)?);
    let start = outbox::last_position(store.reader()).await?;
    let id = Arc::new(id);
    let actor: Option<Arc<str>> = actor.map(Arc::from);
    let written = Arc::clone(&id);
    store
        .write(Box::new(move |txn| {
            let (id, request, actor) = (Arc::clone(&written), Arc::clone(&request), actor.clone());
            Box::pin(async move {
                let now = Utc::now();
                let types = serde_json::to_string(&request.types)
                    .map_err(|e| ServiceError::Bug(e.to_string()))?;
                let existing = webhook::Entity::find_by_id(id.as_str()).one(txn).await?;
                let row = webhook::ActiveModel {
                    id: Set(id.as_str().to_owned()),
                    url: Set(request.url.clone()),
                    secret: Set(request.secret.clone()),
                    types: Set(types),
                    enabled: Set(request.enabled),
                    updated_at: Set(now),
                    ..Default::default()
                };
                if existing.is_some() {
                    webhook::Entity::update(row).exec(txn).await?;
                } else {
                    let row = webhook::ActiveModel {
                        created_at: Set(now),
                        dispatched_to: Set(start),
                        delivered: Set(0),
                        ..row
                    };
                    webhook::Entity::insert(row).exec(txn).await?;
                }
                let details = serde_json::json!({ "url": request.url, "types": request.types, "enabled": request.enabled });
                audit(txn, actor.as_deref(), "webhook.saved", id.as_str(), details).await
            })
        }))
        .await?;
    get(store.reader(), id.as_str())
        .await?
        .ok_or_else(|| WebhookError::NotFound(id.as_str().to_owned()))
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<WebhookView>, WebhookError> {
    let rows = webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .all(db)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        let stats = stats(db, &row).await?;
        views.push(view(&row, stats));
    }
    Ok(views)
}

pub async fn get(db: &DatabaseConnection, id: &str) -> Result<Option<WebhookView>, WebhookError> {
    let Some(row) = webhook::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let stats = stats(db, &row).await?;
    Ok(Some(view(&row, stats)))
}

fn view(row: &webhook::Model, stats: DeliveryStats) -> WebhookView {
    WebhookView {
        webhook_id: row.id.clone(),
        url: row.url.clone(),
        types: types_of(row),
        enabled: row.enabled,
        created_at: crate::idempotency::format_time(row.created_at),
        updated_at: crate::idempotency::format_time(row.updated_at),
        stats,
    }
}

/// Deletes a subscription and what its delivery kept. Returns whether it existed.
pub async fn delete(store: &Store, id: &str) -> Result<bool, WebhookError> {
    let id: Arc<str> = Arc::from(id);
    let deleted = store
        .write(Box::new(move |txn| {
            let id = Arc::clone(&id);
            Box::pin(async move {
                webhook_delivery::Entity::delete_many()
                    .filter(webhook_delivery::Column::WebhookId.eq(&*id))
                    .exec(txn)
                    .await?;
                let result = webhook::Entity::delete_by_id(&*id).exec(txn).await?;
                Ok(result.rows_affected > 0)
            })
        }))
        .await?;
    Ok(deleted)
}

/// The subscription's counts: delivered from its row, pending from its held deliveries
/// and the events after its cursor, dead from its held deliveries.
pub async fn stats(
    db: &DatabaseConnection,
    row: &webhook::Model,
) -> Result<DeliveryStats, WebhookError> {
    let held = |state: &'static str| {
        webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::WebhookId.eq(row.id.as_str()))
            .filter(webhook_delivery::Column::State.eq(state))
    };
    let dead = held(DEAD).count(db).await? as i64;
    let held_pending = held(PENDING).count(db).await? as i64;
    let oldest_held: Option<i64> = held(PENDING)
        .select_only()
        .column(webhook_delivery::Column::EventId)
        .order_by_asc(webhook_delivery::Column::Position)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    let (unsent, oldest_unsent) = unsent(db, row).await?;
    let mut oldest: Option<DateTime<Utc>> = oldest_unsent;
    if let Some(event_id) = oldest_held {
        if let Some(event) = outbox::by_ids(outbox::EventReads::pool(db), &[event_id])
            .await?
            .into_iter()
            .next()
        {
            oldest = Some(oldest.map_or(event.occurred_at, |o| o.min(event.occurred_at)));
        }
    }
    let oldest_pending_age_seconds = oldest
        .map(|at| (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    Ok(DeliveryStats {
        delivered: row.delivered,
        pending: held_pending + unsent,
        oldest_pending_age_seconds,
        dead,
    })
}

/// Events after the subscription's cursor that it receives, numbered or not yet: how
/// many, and when the oldest was committed.
async fn unsent(
    db: &DatabaseConnection,
    row: &webhook::Model,
) -> Result<(i64, Option<DateTime<Utc>>), WebhookError> {
    let backend = db.get_database_backend();
    let column = outbox::position_column(backend);
    let types = types_of(row);
    let mut sql = crate::db::sql::Sql::new(backend, "");
    let after = sql.param(row.dispatched_to);
    // On PostgreSQL a committed event has no position until the numbering pass gives it
    // one after the cursor (`outbox::number`): it is pending already.
    let mut filter = match backend {
        DbBackend::Postgres => format!("({column} > {after} OR {column} IS NULL)"),
        _ => format!("{column} > {after}"),
    };
    if !types.iter().any(|t| t == "*") {
        let list = sql.in_list(types.iter().map(String::as_str));
        filter.push_str(&format!(" AND event_type {list}"));
    }
    let text = format!(
        "SELECT COUNT(*) AS n, MIN(occurred_at) AS oldest FROM outbox_events WHERE {filter}"
    );
    let row = db
        .query_one(Statement::from_sql_and_values(backend, text, sql.values))
        .await?;
    Ok(match row {
        Some(row) => (row.try_get("", "n")?, row.try_get("", "oldest")?),
        None => (0, None),
    })
}

/// The subscription's dead events, oldest first.
pub async fn dead(db: &DatabaseConnection, id: &str) -> Result<Vec<DeadEvent>, WebhookError> {
    if webhook::Entity::find_by_id(id).one(db).await?.is_none() {
        return Err(WebhookError::NotFound(id.to_owned()));
    }
    let rows = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .filter(webhook_delivery::Column::State.eq(DEAD))
        .order_by_asc(webhook_delivery::Column::Position)
        .limit(MAX_DEAD_LISTED)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|row| row.event_id).collect();
    let types: std::collections::HashMap<i64, String> =
        outbox::by_ids(outbox::EventReads::pool(db), &ids)
            .await?
            .into_iter()
            .map(|event| (event.id, event.event_type))
            .collect();
    Ok(rows
        .into_iter()
        .map(|row| DeadEvent {
            event_id: outbox::event_id(row.event_id),
            event_type: types.get(&row.event_id).cloned().unwrap_or_default(),
            player_id: row.player_id,
            attempts: row.attempts,
            last_error: row.last_error,
        })
        .collect())
}

/// Puts a dead event back in line: it is tried again at once, as if new. It arrives after
/// later events of its player that were delivered meanwhile (docs/EVENTS.md, "Dead
/// events").
pub async fn redeliver(
    store: &Store,
    id: &str,
    event_id: &str,
    actor: Option<&str>,
) -> Result<(), WebhookError> {
    if webhook::Entity::find_by_id(id)
        .one(store.reader())
        .await?
        .is_none()
    {
        return Err(WebhookError::NotFound(id.to_owned()));
    }
    // An id that is not an event's names no dead event: 404, like a path to nothing.
    let Some(outbox_id) = outbox::parse_event_id(event_id) else {
        return Err(WebhookError::NoSuchEvent(event_id.to_owned()));
    };
    let id: Arc<str> = Arc::from(id);
    let actor: Option<Arc<str>> = actor.map(Arc::from);
    let shown: Arc<str> = Arc::from(event_id);
    let changed = store
        .write(Box::new(move |txn| {
            let (id, actor, shown) = (Arc::clone(&id), actor.clone(), Arc::clone(&shown));
            Box::pin(async move {
                let result = webhook_delivery::Entity::update_many()
                    .col_expr(
                        webhook_delivery::Column::State,
                        sea_orm::sea_query::Expr::value(PENDING),
                    )
                    .col_expr(
                        webhook_delivery::Column::Attempts,
                        sea_orm::sea_query::Expr::value(0),
                    )
                    .col_expr(
                        webhook_delivery::Column::FirstAttemptMs,
                        sea_orm::sea_query::Expr::value(Option::<i64>::None),
                    )
                    .col_expr(
                        webhook_delivery::Column::NextAttemptMs,
                        sea_orm::sea_query::Expr::value(Utc::now().timestamp_millis()),
                    )
                    .filter(webhook_delivery::Column::WebhookId.eq(&*id))
                    .filter(webhook_delivery::Column::EventId.eq(outbox_id))
                    .filter(webhook_delivery::Column::State.eq(DEAD))
                    .exec(txn)
                    .await?;
                if result.rows_affected > 0 {
                    let details = serde_json::json!({ "event_id": &*shown });
                    audit(txn, actor.as_deref(), "webhook.redelivered", &id, details).await?;
                }
                Ok(result.rows_affected)
            })
        }))
        .await?;
    if changed == 0 {
        return Err(WebhookError::NotDead(event_id.to_owned()));
    }
    Ok(())
}

/// Pauses (`false`) or resumes a subscription: it keeps its place, and once resumed it
/// sends what it missed.
pub async fn set_enabled(
    store: &Store,
    id: &str,
    enabled: bool,
    actor: Option<&str>,
) -> Result<(), WebhookError> {
    let id: Arc<str> = Arc::from(id);
    let actor: Option<Arc<str>> = actor.map(Arc::from);
    let shown = Arc::clone(&id);
    let changed = store
        .write(Box::new(move |txn| {
            let (id, actor) = (Arc::clone(&id), actor.clone());
            Box::pin(async move {
                let result = webhook::Entity::update_many()
                    .col_expr(
                        webhook::Column::Enabled,
                        sea_orm::sea_query::Expr::value(enabled),
                    )
                    .col_expr(
                        webhook::Column::UpdatedAt,
                        sea_orm::sea_query::Expr::value(Utc::now()),
                    )
                    .filter(webhook::Column::Id.eq(&*id))
                    .exec(txn)
                    .await?;
                if result.rows_affected > 0 {
                    let action = if enabled {
                        "webhook.resumed"
                    } else {
                        "webhook.paused"
                    };
                    audit(txn, actor.as_deref(), action, &id, serde_json::json!({})).await?;
                }
                Ok(result.rows_affected)
            })
        }))
        .await?;
    if changed == 0 {
        return Err(WebhookError::NotFound(shown.to_string()));
    }
    Ok(())
}

/// A staff member's change, in the staff audit log, in the change's transaction.
async fn audit(
    txn: &sea_orm::DatabaseTransaction,
    actor: Option<&str>,
    action: &str,
    id: &str,
    details: serde_json::Value,
) -> Result<(), ServiceError> {
    let Some(actor) = actor else {
        return Ok(());
    };
    crate::audit::record(txn, actor, action, "WEBHOOK", id, "", details, Utc::now()).await
}
