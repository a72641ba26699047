//! The daemon: ownership of pools against other daemons and copies,
//! restarts after SIGKILL and SIGTERM, the socket, the protocol on the wire.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{digest, s, zpool_at, Daemon, TestDir, BASIND};

#[test]
fn a_second_daemon_cannot_take_vdevs_another_holds() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let d1 = t.daemon("one");
    let d2 = t.daemon("two");
    d1.zpool(&["create", "tank", "mirror", s(&a), s(&b)]).ok();

    let listing = d2.zpool(&["import", "-d", s(&t.vdevs)]);
    let text = listing.ok();
    assert!(text.contains("  pool: tank\n"), "{listing:?}");
    assert!(
        text.contains(&format!(
            "status: The pool is in use by another process on this host (pid {}).\n",
            d1.pid()
        )),
        "{listing:?}"
    );
    let held = format!(
        "cannot import 'tank': pool 'tank' is in use by another process on this host (pid {})",
        d1.pid()
    );
    d2.zpool(&["import", "-d", s(&t.vdevs), "tank"])
        .fails(1, &held);
    d2.zpool(&["import", "-f", "-d", s(&t.vdevs), "tank"])
        .fails(1, &held);
    d2.zpool(&["create", "-f", "other", s(&a)])
        .fails(1, "is in use by another process");
    assert_eq!(d2.zpool(&["list"]).ok(), "no pools available\n");
    // The owner never noticed.
    assert_eq!(
        d1.zpool(&["list", "-H", "-o", "name,health"]).ok(),
        "tank\tONLINE\n"
    );
    d1.zpool(&["export", "tank"]).ok();
    // Once exported, the other daemon may have it.
    d2.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    assert_eq!(
        d2.zpool(&["list", "-H", "-o", "name,health"]).ok(),
        "tank\tONLINE\n"
    );
    d2.zpool(&["export", "tank"]).ok();
}

#[test]
fn a_copy_of_a_held_pool_is_refused_unless_forced() {
    let t = TestDir::new();
    // Both daemons share the host-wide lock directory, as on one host.
    let a = t.vdev("a");
    let b = t.vdev("b");
    let d1 = t.daemon("one");
    let d2 = t.daemon("two");
    d1.zpool(&["create", "tank", "mirror", s(&a), s(&b)]).ok();
    d1.zpool(&["export", "tank"]).ok();
    d1.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();

    let copies = t.root().join("copies");
    std::fs::create_dir_all(&copies).unwrap();
    for f in [&a, &b] {
        let st = Command::new("cp")
            .arg("--sparse=always")
            .arg(f)
            .arg(&copies)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let copied: Vec<_> = ["a", "b"].iter().map(|n| copies.join(n)).collect();
    let before: Vec<u64> = copied.iter().map(|p| digest(p)).collect();
    let listing = d2.zpool(&["import", "-d", s(&copies)]);
    assert!(
        listing.ok().contains("status: The pool is in use"),
        "{listing:?}"
    );
    d2.zpool(&["import", "-d", s(&copies), "tank"])
        .fails(1, "cannot import 'tank': pool 'tank' is in use on host");
    assert_eq!(d2.zpool(&["list"]).ok(), "no pools available\n");
    let after: Vec<u64> = copied.iter().map(|p| digest(p)).collect();
    assert_eq!(before, after, "a refused import wrote to the copies");
    d2.zpool(&["import", "-f", "-d", s(&copies), "tank"]).ok();
    assert_eq!(
        d2.zpool(&["list", "-H", "-o", "name,health"]).ok(),
        "tank\tONLINE\n"
    );
    assert_eq!(
        d1.zpool(&["list", "-H", "-o", "name,health"]).ok(),
        "tank\tONLINE\n"
    );
    d2.zpool(&["export", "tank"]).ok();
    d1.zpool(&["export", "tank"]).ok();
}

#[test]
fn pools_come_back_after_sigkill_and_sigterm() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let mut d = t.daemon("d");
    d.zpool(&["create", "tank", "mirror", s(&a), s(&b)]).ok();
    d.zpool(&["set", "comment=kept", "tank"]).ok();
    let cache = std::fs::read_to_string(d.state.join("zpool.cache")).unwrap();
    assert!(cache.contains("\"tank\""), "{cache}");

    // SIGKILL: nothing exported, nothing closed; the restart imports it.
    d.kill9();
    d.restart();
    let status = d.zpool(&["status", "tank"]);
    assert!(
        status.ok().starts_with("  pool: tank\n state: ONLINE\n"),
        "{status:?}"
    );
    assert!(
        status.stdout.contains(&format!("\t    {}  ONLINE", s(&a))),
        "{status:?}"
    );
    assert_eq!(
        d.zpool(&["get", "-H", "-o", "value", "comment", "tank"])
            .ok(),
        "kept\n"
    );
    assert!(d.log_text().contains("imported pool 'tank' from the cache"));

    // SIGTERM: a clean stop that exports nothing.
    let st = d.terminate();
    assert!(st.success(), "{st}");
    assert!(!d.socket.exists(), "socket left behind");
    assert!(!d.state.join("basind.pid").exists(), "pid file left behind");
    assert!(d.log_text().contains("closed pool 'tank'"));
    d.restart();
    assert_eq!(
        d.zpool(&["list", "-H", "-o", "name,health"]).ok(),
        "tank\tONLINE\n"
    );
    let hist = d.zpool(&["history", "tank"]);
    assert!(
        hist.ok().contains(" zpool set comment=kept tank\n"),
        "{hist:?}"
    );

    // Exported pools are not imported at start.
    d.zpool(&["export", "tank"]).ok();
    d.kill9();
    d.restart();
    assert_eq!(d.zpool(&["list"]).ok(), "no pools available\n");
}

