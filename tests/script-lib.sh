# Sourced by the shell tests (packages.sh, cross-build.sh) after setting `name`: how they fail,
# and how a missing dependency fails under CI=true but is skipped elsewhere, with the reason.
fail() { printf '%s: FAIL: %s\n' "$name" "$*" >&2; exit 1; }
missing() {
  if [ "${CI:-}" = true ]; then fail "$* (CI=true: a missing dependency fails)"; fi
  printf '%s: SKIPPED: %s\n' "$name" "$*" >&2
  exit 0
}
