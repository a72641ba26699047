//! Real programs on a mounted dataset: tar (an extract compared with its
//! source, metadata included), git (init, commits, fsck) and fio with
//! verification.

mod common;

use std::process::Command;

use common::{fuse_available, Fixture};

fn run(cmd: &str, dir: &std::path::Path) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn have(prog: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{prog} is not installed");
        }
        eprintln!("skipping: {prog} is not installed");
    }
    ok
}

#[test]
fn tar_extract_compares_equal() {
    if !fuse_available() || !have("tar") {
        return;
    }
    // /usr/include by default; BASIN_TAR_SRC=/usr for the whole of it.
    let src = std::env::var("BASIN_TAR_SRC").unwrap_or_else(|_| "/usr/include".into());
    let f = Fixture::new(&[]);
    let (parent, name) = src.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() { "/" } else { parent };
    let root = f.root();
    run(
        &format!(
            "tar -C {parent} -cf - {name} | tar -C {} -xpf -",
            root.display()
        ),
        &root,
    );
    // tar -d compares contents, sizes, modes, owners, times and links.
    run(
        &format!(
            "tar -C {parent} -cf - {name} | tar -C {} -df -",
            root.display()
        ),
        &root,
    );
}

#[test]
fn git_commits_and_fsck() {
    if !fuse_available() || !have("git") {
        return;
    }
    let f = Fixture::new(&[]);
    let root = f.root();
    run("git init -q repo", &root);
    let repo = root.join("repo");
    run(
        "git config user.email t@example.com && git config user.name T",
        &repo,
    );
    for i in 0..20 {
        std::fs::write(
            repo.join(format!("f{i}.txt")),
            format!("line {i}\n").repeat(i * 50 + 1),
        )
        .unwrap();
        run(
            &format!("git add f{i}.txt && git commit -q -m 'commit {i}'"),
            &repo,
        );
    }
    run(
        "git mv f0.txt moved.txt && git rm -q f1.txt && git commit -q -m reshuffle",
        &repo,
    );
    run("git gc -q && git fsck --full --strict", &repo);
    let out = Command::new("git")
        .args(["log", "--oneline"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 21);
}

#[test]
fn fio_verify() {
    if !fuse_available() || !have("fio") {
        return;
    }
    let f = Fixture::new(&[]);
    let root = f.root();
    run(
        "fio --name=verify --directory=. --size=64M --bs=4k --rw=randwrite --ioengine=psync \
         --verify=crc32c --do_verify=1 --verify_fatal=1 --fsync=32 --numjobs=2 --group_reporting >/dev/null",
        &root,
    );
    run(
        "fio --name=seq --directory=. --size=128M --bs=1M --rw=write --ioengine=psync \
         --verify=crc32c --do_verify=1 --verify_fatal=1 --end_fsync=1 >/dev/null",
        &root,
    );
}
