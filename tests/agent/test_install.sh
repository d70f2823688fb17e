#!/bin/sh
# `cmake --install` puts chased in sbin, its systemd unit with the prefix's own paths, and the example
# configuration; the example is a configuration chased accepts, and the unit passes `systemd-analyze verify` without
# a word. Usage: test_install.sh BUILD_DIR (CHASE_NVML_LIBRARY: the fake NVML, for chased --check).
set -eu
build=$1
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is missing (Debian package systemd; scripts/deps.sh installs it)"
  exit 77
fi
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$prefix/sbin/chased" ] || fail "no $prefix/sbin/chased"
unit="$prefix/lib/systemd/system/chased.service"
[ -f "$unit" ] || fail "no $unit"
grep -qx "ExecStart=$prefix/sbin/chased --config /etc/chase/chased.conf --socket /run/chase/chased.sock --state-dir /var/lib/chase" "$unit" ||
  fail "the unit does not start the installed chased: $(grep ExecStart "$unit")"
grep -qx "Documentation=file:$prefix/share/doc/chase/agent.md" "$unit" || fail "the unit's Documentation= is not the installed page"
[ -f "$prefix/share/doc/chase/agent.md" ] && [ -f "$prefix/share/doc/chase/agent-protocol.md" ] || fail "docs not installed"
example="$prefix/share/doc/chase/chased.conf.example"
[ -f "$example" ] || fail "no $example"
out=$(env -u FAKE_NVML_STATE "$prefix/sbin/chased" --config "$example" --check 2>&1) ||
  fail "chased --check refuses the example configuration: $out"
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify has something to say: $out"
echo "installed: chased, its unit (verified by systemd-analyze) and an example configuration chased accepts"
