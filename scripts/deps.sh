#!/usr/bin/env bash
# Installs the Debian 12 packages chase needs to build and test, skipping those already present.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcjson-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev libsvm-dev
      python3 python3-torch clang libclang-rt-14-dev
      # The Slurm plugin: its headers and munge to build it, a real Slurm to test it (tests/slurm; the daemons'
      # services stay down without /etc/slurm/slurm.conf: the tests start their own from a temporary folder).
      libslurm-dev libmunge-dev munge slurmctld slurmd slurm-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "chase: installing ${missing[*]}" >&2
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
