#!/usr/bin/env bash
# Builds the kilowatch-agent and kilowatch-gateway Debian packages with cargo-deb, for this
# machine or cross-compiled for the ARM boxes gateways run on.
#
#   agent/debian/build-debs.sh [--profile release|dev] [--no-build] [--fast] [amd64|arm64|armhf ...]
#
# Default: release, amd64. --no-build packages binaries already built (`cargo build --profile
# <profile> [--target <triple>]`); --fast compresses less (the test's debug binaries are big).
# The packages land in target/debian/ (cross-built ones also in target/<triple>/debian/); the
# script prints their paths, one a line, on stdout.
#
# Needs: cargo-deb (`cargo install cargo-deb --locked`); for arm64/armhf the Rust targets
# (`rustup target add aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf`), Debian's cross
# compilers (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf) and the target's OpenSSL
# (`dpkg --add-architecture arm64 armhf; apt-get install libssl-dev:arm64 libssl-dev:armhf`):
# the bundled SQLite (rusqlite) and ring are C compiled for the target, and the MQTT and HTTP
# clients' TLS links the system OpenSSL, so the package depends on Debian's libssl3.
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=release
arches=()
deb_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --no-build | --fast) deb_args+=("$1"); shift ;;
    amd64 | arm64 | armhf) arches+=("$1"); shift ;;
    *) echo "usage: $0 [--profile release|dev] [--no-build] [--fast] [amd64|arm64|armhf ...]" >&2; exit 2 ;;
  esac
done
[ ${#arches[@]} -gt 0 ] || arches=(amd64)

. agent/debian/cross-env.sh
for arch in "${arches[@]}"; do
  target_args=()
  (
    cross_env "$arch"
    [ -z "$triple" ] || target_args=(--target "$triple")
    for crate in agent gateway; do
      # cargo-deb builds the binary (`cargo build --profile … -p <crate>`) unless --no-build,
      # strips it with the target's strip and resolves the $auto dependencies (libc6, libssl3)
      # from the binary's shared libraries.
      cargo deb -p "$crate" --profile "$profile" "${target_args[@]}" "${deb_args[@]}" --quiet
    done
  )
done
