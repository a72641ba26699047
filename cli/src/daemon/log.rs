//! The daemon's log: one line per event on stderr, with the local time.

use std::fmt::Display;
use std::io::Write;

use crate::format::time;

/// Writes one line to the log.
pub fn log(msg: impl Display) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let stamp = time::local(now).history_stamp();
    let _ = writeln!(
        std::io::stderr().lock(),
        "{stamp} basind[{}]: {msg}",
        std::process::id()
    );
}
