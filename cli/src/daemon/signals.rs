//! Shutdown signals: blocked in every thread and taken by one waiter, so
//! that no pool thread is interrupted and the shutdown runs in order.

use std::thread::JoinHandle;

use nix::sys::signal::{SigSet, Signal};

use super::log::log;

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
/// thread it starts later); returns the set to wait on.
pub fn block() -> nix::Result<SigSet> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGHUP);
    set.thread_block()?;
    Ok(set)
}

/// Starts the thread that waits for `set`: the first SIGTERM or SIGINT
/// calls `on_stop`; SIGHUP and later signals are only logged.
pub fn spawn_waiter(
    set: SigSet,
    on_stop: impl FnOnce(Signal) + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("basind-signals".into())
        .spawn(move || {
            let mut on_stop = Some(on_stop);
            while let Ok(sig) = set.wait() {
                if sig == Signal::SIGHUP {
                    log("SIGHUP ignored");
                    continue;
                }
                match on_stop.take() {
                    Some(f) => f(sig),
                    None => log(format!("{sig}: already stopping")),
                }
            }
        })
}
