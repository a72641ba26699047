#!/usr/bin/env bash
# Basin's fuzz targets (fuzz/fuzz_targets/, one per on-disk and on-wire
# decoder, and the pool image fuzzer) under cargo-fuzz and libFuzzer.
#
#   fuzz/run.sh --replay              replay fuzz/corpus/<target>/ through every target
#   fuzz/run.sh --seconds N [TARGET]  fuzz every target (or those named) N seconds each
#
# --replay is the default. Fuzzing writes the inputs it finds to fuzz/work/
# and crashes to fuzz/artifacts/ (both ignored by git), never into the
# committed seed corpus. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a
# stable toolchain RUSTC_BOOTSTRAP=1 (set here) lets it pass -Zsanitizer.
# The same replay without cargo-fuzz or nightly flags runs in plain
# `cargo test -p basin-fuzz-harness`.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

usage() {
    sed -n '4,5p' "$0" | sed 's/^#  */usage: /' >&2
    exit 2
}

mode=replay
seconds=0
case "${1:-}" in
--replay) shift ;;
--seconds)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || usage
    mode=fuzz
    seconds=$2
    shift 2
    ;;
"") ;;
*) usage ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

# -a: debug assertions and overflow checks, as in the tests.
cargo fuzz build -a
for t in "${targets[@]}"; do
    if [ "$mode" = replay ]; then
        echo "== replay $t ($(find "corpus/$t" -type f | wc -l) inputs)"
        cargo fuzz run -a "$t" "corpus/$t" -- -runs=0 -timeout=60 2>&1 | tail -n 2
    else
        echo "== fuzz $t for ${seconds}s"
        mkdir -p "work/$t" "artifacts/$t"
        before=$(find "artifacts/$t" -type f | wc -l)
        extra=()
        if [ "$t" = pool_image ]; then
            # Slow (tens of executions a second): let inputs be long from
            # the start rather than grow a byte at a time.
            extra=(-len_control=0 -max_len=264)
        fi
        cargo fuzz run -a "$t" "work/$t" "corpus/$t" -- \
            -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 "${extra[@]}" \
            >"work/$t.log" 2>&1 || true
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|panicked at|Test unit written|^SUMMARY' \
            "work/$t.log" || true
        if [ "$(find "artifacts/$t" -type f | wc -l)" -ne "$before" ]; then
            echo "fuzz/run.sh: $t found crashes: see fuzz/artifacts/$t/ and fuzz/work/$t.log" >&2
            exit 1
        fi
    fi
done
