#!/usr/bin/env bash
# The benchmark command of the README: Basin side by side with its peers
# (raw disk, a trivial in-memory FUSE filesystem, ext4 and btrfs on loop
# devices, zfs-fuse), on this machine, in one run.
#
#   scripts/bench.sh [--quick|--full] [--out DIR] [basin-bench run options]
#
# --quick (the default) checks in a few minutes that the suite works (CI);
# --full writes the report (Markdown + SVG charts) to
# bench/results/DATE-COMMIT/ and its summary to docs/performance.md.
# Needs root (loop devices, mounts, dropping caches); installs the missing
# peers with apt-get. Everything it makes lives under run/bench and is
# cleaned up at the end, on failure and on Ctrl-C: the suite does it, and
# this script's trap sweeps again in case the suite itself was killed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "$(id -u)" != 0 ]; then
  echo "bench: needs root (loop devices, mounts, drop_caches); try: sudo $0 $*" >&2
  exit 1
fi
scripts/setup.sh
# The peers and tools of the suite (only the missing ones).
need=()
for p in fio fuse3 e2fsprogs btrfs-progs btrfs-compsize zfs-fuse util-linux; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target-bench}
cargo build --release -q -p basin-bench --bin basin-bench
# basin-fuse runs basind, zpool and zfs from beside basin-bench.
cargo build --release -q -p basin-cli --bins
bin=$CARGO_TARGET_DIR/release/basin-bench

work=$root/run/bench
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work=$2; args+=("$1" "$2"); shift 2 ;;
    --work=*) work=${1#--work=}; args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done

sweep() {
  "$bin" cleanup --work "$work" || echo "bench: the cleanup sweep reported failures (see above)" >&2
}
trap sweep EXIT
trap 'exit 130' INT TERM HUP

"$bin" run --work "$work" "${args[@]}"
