//! The pjdfstest POSIX conformance suite against a mounted dataset. Every
//! test must pass except those listed in docs/pjdfstest.md with the reason
//! (remounting read-only, a limit FUSE cannot report).

mod common;

use std::process::Command;

use common::{fuse_available, Fixture};

#[test]
fn pjdfstest_passes() {
    if !fuse_available() {
        return;
    }
    let bin = std::env::var("PJDFSTEST").unwrap_or_else(|_| "pjdfstest".into());
    if Command::new(&bin).arg("--version").output().is_err() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("pjdfstest is not installed (scripts/setup.sh installs it)");
        }
        eprintln!("skipping: pjdfstest is not installed (cargo install pjdfstest)");
        return;
    }
    let f = Fixture::new(&[]);
    // A second filesystem for the EXDEV tests.
    let other = tempfile::tempdir().unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/pjdfstest.toml");
    let out = Command::new(&bin)
        .args(["-c", config, "-p"])
        .arg(f.root())
        .arg("-s")
        .arg(other.path())
        .current_dir(f.root())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let summary = text
        .lines()
        .find(|l| l.starts_with("Summary:"))
        .unwrap_or("no summary")
        .to_string();
    eprintln!("pjdfstest: {summary}");
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_end().ends_with("FAILED"))
        .collect();
    assert!(
        out.status.success() && failed.is_empty(),
        "pjdfstest failures: {failed:?}\n{summary}"
    );
    assert!(summary.contains(" 0 failed"), "{summary}");
}
