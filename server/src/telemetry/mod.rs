//! What the wallet tells its operators about itself: logs through `tracing`
//! (human-readable by default, JSON lines with `LOG_FORMAT=json`, filtered by
//! `RUST_LOG`), and the process's metrics ([`metrics`]).
pub mod metrics;

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

/// Who the log is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// The server: every event at `info` on standard output, where a service manager or a
    /// container runtime collects it.
    Server,
    /// A command-line tool (`server reconcile`, `users`, …): its output is the answer on
    /// standard output, so the log goes to standard error and shows warnings only.
    Tool,
}

/// Starts logging; `filter` (`--log-filter`/`RUST_LOG`) overrides the target's default.
pub fn init(json: bool, filter: Option<&str>, target: LogTarget) {
    let default = match target {
        LogTarget::Server => "info,sqlx=warn,sea_orm=warn,tower_http=warn",
        LogTarget::Tool => "warn,sqlx=error,sea_orm=error",
    };
    let filter = filter
        .and_then(|text| EnvFilter::try_new(text).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let writer = match target {
        LogTarget::Server => BoxMakeWriter::new(std::io::stdout),
        LogTarget::Tool => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // `try_init`: tests start many servers in one process; the first subscriber wins.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
