#!/usr/bin/env bash
# The main job of the README, end to end on file-backed vdevs under the
# checkout (./run): start basind, create a mirrored pool, use it, export and
# import it, and stop. Everything it makes stays under ./run; the daemon is
# stopped (by its PID) even when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/setup.sh
cargo build --release -q -p basin-cli
bin=$root/target/release

run=$root/run
rm -rf "$run"
mkdir -p "$run/vdevs"
export BASIN_SOCKET=$run/basind.sock
export BASIN_LOCK_DIR=$run/locks
"$bin/basind" --socket "$BASIN_SOCKET" --state-dir "$run/state" --foreground 2>"$run/basind.log" &
daemon=$!
cleanup() {
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do [ -S "$BASIN_SOCKET" ] && break; sleep 0.1; done

step() { printf '\n$ %s\n' "$*"; "$@"; }
for i in 0 1 2; do truncate -s 256M "$run/vdevs/disk$i"; done
zpool=$bin/zpool
step "$zpool" create -o comment=demo demo mirror "$run/vdevs/disk0" "$run/vdevs/disk1"
step "$zpool" list
step "$zpool" status demo
step "$zpool" set autoexpand=on demo
step "$zpool" get size,allocated,free,capacity,health,autoexpand demo
step "$zpool" export demo
step "$zpool" import -d "$run/vdevs"
step "$zpool" import -d "$run/vdevs" demo
step "$zpool" status -v demo
step "$zpool" history demo
echo
echo "demo: done; the daemon's log is in run/basind.log"
