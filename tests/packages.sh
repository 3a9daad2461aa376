#!/usr/bin/env bash
# The Debian packages, installed for real: builds kilowatch-agent and kilowatch-gateway .debs
# with cargo-deb (debug binaries, the ones tests/run-all.sh already built), installs them with
# dpkg -i, runs the installed binaries from /usr/bin, checks the system user, the hardened
# units and the conffiles, runs the gateway as the service user in its state directory, then
# removes and purges both and checks what each step leaves.
#
# Needs root (dpkg) and cargo-deb. With CI=true a missing one fails the test; elsewhere it is
# skipped with the reason. Refuses to run on a machine where kilowatch is installed or its user
# or directories exist, since purging would delete them.
set -euo pipefail
cd "$(dirname "$0")/.."

name=packages
. tests/script-lib.sh
ok() { printf 'packages: ok: %s\n' "$*"; }

[ "$(id -u)" -eq 0 ] || missing "dpkg -i needs root"
cargo deb --version >/dev/null 2>&1 || missing "cargo-deb is not installed (cargo install cargo-deb --locked)"
command -v systemd-analyze >/dev/null || missing "systemd-analyze is not installed (apt-get install systemd)"

pkgs=(kilowatch-agent kilowatch-gateway)
present() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)
  [ -n "$status" ] && [ "$status" != not-installed ]
}
for p in "${pkgs[@]}"; do
  present "$p" && fail "$p is installed on this machine; not touching it"
done
getent passwd kilowatch >/dev/null && fail "a user kilowatch exists; not touching it"
for d in /etc/kilowatch /var/lib/kilowatch; do
  [ -e "$d" ] && fail "$d exists; not touching it"
done

