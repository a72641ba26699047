#!/usr/bin/env bash
# The test command of the README: sets up a fresh machine, then checks
# formatting and lints and runs every test of the workspace. Tests that need
# root, FUSE, KVM or cgroups run when the machine has them (and fail under
# CI=true when it does not); elsewhere they skip with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace "$@"
# The benchmark suite's quick mode: every peer still sets up and every
# workload still runs (a few minutes; the figures of a quick run are not a
# report). It needs root for loop devices, mounts and dropping caches.
if [ "$(id -u)" = 0 ]; then
  scripts/bench.sh --quick
elif [ "${CI:-}" = true ]; then
  echo "test: the benchmark suite's quick mode needs root (loop devices, mounts)" >&2
  exit 1
else
  echo "test: skipping the benchmark suite's quick mode: it needs root (loop devices, mounts)" >&2
fi
