//! Work that may wait while the money path is busy: a thread of its own with its own
//! runtime, at a lower CPU priority than the rest of the process. The kernel then runs
//! the requests' threads first and gives such a thread the CPU they leave; under full
//! load its work lags instead of bets slowing down (docs/PERFORMANCE.md, "Events: the
//! sends at a lower priority").
//!
//! Tasks spawned on the returned handle run on that thread. What they open there
//! (sockets, database connections, with `db::Store::for_background`) belongs to its
//! runtime and should stay theirs: a connection is driven by the runtime that opened it,
//! and this one's turn may come late.

/// How much lower than the process's a background thread's priority is: a niceness of
/// 10 weighs about a tenth of an ordinary thread when both want the CPU.
const NICENESS: i32 = 10;

/// Starts a thread named `name` at a lower priority and returns its runtime's handle.
pub fn low_priority_runtime(name: &str) -> std::io::Result<tokio::runtime::Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_priority();
            runtime.block_on(std::future::pending::<()>());
        })?;
    Ok(handle)
}

/// Lowers the calling thread's priority by `NICENESS` (on Linux a niceness belongs to a
/// thread). Lowering needs no privilege; if it fails the thread runs at the process's
/// priority, which is correct, only dearer under load.
fn lower_priority() {
    let thread = rustix::thread::gettid();
    let lowered = rustix::process::getpriority_process(Some(thread)).and_then(|now| {
        rustix::process::setpriority_process(Some(thread), (now + NICENESS).min(19))
    });
    if let Err(error) = lowered {
        tracing::warn!(%error, "could not lower a background thread's priority");
    }
}
