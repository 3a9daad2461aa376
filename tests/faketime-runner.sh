#!/usr/bin/env bash
# Cargo target runner for tests/run-all.sh's second run of the date-sensitive tests: runs the
# test binary with the clock moved to the next KILOWATCH_FAKE_UTC (HH:MM, UTC) and still running
# (an offset, not a frozen time: the tests wait on conditions). The processes a test starts
# inherit LD_PRELOAD and FAKETIME, so they all live at the same moment.
#
# The offset is never negative, and the monotonic clock moves with the wall clock: a monotonic
# clock shifted back past boot would be negative, and with the wall clock alone moved Chromium
# takes over a minute to start (its timed waits mix the two clocks).
#
# KILOWATCH_FAKE_UTC may also be a whole future UTC time, YYYY-MM-DD HH:MM, to pick the weekday.
set -euo pipefail
fake="${KILOWATCH_FAKE_UTC:?set KILOWATCH_FAKE_UTC=HH:MM or YYYY-MM-DD HH:MM}"
now=$(date -u +%s)
case "$fake" in
  *-*) offset=$(( $(date -u -d "$fake" +%s) - now )) ;;
  *) offset=$(( $(date -u -d "today $fake" +%s) - now ))
     [ "$offset" -ge 0 ] || offset=$(( offset + 86400 )) ;;
esac
if [ "$offset" -lt 0 ]; then
  echo "faketime-runner: $fake is in the past" >&2
  exit 2
fi
exec faketime -m -f "+${offset}" "$@"
