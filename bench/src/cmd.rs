//! Running the peers' tools (mkfs, losetup, mount, zpool, fio, ...): every
//! failure carries the command line and the tail of its stderr.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};

/// The longest stderr tail kept in an error.
const STDERR_TAIL: usize = 2000;

/// Renders a command line for messages.
pub fn display<S: AsRef<OsStr>>(program: &str, args: &[S]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(&a.as_ref().to_string_lossy());
    }
    s
}

fn tail(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    if s.len() <= STDERR_TAIL {
        return s.to_string();
    }
    let mut start = s.len() - STDERR_TAIL;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &s[start..])
}

/// Runs a command to completion; fails unless it exits 0. Returns stdout.
pub fn run<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String> {
    let out = output(program, args)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command and returns how long it took; fails unless it exits 0.
pub fn timed<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<Duration> {
    let t = Instant::now();
    output(program, args)?;
    Ok(t.elapsed())
}

/// Runs a command to completion; fails unless it exits 0.
pub fn output<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<Output> {
    crate::cleanup::check_interrupted()?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                BenchError::Missing(program.to_string())
            } else {
                BenchError::Command {
                    command: display(program, args),
                    status: "not started".into(),
                    stderr: e.to_string(),
                }
            }
        })?;
    crate::cleanup::set_foreground(child.id());
    let out = child.wait_with_output();
    crate::cleanup::set_foreground(0);
    let out = out.map_err(|e| BenchError::Command {
        command: display(program, args),
        status: "lost".into(),
        stderr: e.to_string(),
    })?;
    if !out.status.success() {
        let mut stderr = tail(&out.stderr);
        if stderr.is_empty() {
            stderr = tail(&out.stdout);
        }
        return Err(BenchError::Command {
            command: display(program, args),
            status: out.status.to_string(),
            stderr,
        });
    }
    Ok(out)
}

/// Runs a command and ignores its failure (cleanup paths), returning
/// whether it succeeded.
pub fn quiet<S: AsRef<OsStr>>(program: &str, args: &[S]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Finds a program on PATH (and in the sbin directories, which a non-login
/// root shell may lack).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/local/sbin"];
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Fails with [`BenchError::Missing`] unless every program is installed.
pub fn require(programs: &[&str]) -> Result<()> {
    for p in programs {
        if which(p).is_none() {
            return Err(BenchError::Missing((*p).to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_carry_the_command_and_stderr() {
        let e = run("sh", &["-c", "echo boom >&2; exit 3"]).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("sh -c"), "{s}");
        assert!(s.contains("boom"), "{s}");
    }

    #[test]
    fn missing_programs_say_how_to_install_them() {
        let e = run::<&str>("basin-no-such-program", &[]).unwrap_err();
        assert!(matches!(e, BenchError::Missing(_)), "{e}");
    }

    #[test]
    fn long_stderr_keeps_its_tail() {
        let long = vec![b'x'; 5000];
        let t = tail(&long);
        assert!(t.starts_with("...") && t.len() == STDERR_TAIL + 3);
    }
}
