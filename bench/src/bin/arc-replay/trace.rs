//! Block-access traces: loading `.lis` and one-block-a-line files.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Why a trace could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file could not be opened, read or decompressed.
    #[error("cannot read trace {path}: {source}")]
    Io {
        /// The trace file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a trace record.
    #[error("{path}:{line}: {detail}; expected `first count ignored request` (.lis) or one block number")]
    Parse {
        /// The trace file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// The file holds no accesses.
    #[error("trace {0} holds no block accesses")]
    Empty(PathBuf),
}

/// A trace: requests of one or more consecutive pages.
pub struct Trace {
    /// Short name for reports (file name without extensions).
    pub name: String,
    /// `(first page, page count)` per request.
    pub requests: Vec<(u64, u32)>,
}

impl Trace {
    /// A trace from a list of single-page accesses.
    pub fn from_pages(name: &str, pages: Vec<u64>) -> Self {
        Trace {
            name: name.to_string(),
            requests: pages.into_iter().map(|p| (p, 1)).collect(),
        }
    }

    /// Every page access in order: a request of N pages is N accesses.
    pub fn pages(&self) -> impl Iterator<Item = u64> + '_ {
        self.requests
            .iter()
            .flat_map(|&(first, n)| (0..u64::from(n)).map(move |i| first + i))
    }

    /// Number of page accesses.
    pub fn accesses(&self) -> u64 {
        self.requests.iter().map(|&(_, n)| u64::from(n)).sum()
    }

    /// Number of distinct pages.
    pub fn unique_pages(&self) -> u64 {
        self.pages().collect::<HashSet<_>>().len() as u64
    }

    /// Loads a trace file, decompressing it if its name ends in `.zst`.
    /// Lines of `.lis` format (`first count ignored request`) and lines of
    /// one block number may be mixed; blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> Result<Self, TraceError> {
        let io = |source| TraceError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "zst") {
            Box::new(zstd::stream::read::Decoder::new(file).map_err(io)?)
        } else {
            Box::new(file)
        };
        let mut requests = Vec::new();
        for (i, line) in BufReader::new(reader).lines().enumerate() {
            let line = line.map_err(io)?;
            if let Some(req) = parse_line(&line).map_err(|detail| TraceError::Parse {
                path: path.to_owned(),
                line: i + 1,
                detail,
            })? {
                requests.push(req);
            }
        }
        if requests.is_empty() {
            return Err(TraceError::Empty(path.to_owned()));
        }
        Ok(Trace {
            name: trace_name(path),
            requests,
        })
    }
}

/// `OLTP.lis.zst` -> `OLTP`.
fn trace_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.split('.').next().unwrap_or(&file).to_string()
}

/// Parses one line into `(first, count)`; `None` for blank and comment lines.
pub fn parse_line(line: &str) -> Result<Option<(u64, u32)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split_whitespace();
    let number = |f: Option<&str>, what: &str| -> Result<u64, String> {
        let f = f.ok_or_else(|| format!("missing {what}"))?;
        f.parse()
            .map_err(|_| format!("{what} {f:?} is not a whole number"))
    };
    let first = number(fields.next(), "block number")?;
    let count = match fields.next() {
        None => 1,
        c => number(c, "block count")?,
    };
    let count = u32::try_from(count).map_err(|_| format!("block count {count} is too large"))?;
    if count == 0 {
        return Err("block count 0".into());
    }
    if first.checked_add(u64::from(count)).is_none() {
        return Err(format!("blocks {first}+{count} overflow"));
    }
    Ok(Some((first, count)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parses_both_formats() {
        assert_eq!(parse_line("230027 8 0 0"), Ok(Some((230027, 8))));
        assert_eq!(parse_line("  42 "), Ok(Some((42, 1))));
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(parse_line("# comment"), Ok(None));
        assert!(parse_line("x 1 0 0").is_err());
        assert!(parse_line("1 0 0 0").is_err());
        assert!(parse_line("1 99999999999 0 0").is_err());
    }

    #[test]
    fn requests_expand_to_page_accesses() {
        let t = Trace {
            name: "t".into(),
            requests: vec![(10, 3), (11, 1)],
        };
        assert_eq!(t.pages().collect::<Vec<_>>(), vec![10, 11, 12, 11]);
        assert_eq!((t.accesses(), t.unique_pages()), (4, 3));
    }

    #[test]
    fn loads_plain_and_zstd_files() {
        let dir = tempdir();
        let plain = dir.join("loop.txt");
        std::fs::write(&plain, "1\n2\n\n3 2 0 1\n").expect("write");
        let t = Trace::load(&plain).expect("loads");
        assert_eq!(t.name, "loop");
        assert_eq!(t.pages().collect::<Vec<_>>(), vec![1, 2, 3, 4]);

        let zst = dir.join("X.lis.zst");
        let mut enc = zstd::stream::write::Encoder::new(File::create(&zst).expect("create"), 3)
            .expect("encoder");
        enc.write_all(b"5 2 0 0\n9 1 0 1\n").expect("write");
        enc.finish().expect("finish");
        let t = Trace::load(&zst).expect("loads");
        assert_eq!(t.name, "X");
        assert_eq!(t.pages().collect::<Vec<_>>(), vec![5, 6, 9]);

        let bad = dir.join("bad.lis");
        std::fs::write(&bad, "1 1 0 0\nnope\n").expect("write");
        let err = Trace::load(&bad).err().expect("fails").to_string();
        assert!(err.contains("bad.lis:2"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("arc-replay-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }
}
