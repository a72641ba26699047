//! fio jobs: the same job line for every system, JSON output parsed into
//! bandwidth and IOPS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::cmd;
use crate::error::{BenchError, Result};

/// What the written buffers contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Data {
    /// Fresh random bytes for every write.
    Incompressible,
    /// Each 4 KiB chunk half random, half zeros (compresses about 2:1).
    Half,
}

/// How the I/O reaches the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Through the filesystem and its cache, one request at a time
    /// (`psync`): what an application sees.
    Buffered,
    /// O_DIRECT with io_uring, 16 in flight: what the disk can do.
    Direct,
}

/// One fio job.
#[derive(Clone, Debug)]
pub struct Job {
    /// Job name (messages).
    pub name: String,
    /// The file it works on.
    pub file: PathBuf,
    /// `read`, `write`, `randread`, `randwrite`.
    pub rw: &'static str,
    /// Block size in bytes.
    pub bs: u64,
    /// File size.
    pub size: u64,
    /// Bytes to transfer (default: `size`).
    pub io_size: Option<u64>,
    /// Run for this long (with `time_based`) or at most this long.
    pub runtime: Option<Duration>,
    /// Keep going until `runtime`, wrapping around the file.
    pub time_based: bool,
    /// Buffered or direct.
    pub style: Style,
    /// fsync after every this many writes (`--fsync=N`); 0: none.
    pub fsync_every: u32,
    /// fsync once at the end (counted in the job's time).
    pub end_fsync: bool,
    /// Content of the writes.
    pub data: Data,
}

impl Job {
    /// A job with the suite's defaults.
    pub fn new(name: &str, file: &Path, rw: &'static str, bs: u64, size: u64) -> Job {
        Job {
            name: name.to_string(),
            file: file.to_path_buf(),
            rw,
            bs,
            size,
            io_size: None,
            runtime: None,
            time_based: false,
            style: Style::Buffered,
            fsync_every: 0,
            end_fsync: rw.contains("write"),
            data: Data::Incompressible,
        }
    }

    /// The command line.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            format!("--name={}", self.name),
            format!("--filename={}", self.file.display()),
            format!("--rw={}", self.rw),
            format!("--bs={}", self.bs),
            format!("--size={}", self.size),
            "--output-format=json".into(),
            "--invalidate=0".into(),
            "--fallocate=none".into(),
            "--randrepeat=0".into(),
            "--numjobs=1".into(),
            "--refill_buffers=1".into(),
        ];
        match self.style {
            Style::Buffered => {
                a.push("--ioengine=psync".into());
                a.push("--direct=0".into());
            }
            Style::Direct => {
                a.push("--ioengine=io_uring".into());
                a.push("--direct=1".into());
                a.push("--iodepth=16".into());
            }
        }
        if let Some(n) = self.io_size {
            a.push(format!("--io_size={n}"));
        }
        if let Some(t) = self.runtime {
            a.push(format!("--runtime={}ms", t.as_millis().max(1)));
        }
        if self.time_based {
            a.push("--time_based=1".into());
        }
        if self.fsync_every > 0 {
            a.push(format!("--fsync={}", self.fsync_every));
        }
        if self.end_fsync {
            a.push("--end_fsync=1".into());
        }
        if self.data == Data::Half {
            a.push("--buffer_compress_percentage=50".into());
            a.push("--buffer_compress_chunk=4096".into());
        }
        a
    }

    /// Runs the job.
    pub fn run(&self) -> Result<Outcome> {
        let out = cmd::run("fio", &self.args())?;
        parse(&self.name, &out)
    }
}

/// What a job did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Read bandwidth, bytes per second.
    pub read_bw: f64,
    /// Write bandwidth, bytes per second.
    pub write_bw: f64,
    /// Read operations per second.
    pub read_iops: f64,
    /// Write operations per second.
    pub write_iops: f64,
}

impl Outcome {
    /// Bandwidth of the direction that moved data, MB/s.
    pub fn mb_per_s(&self) -> f64 {
        self.read_bw.max(self.write_bw) / 1e6
    }

    /// Operations per second of the direction that moved data.
    pub fn iops(&self) -> f64 {
        self.read_iops.max(self.write_iops)
    }
}

/// Parses fio's JSON report (fio may print warnings before it).
pub fn parse(job: &str, out: &str) -> Result<Outcome> {
    let bad = |why: String| BenchError::Fio {
        job: job.to_string(),
        why,
    };
    let start = out
        .find('{')
        .ok_or_else(|| bad(format!("no JSON in {:?}", truncate(out))))?;
    let v: Value = serde_json::from_str(&out[start..]).map_err(|e| bad(e.to_string()))?;
    let j = v
        .get("jobs")
        .and_then(|j| j.get(0))
        .ok_or_else(|| bad("no jobs".into()))?;
    if let Some(e) = j.get("error").and_then(Value::as_i64) {
        if e != 0 {
            return Err(bad(format!("fio reports error {e}")));
        }
    }
    let num = |dir: &str, key: &str| -> f64 {
        j.get(dir)
            .and_then(|d| d.get(key))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let o = Outcome {
        read_bw: num("read", "bw_bytes"),
        write_bw: num("write", "bw_bytes"),
        read_iops: num("read", "iops"),
        write_iops: num("write", "iops"),
    };
    if o.read_bw <= 0.0 && o.write_bw <= 0.0 {
        return Err(bad("no data moved".into()));
    }
    Ok(o)
}

fn truncate(s: &str) -> &str {
    let mut n = s.len().min(300);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"fio: some warning
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "t",
      "error" : 0,
      "read" : { "bw_bytes" : 0, "iops" : 0.0 },
      "write" : { "bw_bytes" : 2080895007, "iops" : 1984.5 }
    }
  ]
}"#;

    #[test]
    fn parses_a_report_after_warnings() {
        let o = parse("t", REPORT).unwrap();
        assert_eq!(o.write_bw, 2080895007.0);
        assert!((o.mb_per_s() - 2080.895007).abs() < 1e-6);
        assert_eq!(o.iops(), 1984.5);
    }

    #[test]
    fn rejects_reports_without_data() {
        assert!(parse("t", "fio: file not found").is_err());
        let empty = REPORT.replace("2080895007", "0");
        assert!(parse("t", &empty).is_err());
    }

    #[test]
    fn job_lines() {
        let mut j = Job::new("w", Path::new("/x/f"), "write", 1 << 20, 1 << 30);
        j.data = Data::Half;
        j.style = Style::Direct;
        let a = j.args().join(" ");
        assert!(a.contains("--buffer_compress_percentage=50"), "{a}");
        assert!(
            a.contains("--direct=1") && a.contains("--iodepth=16"),
            "{a}"
        );
        assert!(a.contains("--end_fsync=1"), "{a}");
        assert!(!a.contains("--fsync="), "{a}");
        let r = Job::new("r", Path::new("/x/f"), "read", 1 << 20, 1 << 30);
        assert!(!r.args().join(" ").contains("end_fsync"));
    }

    #[test]
    fn fsync_every_n_writes() {
        let mut j = Job::new("s", Path::new("/x/f"), "randwrite", 4096, 1 << 30);
        j.fsync_every = 1;
        let a = j.args();
        assert!(a.iter().any(|x| x == "--fsync=1"), "{a:?}");
        j.fsync_every = 32;
        let a = j.args();
        assert!(a.iter().any(|x| x == "--fsync=32"), "{a:?}");
        assert!(!a.iter().any(|x| x == "--fsync=1"), "{a:?}");
    }
}
