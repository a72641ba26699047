//! The child's durability log: an append-only file of JSON lines, each
//! fsynced before the child goes on. A `Sync` line says what the pool held
//! durably at a txg; a `Snap` line gives the contents of a snapshot once
//! (snapshots never change); an `Fsync` line what an intent log commit
//! made durable in one filesystem; the other lines are *intents*, written before
//! an operation that may take away something an earlier `Sync` line
//! promised, so that the checker knows not to expect it any more.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Units of an object: unit index to generation (holes left out).
pub type Units = BTreeMap<u64, u64>;
/// Contents of a dataset: object id to its units.
pub type Content = BTreeMap<u64, Units>;

/// One line of the log.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// The child started.
    Start {
        round: u64,
        seed: u64,
        faults: String,
    },
    /// Durable as of `txg`: for every listed filesystem, every listed
    /// object exists, and each listed unit holds data of at least that
    /// generation (a positive value) or, for a non-positive value `-g`,
    /// holds no data older than generation `g` (it was freed then); every
    /// listed snapshot exists with the contents its `Snap` line gave.
    Sync {
        txg: u64,
        fss: BTreeMap<String, BTreeMap<u64, Vec<(u64, i64)>>>,
        snaps: Vec<String>,
    },
    /// The intent log of filesystem `fs` was committed: like a `Sync`
    /// line for that filesystem alone, whatever txg syncs next.
    Fsync {
        fs: String,
        objs: BTreeMap<u64, Vec<(u64, i64)>>,
    },
    /// The contents of a snapshot.
    Snap { name: String, content: Content },
    /// Intent: destroy filesystem `fs` with its descendants and snapshots.
    DestroyFs { fs: String },
    /// Intent: destroy a snapshot.
    DestroySnap { snap: String },
    /// Intent: roll `fs` back to its newest snapshot.
    Rollback { fs: String },
    /// Intent: promote `fss[0]` (snapshots of `fss[1]` move over).
    Promote { fss: Vec<String> },
    /// Intent: free an object.
    FreeObj { fs: String, obj: u64 },
    /// Intent: free units `[lo, hi)` of an object.
    FreeRange {
        fs: String,
        obj: u64,
        lo: u64,
        hi: u64,
    },
}

/// The log, open for appending.
pub struct Log {
    file: File,
}

impl Log {
    pub fn open(path: &Path) -> Log {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        Log { file }
    }

    /// Appends one line and makes it durable.
    pub fn append(&mut self, e: &Entry) {
        let mut line = serde_json::to_vec(e).expect("log entries serialize");
        line.push(b'\n');
        self.file.write_all(&line).expect("append to the log");
        self.file.sync_data().expect("fsync the log");
    }
}

/// Reads a log back; a last line cut short by the kill is ignored.
pub fn read(path: &Path) -> Result<Vec<Entry>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("read {}: {e}", path.display())),
    };
    let complete = text.ends_with(b"\n");
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        match serde_json::from_slice::<Entry>(l) {
            Ok(e) => out.push(e),
            Err(_) if i + 1 == lines.len() && !complete => {}
            Err(e) => return Err(format!("{}: line {}: {e}", path.display(), i + 1)),
        }
    }
    Ok(out)
}
