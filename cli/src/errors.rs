//! How the commands fail: every error becomes one or more lines on stderr,
//! worded as OpenZFS words them ("cannot open 'nope': no such pool"), and
//! an exit code: 0 success, 1 error, 2 usage. Never a backtrace, never a
//! `Debug` dump.

use std::io::Write;
use std::process::ExitCode;

use crate::client::ClientError;

/// Exit code of a command that worked.
pub const EXIT_OK: u8 = 0;
/// Exit code of a command that failed.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of a command line that makes no sense.
pub const EXIT_USAGE: u8 = 2;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The command line is wrong; the message says how.
    #[error("{0}")]
    Usage(String),
    /// The command failed; the message is complete.
    #[error("{0}")]
    Failed(String),
    /// Talking to the daemon failed, or it refused.
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl CliError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Failed(_) | CliError::Client(_) => EXIT_ERROR,
        }
    }
}

/// The result of a command: the exit code to leave with.
pub type CliResult = Result<u8, CliError>;

/// Prints `err` for an operator and returns its exit code.
pub fn report(program: &str, err: &CliError) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let _ = match err {
        CliError::Usage(msg) => writeln!(stderr, "{msg}\nRun '{program} --help' for usage."),
        other => writeln!(stderr, "{other}"),
    };
    ExitCode::from(err.exit_code())
}

/// Replaces the panic message with one line and no backtrace: a user
/// should never see a Rust dump, even when there is a bug.
pub fn install_panic_hook(program: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "{program}: internal error: {what}{at}; please report this"
        );
    }));
}

/// Writes `text` to stdout. A closed pipe (`zpool list | head -1`) ends
/// the command quietly, as it would a C program.
pub fn print_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(CliError::Failed(format!("cannot write output: {e}"))),
    }
}

/// Writes `text` to stderr, ignoring failures (there is nowhere left to
/// report them).
pub fn print_err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(CliError::Failed("x".into()).exit_code(), 1);
        let e = CliError::Client(ClientError::Daemon(crate::protocol::WireError::new(
            crate::protocol::ErrorKind::NoSuchPool,
            "cannot open 'nope': no such pool",
            2,
        )));
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.to_string(), "cannot open 'nope': no such pool");
    }
}
