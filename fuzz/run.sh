#!/usr/bin/env bash
# Builds chase's libFuzzer targets (not part of the normal build) with ASan + UBSan and runs each for SECONDS
# (default 60), two at a time. Targets: the three API response parsers and the signal spec splitter.
# Usage: fuzz/run.sh [SECONDS]      Needs clang and libclang-rt (scripts/deps.sh installs them).
# Results: build-fuzz/TARGET.log (libFuzzer's output), crashes as build-fuzz/crash-*; exit status 1 on a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
out=build-fuzz
mkdir -p "$out"
cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -Ifuzz)
parse=(src/signal/provider_parse.c src/util/timeutil.c src/util/error.c)
spec=("${parse[@]}" src/signal/fallback.c src/signal/signal.c src/signal/provider_common.c src/signal/http.c
      src/signal/cache.c src/signal/provider_electricitymaps.c src/signal/provider_watttime.c
      src/signal/provider_ukci.c)
for t in electricitymaps watttime ukci; do
  clang "${cflags[@]}" "fuzz/fuzz_$t.c" "${parse[@]}" -lcjson -lm -o "$out/fuzz_$t"
done
clang "${cflags[@]}" fuzz/fuzz_spec.c "${spec[@]}" -lcjson -lsqlite3 -lcurl -lm -o "$out/fuzz_spec"

run_one() {
  local t=$1 secs=$2 out=$3
  mkdir -p "$out/corpus/$t"
  cp -n fuzz/seeds/"$t"/* "$out/corpus/$t/" 2>/dev/null || true
  if "./$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" \
      "$out/corpus/$t" >"$out/$t.log" 2>&1; then
    echo "fuzz_$t: ok, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$') runs" \
         "in ${secs}s, corpus $(ls "$out/corpus/$t" | wc -l) inputs"
  else
    echo "fuzz_$t: FAILED, see $out/$t.log"; return 1
  fi
}
export -f run_one
printf '%s\n' electricitymaps watttime ukci spec | xargs -P 2 -I{} bash -c "run_one {} $secs $out"
