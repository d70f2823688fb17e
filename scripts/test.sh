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
echo "install check passed: the API example built with pkg-config and ran"
cmake -S . -B build-asan -DCHASE_WERROR=ON -DCHASE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j"$jobs")
