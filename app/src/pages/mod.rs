//! One module per console page.
pub mod account;
pub mod approvals;
pub mod audit;
pub mod live;
pub mod login;
pub mod overview;
pub mod pending;
pub mod players;
pub mod providers;
pub mod reconciliation;
pub mod search;
pub mod trace;
pub mod users;
pub mod webhooks;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A query parameter of the current URL, empty when missing.
pub fn query_param(name: &'static str) -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get(name).unwrap_or_default())
}

/// A zero-based page number from the URL.
pub fn page_param() -> Memo<u64> {
    let page = query_param("page");
    Memo::new(move |_| page.get().parse().unwrap_or(0))
}

/// Calls `tick` every `seconds` while the page is open in a browser (effects do not run
/// during server rendering).
pub fn every(seconds: u64, tick: impl Fn() + 'static) {
    let tick = std::rc::Rc::new(tick);
    Effect::new(move |_| {
        #[allow(unused_variables)]
        let handle = {
            let tick = tick.clone();
            set_interval_with_handle(move || tick(), std::time::Duration::from_secs(seconds))
        };
        #[cfg(feature = "hydrate")]
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
}
