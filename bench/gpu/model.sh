#!/usr/bin/env bash
# The CUDA model layers on a GPU: every model_* parity check (the emulated sizes, then
# model_layers_large at realistic sizes) and model_timings (GB/s for the memory-bound kernels,
# TFLOP/s for the cuBLAS GEMM wrapper at the training shapes of a ~125M-parameter Llama, T = 8192),
# with LMP_MODEL_LARGE=1. A step of bench/gpu/check.sh (which builds the parity binary first), or
# alone in one device call (it then builds it). Logs: $OUT/model-bench.log, $OUT/model-parity.log.
#
#   bash bench/gpu/model.sh              # on the GPU machine
#   bash bench/gpu/model.sh --build-only # anywhere with nvcc: the compile-only check (no GPU needed)
#
# cuBLAS: the toolkit's, else the `nvidia-cublas` pip wheel of python3 (native/cuda/model/cublas.cmake
# finds either; the wheel's folder is also given as LMP_CUBLAS_ROOT and put on LD_LIBRARY_PATH).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/lmp-gpu}
mkdir -p "$OUT"
log=$OUT/model-bench.log  # (check.sh writes its step output to $OUT/model.log)
: >"$log"
say() { echo "$@" | tee -a "$log"; }
B=${LMP_PARITY_BUILD:-build/cuda-parity}

say "== $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$log" 2>&1 || say "(no nvidia-smi)"

wheel=$(python3 - 2>/dev/null <<'PY'
import importlib.util, os
s = importlib.util.find_spec('nvidia')
for d in (s.submodule_search_locations if s else []):
    for x in ('cu13', 'cublas', 'cu12'):
        r = os.path.join(d, x)
        if os.path.exists(os.path.join(r, 'include', 'cublas_v2.h')):
            print(r)
            raise SystemExit
PY
)
[ -n "$wheel" ] && { say "cuBLAS wheel: $wheel"; export LD_LIBRARY_PATH="$wheel/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; }

if [ "${1:-}" = "--build-only" ] || [ ! -x "$B/lmp_cuda_parity" ]; then
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  t0=$(date +%s)
  if ! cmake -S native/cuda/parity -B "$B" "${gen[@]}" -DCMAKE_CUDA_ARCHITECTURES=90 ${wheel:+-DLMP_CUBLAS_ROOT=$wheel} >>"$log" 2>&1 ||
     ! cmake --build "$B" -j "$(nproc)" >>"$log" 2>&1; then
    say "FAIL: configure/build (last lines of $log):"
    tail -30 "$log"
    exit 1
  fi
  grep -E "^-- lmp: cuBLAS" "$log" | tail -1
  say "built $B/lmp_cuda_parity in $(( $(date +%s) - t0 )) s"
  [ "${1:-}" = "--build-only" ] && exit 0
fi

# Everything to model-parity.log; the console (the call's output tail) gets the check lines, the
# failures and the timing notes. Exit status: the parity binary's.
LMP_MODEL_LARGE=1 "$B/lmp_cuda_parity" --filter model_ >"$OUT/model-parity.log" 2>&1
rc=$?
cat "$OUT/model-parity.log" >>"$log"
grep -E "^(PASS|FAIL|device)|^    FAIL|^    note|checks," "$OUT/model-parity.log" | tail -90
say "model parity exit: $rc"
exit "$rc"
