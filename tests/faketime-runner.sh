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
# libfaketime preloaded directly rather than through the `faketime` wrapper: the wrapper keeps a
# start time in a POSIX semaphore and shared memory named after its pid, and stale ones left by a
# killed run make the next run with a reused pid fail (`sem_open: File exists`). A relative
# offset needs no shared start time.
lib=""
for candidate in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 \
  /usr/local/lib/faketime/libfaketimeMT.so.1; do
  if [ -e "$candidate" ]; then lib="$candidate"; break; fi
done
if [ -z "$lib" ]; then
  echo "faketime-runner: libfaketimeMT.so.1 not found (apt-get install faketime)" >&2
  exit 2
fi
export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
export FAKETIME="+${offset}"
unset FAKETIME_SHARED
exec "$@"
