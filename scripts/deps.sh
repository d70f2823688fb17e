#!/usr/bin/env bash
# Installs the Debian 12 packages chase needs to build and test, skipping those already present, and generates the
# decimal-comma locale (de_DE.UTF-8) that tests/test_report.c needs, so that no test has a reason to skip in CI.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcjson-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev libsvm-dev
      python3 python3-torch python3-pip python3-setuptools clang libclang-rt-14-dev locales help2man man-db
      systemd  # systemd-analyze verifies chased's unit (tests/agent); util-linux's setpriv is always there
      # The Slurm plugin: its headers and munge to build it, a real Slurm to test it (tests/slurm; the daemons'
      # services stay down without /etc/slurm/slurm.conf: the tests start their own from a temporary folder).
      libslurm-dev libmunge-dev munge slurmctld slurmd slurm-client)
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "chase: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
  echo "chase: generating the locale de_DE.UTF-8 (for the decimal-comma test)" >&2
  $sudo_cmd localedef -i de_DE -c -f UTF-8 de_DE.UTF-8
fi
