#!/usr/bin/env bash
# kilowatch vs eemeter (BENCHMARKS.md): builds the CLI and kilowatch-bench, exports the demo
# plant's retrofit history, makes target/eemeter-venv with the pinned eemeter if it is missing,
# and prints the comparison (also in target/mv-compare.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --quiet -p gateway --bin kilowatch-gateway
cargo build --quiet -p kilowatch-e2e --bin kilowatch-bench
demo="$CARGO_TARGET_DIR/mv-demo"
"$CARGO_TARGET_DIR/debug/kilowatch-bench" mv-demo-data --out "$demo"
venv="$CARGO_TARGET_DIR/eemeter-venv"
if ! "$venv/bin/python" -c 'import eemeter.eemeter, sklearn; assert sklearn.__version__ == "1.5.2"' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  # eemeter 4.1.1 imports pytz without declaring it and predates pandas 3; its HourlyModel's
  # BisectingKMeans subclass calls `_validate_data`, which scikit-learn 1.6 removed.
  "$venv/bin/pip" install --quiet --disable-pip-version-check eemeter==4.1.1 pandas==2.3.3 pytz==2026.6 \
    scikit-learn==1.5.2
fi
exec "$venv/bin/python" tests/bench/mv_compare.py --bin "$CARGO_TARGET_DIR/debug/kilowatch-gateway" \
  --demo "$demo" --md "$CARGO_TARGET_DIR/mv-compare.md" "$@"
