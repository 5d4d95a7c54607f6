//! What every handler shares.
use std::sync::Arc;

use crate::db::Store;
use crate::domain::CurrencyTable;
use crate::trace::AttemptLog;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub currencies: Arc<CurrencyTable>,
    /// The operator API's bearer token.
    pub operator_token: Arc<str>,
    /// Where every request leaves its record.
    pub attempts: AttemptLog,
    /// Provider keys for the signature check: cached on SQLite, read each time on PostgreSQL.
    pub keys: crate::wallet::keys::KeyCache,
    /// The wallet API's per-key rate limit (`WALLET_RATE_LIMIT_PER_KEY`), off when `None`.
    pub wallet_rate_limit: Option<crate::wallet::rate_limit::KeyRateLimit>,
    /// The reconciliation job's settings, for runs started by a person.
    pub schedule: crate::reconcile::Schedule,
}
