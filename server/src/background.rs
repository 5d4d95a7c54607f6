//! Work that may wait while the money path is busy: a thread of its own with its own
//! runtime, at a lower CPU priority than the rest of the process. The kernel then runs
//! the requests' threads first and gives such a thread the CPU they leave; under full
//! load its work lags instead of bets slowing down (docs/PERFORMANCE.md, "Events: the
//! sends at a lower priority").
//!
//! What the work opens there (sockets, database connections, with
//! `db::Store::for_background`) belongs to that thread's runtime and should stay the
//! work's own: a connection is driven by the runtime that opened it, and this one's turn
//! may come late.
use std::future::Future;

/// How much lower than the process's a background thread's priority is: a niceness of
/// 10 weighs about a tenth of an ordinary thread when both want the CPU.
const NICENESS: i32 = 10;

/// Runs the future `work` builds on a thread named `name` at a lower priority; the
/// thread ends when the future does.
pub fn run_low_priority<W, F>(name: &str, work: W) -> std::io::Result<()>
where
    W: FnOnce() -> F + Send + 'static,
    F: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_priority();
            runtime.block_on(work());
        })?;
    Ok(())
}

/// Completes when the runtime this is called on shuts down. Background work started by
/// a server waits on it beside its loop, so that it stops, and lets go of the server's
/// database connections, with the server (tests run many servers in one process).
pub fn until_runtime_ends() -> impl Future<Output = ()> + Send + 'static {
    let (held, released) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _held = held;
        std::future::pending::<()>().await
    });
    async move {
        let _ = released.await;
    }
}

/// Lowers the calling thread's priority by `NICENESS` (on Linux a niceness belongs to a
/// thread). Lowering needs no privilege; if it fails the thread runs at the process's
/// priority, which is correct, only dearer under load.
pub(crate) fn lower_priority() {
    let thread = rustix::thread::gettid();
    let lowered = rustix::process::getpriority_process(Some(thread)).and_then(|now| {
        rustix::process::setpriority_process(Some(thread), (now + NICENESS).min(19))
    });
    if let Err(error) = lowered {
        tracing::warn!(%error, "could not lower a background thread's priority");
    }
}
