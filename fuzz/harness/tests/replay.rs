//! Replays the committed corpus (`fuzz/corpus/<target>/`: the seeds and
//! every regression input kept from fuzzing) through every target, under
//! plain `cargo test`: the decoders stay total without cargo-fuzz.

use basin_fuzz_harness::TARGETS;

#[test]
fn every_target_has_a_corpus_and_every_input_passes() {
    let mut total = 0;
    for t in TARGETS {
        let files = basin_fuzz_harness::corpus_files(t.name);
        assert!(!files.is_empty(), "no corpus for target {}", t.name);
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let r = std::panic::catch_unwind(|| (t.run)(&data));
            assert!(r.is_ok(), "{} fails on {}", t.name, f.display());
        }
        total += files.len();
    }
    assert!(total >= TARGETS.len());
}

#[test]
fn the_seeds_are_valid_encodings() {
    let seeds = basin_fuzz_harness::seeds::generate();
    for t in TARGETS {
        assert!(
            seeds.get(t.name).is_some_and(|v| !v.is_empty()),
            "no seed for {}",
            t.name
        );
    }
    use basin_pool::BlkPtr;
    for s in &seeds["blkptr"] {
        BlkPtr::decode(s).unwrap();
    }
    for s in &seeds["uberblock"] {
        let off = u64::from_le_bytes(s[..8].try_into().unwrap());
        basin_pool::uberblock::Uberblock::decode(&s[8..], off).unwrap();
    }
    for s in &seeds["label"] {
        let off = u64::from_le_bytes(s[..8].try_into().unwrap());
        basin_pool::label::LabelConfig::decode(&s[8..], off).unwrap();
    }
    for s in &seeds["spacemap_log"] {
        basin_pool::spacemap::decode_log(s).unwrap();
    }
    for s in &seeds["spacemap_index"] {
        basin_pool::spacemap::SmIndex::decode(s).unwrap();
    }
    for s in &seeds["pool_root"] {
        basin_pool::poolroot::PoolRoot::decode(s).unwrap();
    }
    for s in &seeds["history"] {
        basin_pool::history::decode(s).unwrap();
    }
    for s in &seeds["dnode"] {
        assert!(!basin_dmu::dnode::DnodePhys::decode(s).unwrap().is_free());
    }
    for s in &seeds["objset"] {
        basin_dmu::objset_phys::ObjsetPhys::decode(s).unwrap();
    }
    for s in &seeds["dsl_dir"] {
        basin_dmu::dsl::phys::DirPhys::decode(s).unwrap();
    }
    for s in &seeds["dsl_dataset"] {
        basin_dmu::dsl::phys::DatasetPhys::decode(s).unwrap();
    }
    for s in &seeds["zap"] {
        assert!(basin_dmu::zap::fuzz_decode(s) > 0 || s.starts_with(b"BZAPFAT1"));
    }
    for s in &seeds["protocol"][..5] {
        basin_cli::protocol::decode_request(s).unwrap();
    }
}
