//! Rows as the console shows them. Times are RFC 3339 strings and amounts come
//! formatted by the server, which knows each currency's scale.
use serde::{Deserialize, Serialize};

/// One request to the wallet or operator API, as it was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRow {
    pub id: i64,
    pub request_id: String,
    pub received_at: String,
    pub latency_ms: i64,
    pub method: String,
    /// Which API the attempt was sent to: `Wallet API`, `Operator API`, `PAM (Valkyrie)`.
    pub protocol: String,
    pub endpoint: String,
    /// The W3C `traceparent` the request came with, if any.
    pub traceparent: Option<String>,
    pub provider_id: Option<String>,
    pub key_id: Option<String>,
    pub transaction_id: Option<String>,
    /// `VALID`, `INVALID`, `STALE`, `UNVERIFIED`, `NONE`, or `BEARER` (a PAM call,
    /// authenticated by the aggregator's token).
    pub signature: String,
    /// `FIRST`, `REPLAY`, `CONFLICT`, `DECLINED`, `REJECTED` or `ERROR`.
    pub outcome: String,
    pub http_status: i32,
    pub error_code: Option<String>,
}

/// An attempt with both bodies, pretty-printed when they are JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptDetail {
    pub row: AttemptRow,
    pub request_body: String,
    pub response_body: String,
}

/// A wallet transaction: one idempotency key and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionRow {
    pub id: i64,
    /// The provider whose key space holds the id (`@operator` for adjustments).
    pub provider_id: String,
    pub transaction_id: String,
    pub op: String,
    pub kind: Option<String>,
    pub player_id: String,
    pub round_id: Option<String>,
    pub game_id: Option<String>,
    /// Formatted with the currency, e.g. `12.50 EUR`.
    pub amount: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub target_transaction_id: Option<String>,
    pub state: String,
    pub error_code: Option<String>,
    pub http_status: i32,
    pub request_id: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A staff action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub reason: String,
    pub details: String,
}

/// A reconciliation finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscrepancyRow {
    pub id: i64,
    pub kind: String,
    /// `CRITICAL`, `WARNING` or `INFO`.
    pub severity: String,
    pub subject_type: FindingSubject,
    pub subject_id: String,
    pub provider_id: Option<String>,
    /// The whole details on one line, for narrow cells.
    pub details: String,
    /// The details that are not compared, as labelled values.
    pub facts: Vec<Fact>,
    /// The two sides of the finding field by field, when it has two (a provider's
    /// statement against the wallet, a balance against its ledger).
    pub comparison: Option<Comparison>,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub status: FindingStatus,
    pub acknowledged_by: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolution_note: Option<String>,
}

/// A labelled value of a finding's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub name: String,
    pub value: String,
}

/// Two sides of a finding, side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// What each side is, e.g. "Provider reported" and "Wallet".
    pub left: String,
    pub right: String,
    /// A side that has no record at all (a transaction missing in the wallet).
    pub left_missing: bool,
    pub right_missing: bool,
    pub fields: Vec<ComparedField>,
}

/// One field of a comparison; `None` where a side does not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparedField {
    pub name: String,
    pub left: Option<String>,
    pub right: Option<String>,
    /// Both sides say, and they disagree.
    pub differs: bool,
}

/// One run of the reconciliation job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub trigger: String,
    pub findings: i64,
    pub opened: i64,
    pub auto_resolved: i64,
    pub critical_open: i64,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerRow {
    pub id: String,
    pub currency: String,
    pub status: PlayerStatus,
    pub balance: String,
    pub balance_minor: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
    /// The password was reset; the user has not chosen their own yet.
    #[serde(default)]
    pub must_change_password: bool,
}

/// A signed-in console session, as admins see it. `handle` names it (a hash of its id,
/// never the id, which is the cookie's secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub handle: String,
    pub username: String,
    pub role: String,
    pub address: String,
    pub started_at: Option<String>,
    pub last_seen_at: Option<String>,
    pub expires_at: String,
}

