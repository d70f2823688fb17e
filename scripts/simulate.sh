#!/usr/bin/env bash
# Installs what is missing, builds chase, and runs `chase simulate` (built-in defaults unless arguments are given).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# A build folder of its own: the test builds keep theirs (warnings as errors, sanitizers).
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target chase >/dev/null
exec ./build-release/chase simulate "$@"
