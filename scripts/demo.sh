#!/usr/bin/env bash
# The main job of the README, end to end on file-backed vdevs under the
# checkout (./run): start basind, create a mirrored pool, create a
# filesystem and write files through its FUSE mount, take a snapshot,
# change the files, read the old ones under .zfs/snapshot, roll back and
# check every byte, export and import the pool and check again, and stop.
# Everything it makes lives under ./run; the daemon is stopped by its PID
# and leftover mounts are detached even when a step fails. Needs root
# (FUSE mounts); the daemon's log stays in run/basind.log.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ "$(id -u)" != 0 ]; then
  echo "demo: needs root (basind mounts filesystems through FUSE); try: sudo $0" >&2
  exit 1
fi
scripts/setup.sh
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -q -p basin-cli
bin=$target/release

run=$root/run
mnt=$run/mnt
# The mounts at or below run/mnt, deepest first.
mounts() { awk -v r="$mnt" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r; }
# Mounts of an earlier run that was killed go before its files.
for m in $(mounts); do
  umount -l "$m" 2>/dev/null || true
done
# Only the demo's own files: run/ also holds the bench suite's work.
[ -n "$(mounts)" ] && { echo "demo: $mnt is still mounted" >&2; exit 1; }
rm -rf "$run/vdevs" "$mnt" "$run/state" "$run/locks" "$run/basind.sock" "$run/basind.log"
mkdir -p "$run/vdevs"
export BASIN_SOCKET=$run/basind.sock
export BASIN_LOCK_DIR=$run/locks
"$bin/basind" --socket "$BASIN_SOCKET" --state-dir "$run/state" --foreground 2>"$run/basind.log" &
daemon=$!
cleanup() {
  status=$?
  # SIGTERM: basind unmounts its filesystems and closes the pool.
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  for m in $(mounts); do
    echo "demo: detaching $m, left mounted" >&2
    umount -l "$m" 2>/dev/null || true
  done
  # Never through a mount that is somehow still there.
  [ -n "$(mounts)" ] || rm -rf "$mnt"
  rm -rf "$run/vdevs" "$run/state" "$run/locks"
  if [ "$status" != 0 ]; then
    echo "demo: FAILED (exit $status); the daemon's log is in run/basind.log" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

zpool=$bin/zpool
zfs=$bin/zfs
for _ in $(seq 100); do "$zpool" list >/dev/null 2>&1 && break; sleep 0.1; done

step() { printf '\n$ %s\n' "$*" | sed "s#$bin/##; s#$root/##g"; "$@"; }
fail() { echo "demo: $*" >&2; exit 1; }
# check FILE CONTENT: the file holds exactly CONTENT (and a newline).
check() {
  [ "$(cat "$1")" = "$2" ] || fail "$1 holds '$(cat "$1" 2>&1)', not '$2'"
}

for i in 0 1; do truncate -s 256M "$run/vdevs/disk$i"; done
step "$zpool" create -o comment=demo -O mountpoint="$mnt" demo mirror "$run/vdevs/disk0" "$run/vdevs/disk1"
step "$zpool" status demo
step "$zfs" create demo/home
step "$zfs" mount

home=$mnt/home
step sh -c "echo 'hello, basin' > $home/hello.txt"
step sh -c "seq 1 100000 > $home/numbers.txt && sync $home/numbers.txt"
sum=$(sha256sum < "$home/numbers.txt")
step ls -l "$home"
step "$zfs" snapshot demo/home@v1

step sh -c "echo 'changed' > $home/hello.txt && rm $home/numbers.txt && echo new > $home/new.txt"
step ls "$home"
step ls "$home/.zfs/snapshot"
step cat "$home/.zfs/snapshot/v1/hello.txt"
check "$home/hello.txt" "changed"
check "$home/.zfs/snapshot/v1/hello.txt" "hello, basin"

step "$zfs" rollback demo/home@v1
step ls "$home"
check "$home/hello.txt" "hello, basin"
[ "$(sha256sum < "$home/numbers.txt")" = "$sum" ] || fail "numbers.txt differs after the rollback"
[ ! -e "$home/new.txt" ] || fail "new.txt is still there after the rollback"
echo "demo: the rollback put every byte back"
step "$zfs" list -t all -o name,used,refer,mountpoint,mounted

step "$zpool" export demo
[ "$("$zfs" mount)" = "" ] || fail "filesystems are still mounted after the export"
step "$zpool" import -d "$run/vdevs" demo
step "$zfs" mount
check "$home/hello.txt" "hello, basin"
[ "$(sha256sum < "$home/numbers.txt")" = "$sum" ] || fail "numbers.txt differs after the import"
echo "demo: every byte is there after export and import"
step "$zpool" status -v demo
[ "$("$zpool" status -x demo)" = "pool 'demo' is healthy" ] || fail "the pool reports errors (see zpool status above)"
step "$zpool" history demo
step "$zpool" export demo
echo
echo "demo: done; the daemon's log is in run/basind.log"
