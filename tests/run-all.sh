#!/usr/bin/env bash
# Runs every kilowatch test: formatting, lints, the firmware's embedded build, unit tests and
# the end-to-end tests against real mosquitto (and, as the suite grows, influxd, pymodbus
# devices over socat pseudo-terminals, and Chromium).
#
# Missing test dependencies are installed first (apt-get as root or through sudo; pymodbus in a
# virtualenv under target/). With CI=true a test whose dependency is missing fails; it never
# skips.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

missing=()
have mosquitto || missing+=(mosquitto)
have influxd || missing+=(influxdb)
have socat || missing+=(socat)
have openssl || missing+=(openssl)
# The date-sensitive tests run a second time with the clock moved (tests/faketime-runner.sh).
have faketime || missing+=(faketime)
# The dashboard test drives Debian's Chromium (through playwright-core, below).
have chromium || missing+=(chromium)
have node || missing+=(nodejs npm)
# The meter-board firmware runs on an emulated Cortex-M4 (tests/tests/firmware_qemu.rs).
have qemu-system-arm || missing+=(qemu-system-arm)
# The report tests read printed PDFs back (pdftotext, pdfinfo, pdffonts) and print Chinese,
# which needs a font with Traditional Chinese glyphs.
have pdftotext || missing+=(poppler-utils)
have fc-list || missing+=(fontconfig)
if ! fc-list :lang=zh-tw 2>/dev/null | grep -q .; then missing+=(fonts-noto-cjk); fi
# The portfolio hub's test runs a throwaway PostgreSQL cluster (tests/src/postgres.rs).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || have initdb || missing+=(postgresql)
# The agent's MQTT TLS links the system OpenSSL (native-tls).
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev pkg-config)
# The package test (tests/packages.sh) checks the systemd units with systemd-analyze.
have systemd-analyze || missing+=(systemd)
# The ARM builds (tests/cross-build.sh): Debian's cross compilers, qemu-user to run what they
# build, and the targets' OpenSSL from Debian's multiarch packages.
have aarch64-linux-gnu-gcc || missing+=(gcc-aarch64-linux-gnu)
have arm-linux-gnueabihf-gcc || missing+=(gcc-arm-linux-gnueabihf)
have qemu-aarch64 || missing+=(qemu-user)
foreign=()
[ -f /usr/lib/aarch64-linux-gnu/pkgconfig/openssl.pc ] || { missing+=(libssl-dev:arm64); foreign+=(arm64); }
[ -f /usr/lib/arm-linux-gnueabihf/pkgconfig/openssl.pc ] || { missing+=(libssl-dev:armhf); foreign+=(armhf); }
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  for arch in "${foreign[@]}"; do
    dpkg --print-foreign-architectures | grep -qx "$arch" || $sudo dpkg --add-architecture "$arch"
  done
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv="target/test-venv"
if ! "$venv/bin/python" -c 'import pymodbus, serial, statsmodels.api, aiosmtpd, jinja2' >/dev/null 2>&1; then
  # pymodbus: the devices under test; statsmodels: the independent check of the M&V regressions;
  # aiosmtpd: the mail server the notification tests send to; jinja2: renders the Home
  # Assistant discovery templates as Home Assistant does.
  step "installing pymodbus, statsmodels, aiosmtpd and jinja2 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'pymodbus[serial]==3.16.1' statsmodels==0.15.0 scipy==1.17.1 numpy==2.4.6 pandas==3.1.1 aiosmtpd==1.4.6 jinja2==3.1.6
fi
export KILOWATCH_TEST_PYTHON="$PWD/$venv/bin/python"

if [ ! -d tests/browser/node_modules/playwright-core ]; then
  step "installing playwright-core for the dashboard test"
  npm ci --prefix tests/browser --no-audit --no-fund --silent
fi
if [ ! -d tests/sparkplug/node_modules/sparkplug-payload ]; then
  step "installing sparkplug-payload (Eclipse Tahu) for the Sparkplug test"
  npm ci --prefix tests/sparkplug --no-audit --no-fund --silent
fi

# cargo-deb builds the Debian packages (tests/packages.sh); kept in ~/.cargo/bin between runs.
if ! cargo deb --version >/dev/null 2>&1; then
  step "installing cargo-deb"
  cargo install cargo-deb --locked --version 3.8.0 --quiet
fi

# rust-toolchain.toml pins the compiler and lists the target; this makes sure it is there.
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true

# Every scratch file of this run (test directories, databases, browser profiles) goes under one
# directory, removed when the run passes and kept for a look when it fails, so repeated runs do
# not fill /tmp.
scratch_root=$(mktemp -d "${TMPDIR:-/tmp}/kilowatch-tests.XXXXXX")
export TMPDIR="$scratch_root"
cleanup() {
  status=$?
  if [ "$status" -eq 0 ]; then rm -rf "$scratch_root"; else echo "test files kept in $scratch_root" >&2; fi
}
trap cleanup EXIT

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "firmware builds for the boards (thumbv7em-none-eabihf): the STM32F411 and QEMU's mps2-an386"
cargo build --quiet -p firmware --target thumbv7em-none-eabihf --release --features defmt
cargo build --quiet -p firmware --target thumbv7em-none-eabihf --release
# Flash = vector table + code + constants + initialised data; static RAM = data + bss.
elf=target/thumbv7em-none-eabihf/release/kilowatch-meterboard
size -A "$elf" | awk '
  $1 ~ /^\.(vector_table|text|rodata|data)$/ { flash += $2 }
  $1 ~ /^\.(data|bss|uninit)$/ { ram += $2 }
  END {
    printf "board binary: %d B flash (goal < 65536), %d B static RAM (goal < 16384)\n", flash, ram
    if (flash >= 65536 || ram >= 16384) exit 1
  }'

step "build binaries used by the end-to-end tests"
cargo build --quiet --workspace --bins

step "cargo test"
cargo test --workspace

step "Debian packages: build, dpkg -i, run from /usr/bin, remove and purge"
tests/packages.sh

step "cross builds for arm64 and armhf, run under qemu-user"
tests/cross-build.sh

# The plant's day is not the UTC day: between 16:00 and 24:00 UTC it is already tomorrow in
# Taipei (the demo plant's zone). Run the tests that ask for plant-local days, midnights or
# "today" again at such an hour and at one where the dates agree, whatever the hour of this run.
# (Not the Grafana test: influxd, a Go program, reads the clock without libc, so faketime cannot
# move it, and the dashboards' queries are relative to influxd's now().)
host=$(rustc -vV | sed -n 's/^host: //p')
runner="CARGO_TARGET_$(printf '%s' "$host" | tr '[:lower:]-' '[:upper:]_')_RUNNER"
for utc in 17:30 03:00; do
  step "date-sensitive end-to-end tests with the clock at $utc UTC (faketime)"
  env "$runner=$PWD/tests/faketime-runner.sh" KILOWATCH_FAKE_UTC="$utc" \
    cargo test -p kilowatch-e2e --test enpi --test mv --test dashboard --test demo --test review --test contract --test demand --test demand_response
done
