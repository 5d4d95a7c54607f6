//! What each console page asks the server for, and gets back.
use serde::{Deserialize, Serialize};

use super::records::{
    ApprovalRow, AttemptDetail, AttemptRow, AuditRow, DiscrepancyRow, PlayerRow, ProviderRow,
    RunRow, SessionRow, TransactionRow, UserRow,
};

/// The overview's time windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Window {
    FifteenMinutes,
    OneHour,
    OneDay,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::FifteenMinutes, Window::OneHour, Window::OneDay];

    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::FifteenMinutes => "15m",
            Window::OneHour => "1h",
            Window::OneDay => "24h",
        }
    }

    pub fn parse(text: &str) -> Option<Window> {
        Window::ALL
            .into_iter()
            .find(|window| window.as_str() == text)
    }

    pub fn minutes(self) -> i64 {
        match self {
            Window::FifteenMinutes => 15,
            Window::OneHour => 60,
            Window::OneDay => 24 * 60,
        }
    }
}

/// Attempts by outcome class: what the attempt log's counters hold (the server sums them
/// in this type too) and what the overview shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub attempts: i64,
    pub first: i64,
    pub replays: i64,
    pub conflicts: i64,
    pub declined: i64,
    pub rejected: i64,
    pub errors: i64,
    /// Answers with a 5xx status, whatever their outcome class.
    pub status_5xx: i64,
}

impl Outcomes {
    /// Replays per attempt, 0 when there were none.
    pub fn replay_rate(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            self.replays as f64 / self.attempts as f64
        }
    }

    /// Adds another span's attempts to these.
    pub fn add(&mut self, other: &Outcomes) {
        self.attempts += other.attempts;
        self.first += other.first;
        self.replays += other.replays;
        self.conflicts += other.conflicts;
        self.declined += other.declined;
        self.rejected += other.rejected;
        self.errors += other.errors;
        self.status_5xx += other.status_5xx;
    }
}

/// Attempts of a span by outcome class, with their latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub outcomes: Outcomes,
    pub latency_ms_p50: Option<i64>,
    pub latency_ms_p99: Option<i64>,
}

/// One minute of the charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinutePoint {
    /// Seconds since the epoch, at the start of the minute.
    pub minute_s: i64,
    pub totals: Totals,
}

/// Refusals of one error code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeCount {
    pub outcome: String,
    pub error_code: String,
    pub http_status: i32,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub window: Window,
    pub provider_id: Option<String>,
    /// Every provider, for the selector.
    pub providers: Vec<String>,
    pub since: String,
    pub totals: Totals,
    pub codes: Vec<CodeCount>,
    /// What duplicate requests would have moved a second time, per currency, formatted.
    pub double_charges_prevented: Vec<String>,
    /// The minutes of the window that had traffic, oldest first. The charts draw every
    /// other minute as a zero: a day is 1,440 minutes, mostly empty on a quiet wallet,
    /// and sending them all would put 300 KB of zeros into the page.
    pub series: Vec<MinutePoint>,
    /// The window's first minute, in seconds since the epoch.
    pub series_start_s: i64,
    /// How many minutes the window spans, the current one included.
    pub series_minutes: i64,
    pub open_pending_rollbacks: i64,
    pub open_discrepancies: i64,
}

/// Narrows the live trace; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedFilter {
    pub provider_id: String,
    pub endpoint: String,
    pub outcome: String,
    pub player_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    /// Newest first.
    pub rows: Vec<AttemptRow>,
    /// The newest attempt id seen: poll with it for what comes next.
    pub cursor: Option<i64>,
}

/// A ledger entry; the player's entry carries the balance before and after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub id: i64,
    pub account: String,
    pub amount: String,
    pub balance_before: Option<String>,
    pub balance_after: Option<String>,
    pub chain_hash: Option<String>,
    pub created_at: String,
}

/// One step of a transaction's life, for the "what happened when" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub at: String,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundView {
    pub round_id: String,
    pub game_id: String,
    pub state: String,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub transactions: Vec<TransactionRow>,
}

/// Whether the player's ledger hash chain verifies up to this transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainVerdict {
    Verified { entries: u64 },
    Broken { entry_id: i64, reason: String },
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionTrace {
    pub transaction: TransactionRow,
    pub first_request: String,
    pub first_response: String,
    pub history: Vec<HistoryEvent>,
    pub attempts: Vec<AttemptDetail>,
    pub ledger: Vec<LedgerLine>,
    pub round: Option<RoundView>,
    /// The bet a rollback or win names.
    pub target: Option<TransactionRow>,
    /// Rollbacks and wins naming this transaction.
    pub related: Vec<TransactionRow>,
    /// Set when a rollback came before its bet.
    pub tombstone: Option<String>,
    pub audit: Vec<AuditRow>,
    pub chain: ChainVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub query: String,
    pub transactions: Vec<TransactionTrace>,
    /// Attempts of a request id that reached no transaction (a bad signature, say).
    pub unmatched_attempts: Vec<AttemptDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub query: String,
    pub rows: Vec<TransactionRow>,
    /// Zero-based.
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
}

/// A finding that needs a person: an orphan debit, a tombstone, a stale round, a hint mismatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRow {
    pub finding: DiscrepancyRow,
    pub player_id: Option<String>,
    /// The orphan bet, when the finding is about one: what a refund reverses.
    pub bet: Option<TransactionRow>,
    pub amount: Option<String>,
    pub since: String,
    pub age_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPage {
    pub rows: Vec<PendingRow>,
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingFilter {
    pub kind: String,
    pub status: String,
    pub before_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub runs: Vec<RunRow>,
    pub findings: Vec<DiscrepancyRow>,
    pub next_before_id: Option<i64>,
    /// Every kind, for the filter.
    pub kinds: Vec<String>,
    pub providers: Vec<String>,
    /// The demo's simulated providers are playing (`WALLET_DEMO`): their statements carry
    /// planted discrepancies, which the page says so nobody takes them for an incident.
    pub demo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerList {
    pub query: String,
    pub rows: Vec<PlayerRow>,
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerDetail {
    pub player: PlayerRow,
    pub history: Vec<TransactionRow>,
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: String,
    pub action: String,
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    pub rows: Vec<UserRow>,
}

/// Why money operations are refused right now, when they are: shown on every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseFull {
    /// RFC 3339, when the first write was refused for lack of space.
    pub since: String,
    /// The database's own words.
    pub error: String,
}

/// The four-eyes queue: open requests oldest first, then the last decided ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalQueue {
    pub open: Vec<ApprovalRow>,
    pub decided: Vec<ApprovalRow>,
}

/// The caller's second factor, for the account page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaStatus {
    pub enrolled: bool,
    pub recovery_codes_left: u32,
    /// Whether the role needs one (`WALLET_MFA_REQUIRED`).
    pub required: bool,
}

/// What setting up a second factor shows: the QR code (an inline `<svg>` drawn by the
/// server) and the same secret as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaSetup {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// Every provider, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderList {
    pub rows: Vec<ProviderRow>,
}

/// Every signed-in session, most recent request first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    pub rows: Vec<SessionRow>,
}
