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
