//! The command line of `basin-zdb`, after `zdb`:
//!
//! ```text
//! basin-zdb [-b] [-c] [-l] [-u] [-d...] [-O DATASET OBJECT] [-p DIR]... POOL|VDEV...
//! ```
//!
//! Vdevs are named as paths, or searched for in the folders given with
//! `-p` (as `zdb -e -p`) and picked by the pool's name or guid. Without a
//! dump flag, or with `-b` or `-c`, the whole pool is checked and a
//! summary printed. Exit status: 0 when everything checked is sound, 1 when
//! a problem was found (a damaged copy, a leak, a wrong figure, a label
//! that is not valid), 2 when the pool could not be examined at all.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{ArgAction, Parser};

use crate::check::{check, CheckOptions};
use crate::dump::datasets::{dump_datasets, DumpOptions};
use crate::dump::labels::{dump_labels, dump_uberblocks};
use crate::error::{FsckError, Result};
use crate::open::{self, Source};
use crate::summary;

/// Exit status: everything sound.
pub const EXIT_CLEAN: i32 = 0;
/// Exit status: problems found.
pub const EXIT_PROBLEMS: i32 = 1;
/// Exit status: the pool could not be examined.
pub const EXIT_ERROR: i32 = 2;

/// Examine a Basin pool offline, read-only: verify every checksum of every
/// copy, the space maps and the accounting, or dump its structures.
#[derive(Parser, Debug)]
#[command(name = "basin-zdb", version)]
struct Args {
    /// Search DIR for the pool's vdevs (repeatable), as `zdb -e -p`.
    #[arg(short = 'p', long = "dir", value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Accepted for zdb's sake: the pool is always examined from its
    /// vdevs, never through a running daemon.
    #[arg(short = 'e')]
    exported: bool,
    /// Traverse every block and print the block summary (the default).
    #[arg(short = 'b', action = ArgAction::Count)]
    blocks: u8,
    /// Verify checksums (every copy is always verified; same as -b).
    #[arg(short = 'c', action = ArgAction::Count)]
    checksums: u8,
    /// Only read the copies the traversal needs (metadata), not every copy.
    #[arg(long = "no-copies")]
    no_copies: bool,
    /// Dump the four labels of every vdev.
    #[arg(short = 'l')]
    labels: bool,
    /// Dump the uberblock rings, newest first.
    #[arg(short = 'u')]
    uberblocks: bool,
    /// Dump datasets; repeat for objects (-dd), details (-ddd) and block
    /// pointers (-dddd).
    #[arg(short = 'd', action = ArgAction::Count)]
    datasets: u8,
    /// Dump one object with its block pointers.
    #[arg(short = 'O', num_args = 2, value_names = ["DATASET", "OBJECT"])]
    object: Option<Vec<String>>,
    /// The pool's vdevs (paths), or its name or guid (with -p).
    #[arg(value_name = "POOL|VDEV")]
    targets: Vec<String>,
}

fn source(a: &Args) -> Result<Source> {
    let mut src = Source {
        dirs: a.dirs.clone(),
        ..Default::default()
    };
    for t in &a.targets {
        let p = PathBuf::from(t);
        if std::fs::metadata(&p).is_ok() {
            src.paths.push(p);
        } else if t.contains('/') {
            return Err(FsckError::BadPath {
                path: p,
                why: "no such file or device".into(),
            });
        } else if src.name.replace(t.clone()).is_some() {
            return Err(FsckError::Usage(format!(
                "more than one pool named ('{t}'); examine one at a time"
            )));
        }
    }
    Ok(src)
}

/// Runs the command with `args` (the program name first), writing to `out`
/// and `err`; returns the exit status.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let a = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            };
            let text = e.render().to_string();
            if e.use_stderr() {
                let _ = write!(err, "{text}");
            } else {
                let _ = write!(out, "{text}");
            }
            return code;
        }
    };
    match examine(&a, out) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "basin-zdb: {e}");
            EXIT_ERROR
        }
    }
}

fn examine(a: &Args, out: &mut dyn Write) -> Result<i32> {
    let src = source(a)?;
    let object = match &a.object {
        Some(v) if v.len() == 2 => {
            let id = v[1]
                .parse::<u64>()
                .map_err(|_| FsckError::Usage(format!("'{}' is not an object number", v[1])))?;
            Some((v[0].clone(), id))
        }
        _ => None,
    };
    let dumps = a.labels || a.uberblocks || a.datasets > 0 || object.is_some();
    let do_check = !dumps || a.blocks > 0 || a.checksums > 0;
    let mut code = EXIT_CLEAN;
    let emit = |out: &mut dyn Write, s: &str| -> Result<()> {
        out.write_all(s.as_bytes())
            .map_err(|e| FsckError::Usage(format!("cannot write the output: {e}")))
    };

    if a.labels && !a.uberblocks && a.datasets == 0 && object.is_none() && !do_check {
        // Labels alone need no pool: any device will do.
        let paths = if src.paths.is_empty() {
            open::find(&src)?.paths
        } else {
            src.paths.clone()
        };
        let (text, valid) = dump_labels(&paths)?;
        emit(out, &text)?;
        return Ok(if valid { EXIT_CLEAN } else { EXIT_PROBLEMS });
    }

    let found = open::find(&src)?;
    if a.labels {
        let (text, valid) = dump_labels(&found.paths)?;
        emit(out, &text)?;
        if !valid {
            code = EXIT_PROBLEMS;
        }
    }
    let pool = match open::open(&found) {
        Ok(p) => p,
        Err(e) if a.uberblocks => {
            // Show the rings anyway: they tell why nothing imports.
            emit(out, &dump_uberblocks(&found.paths, None)?)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let result = examine_open(a, out, &found, &pool, object, do_check, &emit);
    let _ = pool.export();
    result.map(|c| c.max(code))
}

type Emit<'a> = dyn Fn(&mut dyn Write, &str) -> Result<()> + 'a;

fn examine_open(
    a: &Args,
    out: &mut dyn Write,
    found: &open::Found,
    pool: &basin_pool::Pool,
    object: Option<(String, u64)>,
    do_check: bool,
    emit: &Emit<'_>,
) -> Result<i32> {
    let opts = CheckOptions {
        every_copy: !a.no_copies,
        ..Default::default()
    };
    if a.uberblocks {
        emit(
            out,
            &dump_uberblocks(&found.paths, Some(pool.last_synced_txg()))?,
        )?;
    }
    let dsl = open::open_dsl(pool, opts.cache_bytes);
    if a.datasets > 0 || object.is_some() {
        let dsl = dsl.as_ref().map_err(|e| FsckError::Usage(e.to_string()))?;
        let d = DumpOptions {
            verbosity: a.datasets,
            object,
        };
        emit(out, &dump_datasets(pool, dsl, &d)?)?;
    }
    if !do_check {
        return Ok(EXIT_CLEAN);
    }
    let mut report = check(pool, dsl.as_deref().ok(), &opts);
    if let Err(e) = &dsl {
        report.problems.insert(
            0,
            crate::check::Problem {
                kind: crate::check::ProblemKind::Corrupt,
                message: format!("the dataset layer cannot be opened: {e}"),
            },
        );
    }
    emit(out, &summary::render(&report))?;
    Ok(if report.is_clean() {
        EXIT_CLEAN
    } else {
        EXIT_PROBLEMS
    })
}
