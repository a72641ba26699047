//! Files, directories and links through a FUSE mount.

mod common;

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::{fuse_available, Fixture};

#[test]
fn files_directories_links() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(&[]);
    fs::write(f.p("a.txt"), b"hello world").unwrap();
    assert_eq!(fs::read(f.p("a.txt")).unwrap(), b"hello world");
    fs::create_dir(f.p("d")).unwrap();
    fs::create_dir(f.p("d/e")).unwrap();
    fs::write(f.p("d/e/f"), vec![7u8; 300_000]).unwrap();
    assert_eq!(fs::read(f.p("d/e/f")).unwrap(), vec![7u8; 300_000]);
    assert_eq!(fs::metadata(f.p("d")).unwrap().nlink(), 3);
    fs::rename(f.p("d/e/f"), f.p("g")).unwrap();
    assert!(!f.p("d/e/f").exists());
    assert_eq!(fs::metadata(f.p("g")).unwrap().len(), 300_000);
    std::os::unix::fs::symlink("a.txt", f.p("sym")).unwrap();
    assert_eq!(fs::read_link(f.p("sym")).unwrap().to_str(), Some("a.txt"));
    assert_eq!(fs::read(f.p("sym")).unwrap(), b"hello world");
    let long: String = "x".repeat(1000);
    std::os::unix::fs::symlink(&long, f.p("longsym")).unwrap();
    assert_eq!(
        fs::read_link(f.p("longsym")).unwrap().to_str(),
        Some(long.as_str())
    );
    fs::hard_link(f.p("a.txt"), f.p("hl")).unwrap();
    assert_eq!(fs::metadata(f.p("a.txt")).unwrap().nlink(), 2);
    fs::remove_file(f.p("a.txt")).unwrap();
    assert_eq!(fs::read(f.p("hl")).unwrap(), b"hello world");
    fs::set_permissions(f.p("hl"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        fs::metadata(f.p("hl")).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    assert!(fs::remove_dir(f.p("d")).is_err(), "not empty");
    fs::remove_dir(f.p("d/e")).unwrap();
    fs::remove_dir(f.p("d")).unwrap();
    let mut names: Vec<String> = fs::read_dir(f.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["g", "hl", "longsym", "sym"]);
    // Sparse files and truncate.
    let mut fh = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(f.p("sparse"))
        .unwrap();
    fh.seek(SeekFrom::Start(10 << 20)).unwrap();
    fh.write_all(b"end").unwrap();
    assert_eq!(fh.metadata().unwrap().len(), (10 << 20) + 3);
    assert!(
        fh.metadata().unwrap().blocks() < 1024,
        "holes cost no space"
    );
    fh.set_len(5).unwrap();
    let mut b = Vec::new();
    fh.seek(SeekFrom::Start(0)).unwrap();
    fh.read_to_end(&mut b).unwrap();
    assert_eq!(b, vec![0u8; 5]);
    // An unlinked file stays readable while open.
    let mut keep = fs::File::open(f.p("g")).unwrap();
    fs::remove_file(f.p("g")).unwrap();
    let mut buf = vec![0u8; 10];
    keep.read_exact(&mut buf).unwrap();
    assert_eq!(buf, vec![7u8; 10]);
    drop(keep);
}

#[test]
fn many_files_in_one_directory() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(&[]);
    fs::create_dir(f.p("big")).unwrap();
    for i in 0..5000 {
        fs::write(f.p(&format!("big/file-{i:05}")), format!("{i}")).unwrap();
    }
    let n = fs::read_dir(f.p("big")).unwrap().count();
    assert_eq!(n, 5000);
    assert_eq!(fs::read_to_string(f.p("big/file-04321")).unwrap(), "4321");
    for i in 0..5000 {
        if i % 2 == 0 {
            fs::remove_file(f.p(&format!("big/file-{i:05}"))).unwrap();
        }
    }
    assert_eq!(fs::read_dir(f.p("big")).unwrap().count(), 2500);
}

#[test]
fn snapshots_xattrs_exchange_direct_io_statfs() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(&[("quota", "64M")]);
    fs::write(f.p("kept"), b"version 1").unwrap();
    f.dsl.snapshot(&["tp/fs@one".into()], false).unwrap();
    fs::write(f.p("kept"), b"version 2").unwrap();
    fs::write(f.p("new"), b"after").unwrap();
    // .zfs is hidden from listings but can be entered.
    let names: Vec<String> = fs::read_dir(f.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.contains(&".zfs".to_string()));
    let snaps: Vec<String> = fs::read_dir(f.p(".zfs/snapshot"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(snaps, vec!["one"]);
    assert_eq!(
        fs::read(f.p(".zfs/snapshot/one/kept")).unwrap(),
        b"version 1"
    );
    assert!(!f.p(".zfs/snapshot/one/new").exists());
    let e = fs::write(f.p(".zfs/snapshot/one/kept"), b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    // Extended attributes.
    xattr_set(&f.p("kept"), "user.color", b"blue");
    assert_eq!(
        xattr_get(&f.p("kept"), "user.color").as_deref(),
        Some(&b"blue"[..])
    );
    assert_eq!(xattr_get(&f.p("kept"), "user.none"), None);
    // RENAME_EXCHANGE swaps.
    let c = |p: &std::path::Path| std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: two valid C strings; renameat2 reads them only.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            c(&f.p("kept")).as_ptr(),
            libc::AT_FDCWD,
            c(&f.p("new")).as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    assert_eq!(fs::read(f.p("kept")).unwrap(), b"after");
    assert_eq!(fs::read(f.p("new")).unwrap(), b"version 2");
    // O_DIRECT reads and writes pass through.
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut fh = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(f.p("direct"))
            .unwrap();
        fh.write_all(&vec![9u8; 1 << 20]).unwrap();
    }
    assert_eq!(fs::read(f.p("direct")).unwrap(), vec![9u8; 1 << 20]);
    // statfs reports the quota, not the pool.
    let st = nix::sys::statvfs::statvfs(&f.root()).unwrap();
    let total = st.blocks() * st.fragment_size();
    assert!(
        total <= 64 << 20 && total > 60 << 20,
        "statfs total {total}"
    );
}

fn xattr_set(p: &std::path::Path, name: &str, v: &[u8]) {
    let cp = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    let cn = std::ffi::CString::new(name).unwrap();
    // SAFETY: valid C strings and a buffer of v.len() bytes.
    let r = unsafe { libc::setxattr(cp.as_ptr(), cn.as_ptr(), v.as_ptr().cast(), v.len(), 0) };
    assert_eq!(r, 0, "setxattr: {}", std::io::Error::last_os_error());
}

fn xattr_get(p: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    let cp = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    let cn = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and a buffer of buf.len() bytes.
    let n = unsafe { libc::getxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}
