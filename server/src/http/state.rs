//! What every handler shares.
use std::sync::Arc;

use crate::attempts::AttemptLog;
use crate::db::Store;
use crate::domain::CurrencyTable;

/// A handle: every layer of the router and every handler clones it, so it is one `Arc`
/// (one atomic add per clone) rather than the dozen its parts would take.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

pub struct AppStateInner {
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
    /// The trail's seal key and file; `None` without `WALLET_SEAL_KEY`.
    pub sealing: Option<crate::seal::Sealing>,
    /// The PAM API's bearer token (`WALLET_VALKYRIE_API_KEY`); the PAM API is off when
    /// `None`.
    pub valkyrie_api_key: Option<Arc<str>>,
    /// What PAM sessions answer for a player's unset country and language.
    pub locale_defaults: crate::pam::account::LocaleDefaults,
}