#[test]
fn the_socket_is_private_or_shared_with_one_group() {
    let t = TestDir::new();
    let d = t.daemon("private");
    let meta = std::fs::metadata(&d.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // --group with our own primary group needs no privilege.
    let gid = nix::unistd::getgid();
    match nix::unistd::Group::from_gid(gid).ok().flatten() {
        Some(group) => {
            let g = Daemon::start_with(t.root(), "shared", &t.locks, &["--group", &group.name]);
            let meta = std::fs::metadata(&g.socket).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o660);
            assert_eq!(meta.gid(), gid.as_raw());
            assert_eq!(g.zpool(&["list"]).ok(), "no pools available\n");
        }
        None => eprintln!("skipping the --group check: gid {gid} has no group name"),
    }

    // A second daemon on a live socket, or on a used state dir, refuses.
    let out = Command::new(BASIND)
        .args(["--foreground", "--socket", s(&d.socket), "--state-dir"])
        .arg(t.root().join("other-state"))
        .env("BASIN_LOCK_DIR", &t.locks)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another basind is already listening on"),
        "{out:?}"
    );
    let out = Command::new(BASIND)
        .args(["--foreground", "--socket"])
        .arg(t.root().join("x.sock"))
        .arg("--state-dir")
        .arg(&d.state)
        .env("BASIN_LOCK_DIR", &t.locks)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("another basind is using the state directory"),
        "{out:?}"
    );
}

/// Waits for `pid`, a descendant adopted by this process, to exit, and
/// reaps it.
fn reap(pid: i32) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let p = nix::unistd::Pid::from_raw(pid);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match waitpid(p, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(20)),
            _ => return,
        }
    }
    panic!("basind {pid} did not stop");
}

#[test]
fn without_foreground_basind_detaches_once_ready() {
    // Adopt the detached daemon when its parent exits, so that it can be
    // reaped here rather than left a zombie.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let t = TestDir::new();
    let sock = t.root().join("bg.sock");
    let state = t.root().join("bg-state");
    let log = std::fs::File::create(t.root().join("bg.log")).unwrap();
    let st = Command::new(BASIND)
        .arg("--socket")
        .arg(&sock)
        .arg("--state-dir")
        .arg(&state)
        .env("BASIN_LOCK_DIR", &t.locks)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .status()
        .unwrap();
    assert!(st.success());
    let pid: i32 = std::fs::read_to_string(state.join("basind.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Stop it even if an assertion below fails.
    struct Stop(i32);
    impl Drop for Stop {
        fn drop(&mut self) {
            let p = nix::unistd::Pid::from_raw(self.0);
            if nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL).is_ok() {
                let _ = nix::sys::wait::waitpid(p, None);
            }
        }
    }
    let guard = Stop(pid);
    // Ready means serving: no wait needed.
    assert_eq!(zpool_at(&sock, &["list"]).ok(), "no pools available\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    reap(pid);
    std::mem::forget(guard);
    assert!(!sock.exists());
}

fn raw_call(socket: &Path, line: &str) -> serde_json::Value {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(line.as_bytes()).unwrap();
    s.write_all(b"\n").unwrap();
    let mut r = BufReader::new(s);
    let mut answer = String::new();
    r.read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn the_protocol_on_the_wire() {
    let t = TestDir::new();
    let d = t.daemon("d");
    let hello = raw_call(
        &d.socket,
        r#"{"version":1,"id":5,"request":{"op":"hello"}}"#,
    );
    assert_eq!(hello["version"], 1);
    assert_eq!(hello["id"], 5);
    assert_eq!(hello["result"]["daemon"], "basind");
    assert_eq!(hello["result"]["protocol"], 1);
    assert_eq!(hello["result"]["pid"], d.pid());

    let v2 = raw_call(
        &d.socket,
        r#"{"version":2,"id":6,"request":{"op":"hello"}}"#,
    );
    assert_eq!(v2["id"], 6);
    assert_eq!(v2["error"]["kind"], "version_mismatch");
    assert!(v2["error"]["message"]
        .as_str()
        .unwrap()
        .contains("basind speaks protocol version 1"));

    let bad = raw_call(
        &d.socket,
        r#"{"version":1,"id":7,"request":{"op":"zpool.frob"}}"#,
    );
    assert_eq!(bad["error"]["kind"], "bad_request");
    let junk = raw_call(&d.socket, "\u{1}\u{2} not json");
    assert_eq!(junk["error"]["kind"], "bad_request");
    let nope = raw_call(
        &d.socket,
        r#"{"version":1,"id":8,"request":{"op":"zpool.status","names":["nope"]}}"#,
    );
    assert_eq!(nope["result"]["errors"][0]["kind"], "no_such_pool");
    assert_eq!(nope["result"]["errors"][0]["errno"], libc::ENOENT);

    // A client that sends half a request does not hold up the others.
    let mut idle = UnixStream::connect(&d.socket).unwrap();
    idle.write_all(br#"{"version":1,"id":1,"requ"#).unwrap();
    let started = Instant::now();
    assert_eq!(d.zpool(&["list"]).ok(), "no pools available\n");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(idle);
    // And the daemon still serves after all of that.
    assert_eq!(d.zpool(&["status"]).stderr, "no pools available\n");
}
