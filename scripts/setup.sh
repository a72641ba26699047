#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and run Basin:
# Debian packages (only the missing ones) and the Rust toolchain's parts.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# FUSE mounts (fusermount3 for auto_unmount), peers and tools of the tests
# and benchmarks.
for p in fuse3 fio zstd e2fsprogs btrfs-progs iproute2 util-linux busybox-static qemu-utils; do
  have_pkg "$p" || need+=("$p")
done
if [ "${BASIN_SETUP_PEERS:-0}" = 1 ]; then
  for p in zfs-fuse qemu-system-x86; do
    have_pkg "$p" || need+=("$p")
  done
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The POSIX conformance suite runs as root against a mounted dataset and
# switches to these users.
if [ "$(id -u)" = 0 ] && ! id tests >/dev/null 2>&1; then
  groupadd -f tests
  useradd -g tests -M -s /usr/sbin/nologin tests
fi

if ! have_cmd cargo; then
  echo "setup: cargo not found; install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi
if ! have_cmd pjdfstest && [ -x "$HOME/.cargo/bin/pjdfstest" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! have_cmd pjdfstest; then
  echo "setup: installing pjdfstest" >&2
  cargo install -q --locked pjdfstest --version 0.2.2
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy >/dev/null 2>&1 || true
