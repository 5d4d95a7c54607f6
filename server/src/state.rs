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
}
