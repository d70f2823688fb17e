#!/usr/bin/env bash
# Observe-only check of `chase devices` and `chase run --dry-run` around a real PyTorch CUDA training loop, for a lent
# GPU machine. It NEVER changes the GPUs' settings: every chase run here is --dry-run, and the script fails if any
# power limit differs afterwards. Results (JSON, logs, a summary) go to $OUT (default ./gpu-check-out).
#
# Usage: OUT=/some/dir bash scripts/gpu-check.sh [training steps, default 3000]
# Environment: CHASE_BIN (default build/chase, built here if missing), PYTHON (default /usr/bin/python3, else python3),
# GPU_CHECK_NVML_LIBRARY (rehearse without a GPU: the fake NVML of tests/nvml, with FAKE_NVML_STATE set),
# GPU_CHECK_TRAIN_ARGS (options of examples/train_cnn.py; default "--batch-size 256 --width 64").
# Budget: about 2-4 minutes (build ~1-2 min if needed, two short training runs of ~30-60 s each).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
STEPS=${1:-3000}
mkdir -p "$OUT"
log() { echo "gpu-check: $*" | tee -a "$OUT/summary.txt" >&2; }
: >"$OUT/summary.txt"
# The real driver's NVML, never a leftover fake; GPU_CHECK_NVML_LIBRARY is for a rehearsal with the fake NVML.
unset CHASE_NVML_LIBRARY
[ -n "${GPU_CHECK_NVML_LIBRARY:-}" ] && export CHASE_NVML_LIBRARY=$GPU_CHECK_NVML_LIBRARY

# 1. chase: use the one given, else build one (Release, no tests) if it is not there.
CHASE=${CHASE_BIN:-build/chase}
if ! "$CHASE" --version >/dev/null 2>&1; then
  log "building chase (no $CHASE)"
  if ! { cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCHASE_BUILD_TESTS=OFF &&
         cmake --build build-gpu -j"$(nproc)"; } >"$OUT/build.log" 2>&1; then
    log "FAILED to build chase (see build.log; missing packages? scripts/deps.sh lists them)"
    exit 1
  fi
  CHASE=build-gpu/chase
fi
log "chase: $("$CHASE" --version)"

# 2. What the machine has (read-only).
nvidia-smi -q -d POWER >"$OUT/nvidia-smi-power-before.txt" 2>&1 || log "nvidia-smi not available"
if ! "$CHASE" devices --json "$OUT/devices-before.json" 2>"$OUT/devices-before.err"; then
  log "FAILED: chase devices: $(cat "$OUT/devices-before.err")"
  exit 1
fi
"$CHASE" devices | tee "$OUT/devices-before.txt" >&2

PYTHON=${PYTHON:-}
for p in /usr/bin/python3 python3; do
  [ -n "$PYTHON" ] && break
  "$p" -c "import torch" >/dev/null 2>&1 && PYTHON=$p
done
if [ -z "$PYTHON" ]; then
  log "FAILED: no python with torch"
  exit 1
fi
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
  torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" \
  2>&1 | tee "$OUT/torch.txt" >&2
grep -q "cuda True" "$OUT/torch.txt" || log "WARNING: torch sees no CUDA GPU; the training runs on the CPU"

# 3. Two dry runs around real CUDA training (GPU 0 only): policy max, and fixed at the lowest limit (decided and
#    recorded, not applied). A short period gives several readings of the energy counters.
lo=$("$PYTHON" -c "import json; print(int(json.load(open('$OUT/devices-before.json'))['devices'][0]['min_power_limit_w']))")
export CUDA_VISIBLE_DEVICES=0 CUDA_DEVICE_ORDER=PCI_BUS_ID
status=0
for policy in max "fixed:$lo"; do
  tag=${policy/:/-}
  log "chase run --dry-run --policy $policy ($STEPS steps)"
  timeout 300 "$CHASE" run --dry-run --gpus 0 --policy "$policy" --signal static:400 --period 5s \
    --report "$OUT/run-$tag.json" -- \
    "$PYTHON" examples/train_cnn.py --steps "$STEPS" ${GPU_CHECK_TRAIN_ARGS:---batch-size 256 --width 64} \
    >"$OUT/run-$tag.out" 2>"$OUT/run-$tag.err"
  rc=$?
  tail -n 3 "$OUT/run-$tag.err" >&2
  [ $rc -eq 0 ] || { log "FAILED: chase run exited with $rc (see run-$tag.err)"; status=1; }
done

# 4. Nothing may have changed: compare every GPU's limit before and after; record the energy readings.
"$CHASE" devices --json "$OUT/devices-after.json" 2>>"$OUT/devices-after.err"
nvidia-smi -q -d POWER >"$OUT/nvidia-smi-power-after.txt" 2>&1 || true
"$PYTHON" - "$OUT" <<'EOF' || status=1
import json, sys
out = sys.argv[1]
before = json.load(open(out + "/devices-before.json"))["devices"]
after = json.load(open(out + "/devices-after.json"))["devices"]
bad = [(b["index"], b["power_limit_w"], a["power_limit_w"]) for b, a in zip(before, after)
       if b["power_limit_w"] != a["power_limit_w"]]
lines = []
for b, a in zip(before, after):
    lines.append("GPU %d %s: limit %s W before, %s W after; energy counter +%.1f J over the check"
                 % (b["index"], b["name"], b["power_limit_w"], a["power_limit_w"],
                    (a["energy_j"] or 0) - (b["energy_j"] or 0)))
for tag in ("max", "fixed"):
    import glob
    for path in glob.glob(out + "/run-%s*.json" % tag):
        r = json.load(open(path))
        t = r["total"]
        lines.append("%s: %.1f s, %.0f J, %.2f g, %d steps (%.1f steps/s), %d periods, dry_run %s, limits recorded %s"
                     % (path.split("/")[-1], t["time_s"], t["energy_j"], t["carbon_g"], t["steps"],
                        t["steps"] / t["time_s"] if t["time_s"] else 0, len(r["periods"]), r["dry_run"],
                        sorted({p["power_limit_w"] for p in r["periods"]})))
        lines.extend("  period %s: %.1f s %.0f J %d steps" % (p["start_time"], p["end"] - p["start"], p["energy_j"],
                                                               p["steps"]) for p in r["periods"])
open(out + "/summary.txt", "a").write("\n".join(lines) + "\n")
print("\n".join(lines), file=sys.stderr)
if bad:
    print("gpu-check: FAILED: power limits changed: %s" % bad, file=sys.stderr)
    sys.exit(1)
EOF
log "done (status $status); results in $OUT"
exit $status
