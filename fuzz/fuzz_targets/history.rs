#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| basin_fuzz_harness::decoders::history(data));
