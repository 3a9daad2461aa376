#!/usr/bin/env bash
# Cargo target runner for tests/run-all.sh's second run of the date-sensitive tests: runs the
# test binary with the clock moved to today's KILOWATCH_FAKE_UTC (HH:MM, UTC) and still running
# (an offset, not a frozen time: the tests wait on conditions). The processes a test starts
# inherit LD_PRELOAD and FAKETIME, so they live at the same moment. The monotonic clock is left
# alone: timers and timeouts behave as usual.
set -euo pipefail
: "${KILOWATCH_FAKE_UTC:?set KILOWATCH_FAKE_UTC=HH:MM}"
offset=$(( $(date -u -d "today ${KILOWATCH_FAKE_UTC}" +%s) - $(date -u +%s) ))
exec faketime -m --exclude-monotonic -f "$(printf '%+d' "$offset")" "$@"
