#!/usr/bin/env bash
# Installs what is missing, builds chase, and runs `chase simulate` (built-in defaults unless arguments are given).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target chase >/dev/null
exec ./build/chase simulate "$@"
