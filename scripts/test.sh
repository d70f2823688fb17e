#!/usr/bin/env bash
# Installs what is missing, then builds and runs the whole test suite twice: a normal build with warnings as
# errors, and an AddressSanitizer + UndefinedBehaviorSanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)
cmake -S . -B build -DCHASE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# The installed library works for a user: install to a scratch prefix, build the API example with pkg-config.
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
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
cmake -S . -B build-asan -DCHASE_WERROR=ON -DCHASE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j"$jobs")