/// A change waiting for (or decided by) a second person: a refund above its currency's
/// approval threshold, or a role change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRow {
    pub id: i64,
    /// `REFUND` or `ROLE_CHANGE`.
    pub kind: String,
    /// `PENDING`, `APPROVING`, `APPROVED`, `REJECTED` or `FAILED`.
    pub status: String,
    pub summary: String,
    /// Why the requester asks (a refund's reason).
    pub reason: Option<String>,
    pub requested_by: String,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// What the approval did, or the rejection's note.
    pub outcome: Option<String>,
}

/// A provider on the providers page: its keys and its last 24 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRow {
    pub provider_id: String,
    pub name: String,
    pub created_at: String,
    pub keys: Vec<KeyRow>,
    /// Requests in the last 24 h, by outcome class.
    pub first: i64,
    pub replays: i64,
    pub declined: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRow {
    pub key_id: String,
    pub created_at: String,
    /// `None`: never used.
    pub last_used_at: Option<String>,
}

/// A key just made: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKey {
    pub provider_id: String,
    pub key_id: String,
    pub secret: String,
}

/// The Webhooks page (admins): every subscription with its delivery stats and its dead
/// events (docs/EVENTS.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookList {
    pub rows: Vec<WebhookRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRow {
    pub webhook_id: String,
    pub url: String,
    pub types: Vec<String>,
    pub enabled: bool,
    pub created_at: String,
    pub delivered: i64,
    pub pending: i64,
    pub oldest_pending_age_seconds: f64,
    pub dead: i64,
    /// The oldest dead events (at most 200), each redeliverable.
    pub dead_events: Vec<DeadEventRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadEventRow {
    pub event_id: String,
    pub event_type: String,
    pub player_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// Whether a player may bet. The server's money path and operator API use this type too,
/// so the pages, the APIs and the database spell it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlayerStatus {
    Active,
    /// Bets are refused; wins, rollbacks and round closes still settle.
    Blocked,
}

impl PlayerStatus {
    /// The wallet's word for it, as the APIs and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            PlayerStatus::Active => "ACTIVE",
            PlayerStatus::Blocked => "BLOCKED",
        }
    }

    pub fn parse(value: &str) -> Option<PlayerStatus> {
        [PlayerStatus::Active, PlayerStatus::Blocked]
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// Where a reconciliation finding stands (the operator API filters its list by it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 3] = [
        FindingStatus::Open,
        FindingStatus::Acknowledged,
        FindingStatus::Resolved,
    ];

    /// The wallet's word for it, as the APIs and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "OPEN",
            FindingStatus::Acknowledged => "ACKNOWLEDGED",
            FindingStatus::Resolved => "RESOLVED",
        }
    }

    pub fn parse(value: &str) -> Option<FindingStatus> {
        FindingStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// What a finding is about; `subject_id` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingSubject {
    Player,
    /// `<provider or scope>/<transaction id>`.
    Transaction,
    Round,
    /// A provider's statement.
    Report,
    /// A ledger account that belongs to no single player (a provider's clearing account).
    Account,
}

impl FindingSubject {
    pub const ALL: [FindingSubject; 5] = [
        FindingSubject::Player,
        FindingSubject::Transaction,
        FindingSubject::Round,
        FindingSubject::Report,
        FindingSubject::Account,
    ];

    /// The wallet's word for it, as the APIs and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingSubject::Player => "PLAYER",
            FindingSubject::Transaction => "TRANSACTION",
            FindingSubject::Round => "ROUND",
            FindingSubject::Report => "REPORT",
            FindingSubject::Account => "ACCOUNT",
        }
    }

    pub fn parse(value: &str) -> Option<FindingSubject> {
        FindingSubject::ALL
            .into_iter()
            .find(|subject| subject.as_str() == value)
    }
}

/// The finding kind whose bet the console can refund (`reconcile::PENDING_ROLLBACK`).
pub const PENDING_ROLLBACK: &str = "PENDING_ROLLBACK";
