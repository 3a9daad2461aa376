#!/usr/bin/env bash
# The ARM builds, cheaply: the agent cross-compiled (debug) for arm64 and armhf with the same
# environment as the packages (agent/debian/cross-env.sh: Debian's cross compilers, the
# target's multiarch OpenSSL), then run under qemu-user: `--version`, and `check` of the
# packaged example site file. The release packages of both binaries for both architectures
# take far longer on a small machine: agent/debian/build-debs.sh arm64 armhf (figures in the
# README).
#
# With CI=true a missing tool fails the test; elsewhere it is skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

name=cross-build
. tests/script-lib.sh

. agent/debian/cross-env.sh
target_dir=${CARGO_TARGET_DIR:-target}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
for arch in arm64 armhf; do
  (
    cross_env "$arch"
    case "$arch" in arm64) qemu=qemu-aarch64 ;; armhf) qemu=qemu-arm ;; esac
    for tool in "$gnu-gcc" "$qemu"; do
      command -v "$tool" >/dev/null || missing "$tool is not installed"
    done
    pkg-config --exists openssl || missing "OpenSSL for $arch is not installed (libssl-dev:$arch)"
    cargo build --quiet -p agent --bin kilowatch-agent --target "$triple"
    bin="$target_dir/$triple/debug/kilowatch-agent"
    machine=$("$gnu-readelf" -h "$bin" | sed -n 's/^ *Machine: *//p')
    case "$arch:$machine" in arm64:AArch64 | armhf:ARM) ;; *) fail "$bin is for $machine" ;; esac
    # The target's loader and libc from the cross toolchain's sysroot; libssl3 from multiarch.
    run() { QEMU_LD_PREFIX="/usr/$gnu" LD_LIBRARY_PATH="/usr/lib/$gnu" "$qemu" "$bin" "$@"; }
    [ "$(run --version)" = "kilowatch-agent $version" ] || fail "$arch --version: $(run --version 2>&1)"
    report=$(run check --config agent/debian/agent.toml) || fail "$arch check: $report"
    grep -q "site \`my-plant\`, 1 device(s)" <<<"$report" || fail "$arch check: $report"
    printf 'cross-build: ok: %s (%s) runs under %s\n' "$arch" "$triple" "$qemu"
  )
done
