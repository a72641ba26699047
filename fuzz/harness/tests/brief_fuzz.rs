//! A brief fuzzing run of every target under plain `cargo test` (CI has no
//! nightly toolchain for cargo-fuzz): each target's committed corpus is
//! mutated at random (bit flips, byte sets, interesting values, block
//! copies, truncation and growth) for a bounded time, and every mutant
//! must pass through the target without a panic. A failure prints the
//! seed and the input's bytes; `BASIN_FUZZ_SEED` replays a run and
//! `BASIN_FUZZ_MS` gives each target more time (default 400 ms, the pool
//! image target 4x that).

use std::time::{Duration, Instant};

use basin_fuzz_harness::TARGETS;

/// xorshift64*: small, fast and enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u64; 8] = [0, 1, 0x7f, 0xff, 0x8000, 0xffff_ffff, u64::MAX, 1 << 40];

/// Applies one to four random mutations to `data`.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next() as u8;
            }
            2 if data.len() >= 8 => {
                let i = rng.below(data.len() - 7);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                data[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
            3 if data.len() >= 2 => {
                let len = 1 + rng.below(data.len().min(64));
                let from = rng.below(data.len() - len + 1);
                let to = rng.below(data.len() - len + 1);
                data.copy_within(from..from + len, to);
            }
            4 => data.truncate(rng.below(data.len() + 1)),
            _ => {
                let n = 1 + rng.below(16);
                let at = rng.below(data.len() + 1);
                let extra: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(at..at, extra);
            }
        }
    }
}

fn corpus_of(name: &str) -> Vec<Vec<u8>> {
    basin_fuzz_harness::corpus_files(name)
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect()
}

#[test]
fn every_target_survives_a_brief_random_run() {
    let seed = std::env::var("BASIN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    let ms: u64 = std::env::var("BASIN_FUZZ_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    eprintln!("brief fuzz: seed {seed} (BASIN_FUZZ_SEED), {ms} ms per target");
    // The panics a target catches itself stay quiet; ours are reported.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed);
    let mut failure = None;
    let mut runs = 0usize;
    'targets: for t in TARGETS {
        let corpus = corpus_of(t.name);
        assert!(!corpus.is_empty(), "no corpus for {}", t.name);
        let budget = Duration::from_millis(if t.name == "pool_image" { 4 * ms } else { ms });
        let start = Instant::now();
        while start.elapsed() < budget {
            let mut input = corpus[rng.below(corpus.len())].clone();
            mutate(&mut rng, &mut input);
            runs += 1;
            if std::panic::catch_unwind(|| (t.run)(&input)).is_err() {
                failure = Some((t.name, input));
                break 'targets;
            }
        }
    }
    std::panic::set_hook(quiet);
    if let Some((name, input)) = failure {
        panic!(
            "target {name} panicked on a mutant (seed {seed}); input ({} bytes): {:02x?}",
            input.len(),
            input
        );
    }
    eprintln!("brief fuzz: {runs} inputs, no finding");
}
