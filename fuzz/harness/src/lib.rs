//! What Basin's fuzz targets run, shared by the cargo-fuzz targets in
//! `fuzz/fuzz_targets/` (one per entry of [`TARGETS`]) and by the corpus
//! replay test, which feeds every file of `fuzz/corpus/<target>/` to the
//! same functions under plain `cargo test` on stable.
//!
//! [`seeds`] generates the seed corpus: valid encodings of every structure,
//! most of them read off a real pool image.

pub mod decoders;
pub mod image;
pub mod seeds;

/// One fuzz target: its name (the file in `fuzz/fuzz_targets/` and the
/// folder in `fuzz/corpus/`) and the function it runs on every input.
pub struct Target {
    /// Name of the target.
    pub name: &'static str,
    /// Runs one input; panics on a finding.
    pub run: fn(&[u8]),
}

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "blkptr",
        run: decoders::blkptr,
    },
    Target {
        name: "uberblock",
        run: decoders::uberblock,
    },
    Target {
        name: "label",
        run: decoders::label,
    },
    Target {
        name: "heartbeat",
        run: decoders::heartbeat,
    },
    Target {
        name: "spacemap_log",
        run: decoders::spacemap_log,
    },
    Target {
        name: "spacemap_checkpoint",
        run: decoders::spacemap_checkpoint,
    },
    Target {
        name: "spacemap_index",
        run: decoders::spacemap_index,
    },
    Target {
        name: "pool_root",
        run: decoders::pool_root,
    },
    Target {
        name: "history",
        run: decoders::history,
    },
    Target {
        name: "dnode",
        run: decoders::dnode,
    },
    Target {
        name: "objset",
        run: decoders::objset,
    },
    Target {
        name: "dsl_dir",
        run: decoders::dsl_dir,
    },
    Target {
        name: "dsl_dataset",
        run: decoders::dsl_dataset,
    },
    Target {
        name: "deadlist_header",
        run: decoders::deadlist_header,
    },
    Target {
        name: "zap",
        run: decoders::zap,
    },
    Target {
        name: "decompress",
        run: decoders::decompress,
    },
    Target {
        name: "protocol",
        run: decoders::protocol,
    },
    Target {
        name: "pool_image",
        run: image::run,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The files of the committed corpus of target `name`
/// (`fuzz/corpus/<name>/`), sorted. Panics, naming the folder, when it
/// cannot be read: the replay tests want every target to have one.
pub fn corpus_files(name: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(name);
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}
