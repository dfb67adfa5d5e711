#!/usr/bin/env bash
# ONE prepared call for a GPU session (see bench/gpu/README.md): build the CUDA parity binary with
# nvcc for sm_90 and run every check on the device -- the same checks npm test runs under the CPU
# emulator, so the emulator's self-tests (emu_*, conversions_*, cublas_*) also validate its
# fragment layouts, conversions and cuBLAS semantics against the hardware -- then the optional
# steps (memcheck, the other helpers' benchmarks) while the time budget lasts.
#
# Usage (device tool): run(command="bash bench/gpu/check.sh",
#                          carry=["node_modules/node-addon-api", "node_modules/node-api-headers"])
# Env: OUT (logs; default /tmp/lmp-gpu), LMP_GPU_BUDGET_S (seconds for all steps, default 480: one device call runs at most 600 s, and the session has 15 minutes of device time in all, start included),
#      LMP_PARITY_BUILD (build folder, default build/cuda-parity), LMP_PARITY_FILTER (--filter).
# Writes $OUT/check.log (everything), $OUT/<step>.log per step and $OUT/summary.txt; exits 1 when
# any step failed (every step still runs), 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/lmp-gpu}
mkdir -p "$OUT"
LOG=$OUT/check.log
SUMMARY=$OUT/summary.txt
BUDGET=${LMP_GPU_BUDGET_S:-480}
B=${LMP_PARITY_BUILD:-build/cuda-parity}
T0=$(date +%s)
: >"$LOG"
: >"$SUMMARY"
FAILED=0

elapsed() { echo $(( $(date +%s) - T0 )); }
say() { echo "[$(elapsed)s] $*" | tee -a "$LOG"; }

# step NAME TIMEOUT_S CMD...: runs CMD with a time limit, output to $OUT/NAME.log and check.log;
# records "NAME rc seconds" in summary.txt; skipped (rc "skip") when the budget cannot hold it.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$(( BUDGET - $(elapsed) ))
  if (( left < 20 )); then
    say "SKIP $name: budget spent ($(elapsed)s of ${BUDGET}s)"
    echo "$name skip 0" >>"$SUMMARY"
    return 0
  fi
  (( limit > left )) && limit=$left
  say "STEP $name (limit ${limit}s): $*"
  local t=$(date +%s) rc=0
  set +e
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  set -e
  cat "$OUT/$name.log" >>"$LOG"
  local dt=$(( $(date +%s) - t ))
  echo "$name $rc $dt" >>"$SUMMARY"
  if (( rc != 0 )); then
    FAILED=1
    say "FAIL $name rc=$rc after ${dt}s (124/137: time limit); last lines:"
    tail -25 "$OUT/$name.log" | tee -a "$LOG"
  else
    say "ok   $name after ${dt}s"
  fi
  return 0
}

say "lmp GPU check: $(git log --oneline -1 2>/dev/null || echo 'no git')"
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader || true; nvcc --version | tail -2 || true; } >>"$LOG" 2>&1
tail -3 "$LOG"

# cuBLAS: native/cuda/model/cublas.cmake finds the toolkit's or the nvidia-cublas pip wheel's (set
# LMP_CUBLAS_DIR to a folder with include/ and lib/ to force one).
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
step configure 120 cmake -S native/cuda/parity -B "$B" "${GEN[@]}" -DCMAKE_CUDA_ARCHITECTURES=90 -DLMP_NATIVE_ARCH=OFF \
  ${LMP_CUBLAS_DIR:+-DLMP_CUBLAS_DIR=$LMP_CUBLAS_DIR}
step build 360 cmake --build "$B" -j 16
if [[ -x "$B/lmp_cuda_parity" ]]; then
  step parity 240 "$B/lmp_cuda_parity" ${LMP_PARITY_FILTER:+--filter "$LMP_PARITY_FILTER"}
  # The device primitives' checks under compute-sanitizer's memcheck (Firecracker machines only).
  if command -v compute-sanitizer >/dev/null 2>&1; then
    step memcheck 120 compute-sanitizer --tool memcheck --error-exitcode 3 "$B/lmp_cuda_parity" --quiet --filter emu_,conversions_,log_softmax,splitmix
  fi
else
  say "no parity binary: parity steps skipped"
  echo "parity skip 0" >>"$SUMMARY"
  FAILED=1
fi

# Other helpers' steps (each a script of its own in bench/gpu/, sharing $B and $OUT): add lines here.
[[ -f bench/gpu/model.sh ]] && step model 240 env LMP_PARITY_BUILD="$B" OUT="$OUT" bash bench/gpu/model.sh
[[ -f bench/gpu/attention.sh ]] && step attention 420 env LMP_PARITY_BUILD="$B" OUT="$OUT" bash bench/gpu/attention.sh
# The whole-model trainer/decoder vs PyTorch: only when .gpu-carry (bench/gpu/prepare-carry.sh) was carried.
[[ -d .gpu-carry ]] && step train 300 env OUT="$OUT" bash bench/gpu/train.sh
[[ -d .gpu-carry/export ]] && step export 300 env OUT="$OUT" bash bench/gpu/export.sh

say "summary (step rc seconds):"
tee -a "$LOG" <"$SUMMARY"
grep -hE '^(PASS|FAIL) |checks, [0-9]+ failed' "$OUT/parity.log" 2>/dev/null | grep -E '^FAIL|checks,' | tee -a "$LOG" || true
say "done in $(elapsed)s; $([[ $FAILED == 0 ]] && echo 'all steps passed' || echo 'SOME STEPS FAILED')"
exit $FAILED
