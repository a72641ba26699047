//! Writes the seed corpus: `cargo run -p basin-fuzz-harness --example
//! gen_corpus [DIR]` (default `fuzz/corpus`), one folder per target, files
//! named `seed-NN`. Files of other names (regression inputs) are kept.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus"));
    let seeds = basin_fuzz_harness::seeds::generate();
    for t in basin_fuzz_harness::TARGETS {
        let dir = root.join(t.name);
        std::fs::create_dir_all(&dir)?;
        for e in std::fs::read_dir(&dir)?.flatten() {
            if e.file_name().to_string_lossy().starts_with("seed-") {
                std::fs::remove_file(e.path())?;
            }
        }
        let list = seeds.get(t.name).map(Vec::as_slice).unwrap_or_default();
        for (i, s) in list.iter().enumerate() {
            (t.run)(s);
            std::fs::write(dir.join(format!("seed-{i:02}")), s)?;
        }
        println!("{:<20} {:>3} seeds", t.name, list.len());
    }
    Ok(())
}
