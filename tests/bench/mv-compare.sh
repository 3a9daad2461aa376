#!/usr/bin/env bash
# kilowatch vs eemeter (BENCHMARKS.md): builds the CLI, makes target/eemeter-venv with the
# pinned eemeter if it is missing, and prints the comparison (also in target/mv-compare.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --quiet -p gateway --bin kilowatch-gateway
venv="$CARGO_TARGET_DIR/eemeter-venv"
if ! "$venv/bin/python" -c 'import eemeter.eemeter' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  # eemeter 4.1.1 imports pytz without declaring it and predates pandas 3.
  "$venv/bin/pip" install --quiet --disable-pip-version-check eemeter==4.1.1 pandas==2.3.3 pytz==2026.6
fi
exec "$venv/bin/python" tests/bench/mv_compare.py --bin "$CARGO_TARGET_DIR/debug/kilowatch-gateway" --md "$CARGO_TARGET_DIR/mv-compare.md"
