#!/usr/bin/env bash
# ONE GPU call for the CUDA fused attention (native/cuda/attention): build the parity binary with
# nvcc (sm_90), run the attention parity checks at realistic sizes (T up to 4097; the emulated
# ones run in npm test), then benchmark vs torch FlexAttention / SDPA (bench/gpu/attention.py).
# Writes $OUT/attention.log, attention-parity.log, attention-bench.{md,json}. ~8 minutes.
# Needs nvcc, cmake, python3 with torch; carry node_modules/node-addon-api and
# node_modules/node-api-headers (headers of the CPU reference build), e.g. with the device tool:
#   run(command="bash bench/gpu/attention.sh", carry=["node_modules/node-addon-api", "node_modules/node-api-headers"])
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/lmp-gpu}
mkdir -p "$OUT"
log=$OUT/attention.log
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$log"; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader 2>&1 | tee "$log"
git log --oneline -1 2>/dev/null | tee -a "$log"
B=${LMP_PARITY_BUILD:-build/cuda-parity}
stamp "configure"
cmake -S native/cuda/parity -B "$B" -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 -DLMP_NATIVE_ARCH=OFF >>"$log" 2>&1 \
  || cmake -S native/cuda/parity -B "$B" -DCMAKE_CUDA_ARCHITECTURES=90 -DLMP_NATIVE_ARCH=OFF >>"$log" 2>&1
stamp "build"
cmake --build "$B" -j 16 >>"$log" 2>&1 || { tail -40 "$log"; stamp "BUILD FAILED"; exit 1; }
stamp "parity (attention)"
timeout 200 "$B/lmp_cuda_parity" --filter attention_fused,attention_errors,attention_classes 2>&1 | tee "$OUT/attention-parity.log"
prc=${PIPESTATUS[0]}
stamp "parity rc=$prc; benchmark"
timeout 330 python3 bench/gpu/attention.py "$B/lmp_cuda_parity" 2>&1 | tee -a "$log"
stamp "done"
exit "$prc"