# Whatever happens, leave the machine as it was.
cleanup() { dpkg --purge "${pkgs[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The workspace's debug binaries (a no-op after run-all.sh's build step; `cargo build -p agent`
# alone would resolve features differently and rebuild).
cargo build --quiet --workspace --bins
out=$(agent/debian/build-debs.sh --profile dev --no-build --fast amd64)
agent_deb=$(grep '/kilowatch-agent_.*\.deb$' <<<"$out") || fail "no agent package in: $out"
gateway_deb=$(grep '/kilowatch-gateway_.*\.deb$' <<<"$out") || fail "no gateway package in: $out"
ok "built $agent_deb and $gateway_deb"

for deb in "$agent_deb" "$gateway_deb"; do
  name=$(dpkg-deb -f "$deb" Package)
  conf=${name#kilowatch-}
  # cargo-deb's default Debian revision is 1.
  [ "$(dpkg-deb -f "$deb" Version)" = "$version-1" ] || fail "$deb: version $(dpkg-deb -f "$deb" Version), not $version-1"
  dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "$deb: no shared-library dependencies: $(dpkg-deb -f "$deb" Depends)"
  dpkg-deb -I "$deb" conffiles | grep -qx "/etc/kilowatch/$conf.toml" || fail "$deb: /etc/kilowatch/$conf.toml is not a conffile"
done

dpkg -i "$agent_deb" "$gateway_deb" >/dev/null
ok "dpkg -i of both packages"

# The user: a system account without a login shell, at home in the state directory.
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd kilowatch) || fail "no user kilowatch after install"
[ "$uid" -lt 1000 ] || fail "kilowatch is not a system user (uid $uid)"
[ "$home" = /var/lib/kilowatch ] || fail "kilowatch's home is $home"
[ "$shell" = /usr/sbin/nologin ] || fail "kilowatch's shell is $shell"
[ "$(stat -c '%U:%G %a' /var/lib/kilowatch)" = "kilowatch:kilowatch 750" ] \
  || fail "/var/lib/kilowatch is $(stat -c '%U:%G %a' /var/lib/kilowatch)"
ok "system user kilowatch ($uid), /var/lib/kilowatch kilowatch:kilowatch 750"

# The binaries, from where the packages put them.
[ "$(/usr/bin/kilowatch-agent --version)" = "kilowatch-agent $version" ] || fail "agent --version: $(/usr/bin/kilowatch-agent --version)"
[ "$(/usr/bin/kilowatch-gateway --version)" = "kilowatch-gateway $version" ] || fail "gateway --version: $(/usr/bin/kilowatch-gateway --version)"
/usr/bin/kilowatch-gateway --help | grep -q '^  run ' || fail "kilowatch-gateway --help lists no run command"
for conf in agent gateway; do
  f=/etc/kilowatch/$conf.toml
  [ "$(stat -c '%U %a' "$f")" = "root 644" ] || fail "$f is $(stat -c '%U %a' "$f")"
  # As the service runs it (ExecStartPre of the agent's unit): as kilowatch.
  report=$(runuser -u kilowatch -- /usr/bin/kilowatch-agent check --config "$f") || fail "check of $f failed: $report"
  grep -q "site \`my-plant\`, 1 device(s)" <<<"$report" || fail "check of $f: $report"
done
ok "installed binaries run; kilowatch-agent check passes on both installed site files"

# The units: where systemd looks, clean for systemd-analyze now that the binaries exist, and
# hardened (an exposure above 2.0 means a protection was lost).
for unit in kilowatch-agent kilowatch-gateway; do
  file=""
  for dir in /usr/lib/systemd/system /lib/systemd/system; do
    [ -f "$dir/$unit.service" ] && file=$dir/$unit.service && break
  done
  [ -n "$file" ] || fail "$unit.service is not installed in /usr/lib/systemd/system or /lib/systemd/system"
  warnings=$(systemd-analyze verify "$file" 2>&1) || fail "systemd-analyze verify $file: $warnings"
  [ -z "$warnings" ] || fail "systemd-analyze verify $file: $warnings"
  exposure=$(systemd-analyze security --offline=true "$file" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  [ -n "$exposure" ] || fail "no exposure level for $file"
  awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "$unit exposure $exposure > 2.0"
  ok "$file: verify clean, exposure $exposure"
done

# The gateway as its unit runs it: user kilowatch, working directory /var/lib/kilowatch, the
# installed site file. It must create its database there and log plain text (no colour codes)
# when stderr is not a terminal, as under journald.
run_dir=$(mktemp -d)
chmod 755 "$run_dir"
(cd /var/lib/kilowatch && exec runuser -u kilowatch -- env TMPDIR=/tmp \
  /usr/bin/kilowatch-gateway run --config /etc/kilowatch/gateway.toml --http 127.0.0.1:0 \
  >"$run_dir/stdout" 2>"$run_dir/stderr") &
gw=$!
for _ in $(seq 1 300); do
  grep -q 'gateway serving' "$run_dir/stderr" 2>/dev/null && break
  kill -0 "$gw" 2>/dev/null || break
  sleep 0.1
done
served=$(grep -c 'gateway serving' "$run_dir/stderr" || true)
kill "$gw" 2>/dev/null || true
wait "$gw" || true
[ "$served" -ge 1 ] || fail "gateway did not start as kilowatch: $(cat "$run_dir/stdout" "$run_dir/stderr")"
[ "$(stat -c %U /var/lib/kilowatch/kilowatch.db)" = kilowatch ] || fail "no database owned by kilowatch in /var/lib/kilowatch"
if grep -q $'\x1b\[' "$run_dir/stderr"; then fail "colour codes in the log of a non-terminal"; fi
rm -rf "$run_dir"
ok "gateway ran as kilowatch: /var/lib/kilowatch/kilowatch.db, plain-text log"

# Installing again (an upgrade in place) keeps the user and the state.
dpkg -i "$agent_deb" "$gateway_deb" >/dev/null
[ "$(getent passwd kilowatch | cut -d: -f3)" = "$uid" ] || fail "reinstall changed the user"
[ -f /var/lib/kilowatch/kilowatch.db ] || fail "reinstall lost the database"
ok "reinstall keeps the user and the database"

# Remove keeps configuration, user and state; purge of one package keeps what the other
# still uses; purge of the last removes the user, the state and /etc/kilowatch.
dpkg -r kilowatch-agent >/dev/null
[ ! -e /usr/bin/kilowatch-agent ] || fail "dpkg -r left /usr/bin/kilowatch-agent"
[ -f /etc/kilowatch/agent.toml ] || fail "dpkg -r removed the conffile"
dpkg --purge kilowatch-agent >/dev/null
[ ! -e /etc/kilowatch/agent.toml ] || fail "purge left /etc/kilowatch/agent.toml"
getent passwd kilowatch >/dev/null || fail "purge of the agent removed the user the gateway runs as"
[ -f /var/lib/kilowatch/kilowatch.db ] || fail "purge of the agent removed the gateway's database"
dpkg --purge kilowatch-gateway >/dev/null
[ ! -e /usr/bin/kilowatch-gateway ] || fail "purge left /usr/bin/kilowatch-gateway"
if getent passwd kilowatch >/dev/null || getent group kilowatch >/dev/null; then fail "purge left the user or group kilowatch"; fi
for d in /var/lib/kilowatch /etc/kilowatch; do [ ! -e "$d" ] || fail "purge left $d"; done
ok "remove and purge of both packages"
