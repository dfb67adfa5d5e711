#!/usr/bin/env bash
# The CUDA fused attention (native/cuda/attention) on a GPU: its benchmark vs torch FlexAttention
# and SDPA (bench/gpu/attention.py, ~4-5 minutes), after the parity binary is built and checked.
#   - as a step of bench/gpu/check.sh (LMP_PARITY_BUILD set, the binary built and every parity
#     check, attention_fused_large included, already run): runs the benchmark only;
#   - alone: `bash bench/gpu/attention.sh` runs check.sh with the attention checks only
#     (LMP_PARITY_FILTER=attention_), which builds, checks and then calls this script as its step.
# Device tool: run(command="bash bench/gpu/attention.sh", carry=["node_modules/node-addon-api", "node_modules/node-api-headers"])
# Writes $OUT/attention-bench.{md,json} (and check.sh's logs).
set -uo pipefail
cd "$(dirname "$0")/../.."
if [[ -z "${LMP_PARITY_BUILD:-}" ]]; then
  export LMP_PARITY_FILTER=${LMP_PARITY_FILTER:-attention_}
  exec bash bench/gpu/check.sh
fi
OUT=${OUT:-/tmp/lmp-gpu}
mkdir -p "$OUT"
B=$LMP_PARITY_BUILD
[[ -x "$B/lmp_cuda_parity" ]] || { echo "no parity binary in $B"; exit 1; }
timeout 330 python3 bench/gpu/attention.py "$B/lmp_cuda_parity"
