#!/usr/bin/env bash
# Installs what is missing, then builds and runs the whole test suite twice: a normal build with warnings as
# errors, and an AddressSanitizer + UndefinedBehaviorSanitizer build; then runs each fuzz target briefly. Under
# CI=true a skipped test fails the run: CI has every tool, locale and data file the tests need, so a skip there
# means a check silently did not run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs ctest in build folder $1 (extra environment in the rest of the arguments) and refuses skips under CI.
run_ctest() {
  local dir=$1 log="$logs/$(basename "$1").log"
  shift
  (cd "$dir" && env "$@" ctest --output-on-failure -j"$jobs") 2>&1 | tee "$log"
  if grep -q '\*\*\*Skipped' "$log"; then
    echo "skipped tests in $dir:" >&2
    grep '\*\*\*Skipped' "$log" >&2
    if [ "${CI:-}" = true ]; then
      echo "CI: a skipped test is a check that did not run; install what it needs (scripts/deps.sh)" >&2
      return 1
    fi
  fi
}

cmake -S . -B build -DCHASE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
run_ctest build

# The installed library works for a user: install to a scratch prefix, build the API example with pkg-config.
prefix=$(mktemp -d)
trap 'rm -rf "$logs" "$prefix"' EXIT
cmake --install build --prefix "$prefix" >/dev/null
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc -Wall -Werror examples/simulate_api.c \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs chase) -o "$prefix/simulate_api"
LD_LIBRARY_PATH="$prefix/lib" "$prefix/simulate_api"
# man chase and the bash completion work from where they were installed (captured, not piped into grep -q, which
# would end the writer early: a failure under pipefail).
page=$(MANWIDTH=100 man -M "$prefix/share/man" chase)
[[ $page == *"chase run"* ]] || { echo "install check: man -M $prefix/share/man chase shows no page"; exit 1; }
offered=$(bash -c 'source "$1/share/bash-completion/completions/chase"; COMP_WORDS=("$1/bin/chase" ""); COMP_CWORD=1
                   _chase; echo "${COMPREPLY[*]}"' _ "$prefix")
[[ " $offered " == *" report "* ]] || { echo "install check: the installed completion offers: $offered"; exit 1; }
echo "install check passed: the API example built with pkg-config and ran; man chase and the completion work"

# Without /usr/bin/python3 configuring must fail, not quietly drop the Python and end-to-end tests.
if cmake -S . -B "$prefix/nopython" -DCHASE_SYSTEM_PYTHON=/nonexistent/python3 >/dev/null 2>&1; then
  echo "configure succeeded without Python: the Python tests would have been dropped" >&2
  exit 1
fi
echo "configure check passed: a missing /usr/bin/python3 stops the configure"

cmake -S . -B build-asan -DCHASE_WERROR=ON -DCHASE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
run_ctest build-asan ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1

# The fuzz targets keep building with libFuzzer and find nothing in a short run (their seeds are replayed by ctest
# above; fuzz/run.sh SECONDS runs them longer).
bash fuzz/run.sh "${CHASE_FUZZ_SECONDS:-10}"
