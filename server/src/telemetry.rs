//! Logs through `tracing`: human-readable by default, JSON lines with `LOG_FORMAT=json`,
//! filtered by `RUST_LOG`.
use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init`: tests start many servers in one process; the first subscriber wins.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
