#!/usr/bin/env bash
# Builds chase's libFuzzer targets (every fuzz/fuzz_*.c: the trace CSV reader, the JSON profile reader, progress
# datagrams, times and durations, the three API response parsers and the signal spec splitter) with clang, ASan and
# UBSan, through CMake (so the library's source list is never repeated here), and runs each for SECONDS (default
# 60), two at a time, starting from its seeds in fuzz/seeds/TARGET.
# Usage: fuzz/run.sh [SECONDS]      Needs clang and libclang-rt (scripts/deps.sh installs them).
# Results: build-fuzz/TARGET.log (libFuzzer's output), crashes as build-fuzz/crash-*; exit status 1 on a crash.
# scripts/test.sh runs it for a few seconds per target, so that the targets keep building and finding nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
out=build-fuzz
mkdir -p "$out"
cmake -S . -B "$out" -DCMAKE_C_COMPILER=clang -DCHASE_FUZZ=ON -DCHASE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_C_FLAGS="-O1 -fsanitize=fuzzer-no-link" >"$out/configure.log" 2>&1 ||
  { cat "$out/configure.log"; exit 1; }
targets=()
for src in fuzz/fuzz_*.c; do
  t=$(basename "$src" .c)
  targets+=("${t#fuzz_}")
done
cmake --build "$out" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }

run_one() {
  local t=$1 secs=$2 out=$3 bin
  bin=$(find "$out" -name "fuzz_$t" -type f -perm -u+x | head -n1)
  mkdir -p "$out/corpus/$t"
  cp -n fuzz/seeds/"$t"/* "$out/corpus/$t/" 2>/dev/null || true
  if "$bin" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" \
      "$out/corpus/$t" >"$out/$t.log" 2>&1; then
    echo "fuzz_$t: ok, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$') runs" \
         "in ${secs}s, corpus $(ls "$out/corpus/$t" | wc -l) inputs"
  else
    echo "fuzz_$t: FAILED, see $out/$t.log"; tail -n 30 "$out/$t.log"; return 1
  fi
}
export -f run_one
printf '%s\n' "${targets[@]}" | xargs -P 2 -I{} bash -c "run_one {} $secs $out"
