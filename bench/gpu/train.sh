#!/usr/bin/env bash
# The CUDA trainer and decoder on a GPU against PyTorch on the same GPU, in one call:
#   1. parity: bench/gpu/train-bench.mjs's tiny-model checks (GPU vs the CPU engine of the same addon);
#   2. lmp timing: a ~125M Llama, training tokens/s and MFU (bf16) and decode tokens/s at batch 1;
#   3. the peer: bench/gpu/train_peer.py (transformers LlamaForCausalLM, eager and torch.compile;
#      generate), same model shape and batch.
# Needs .gpu-carry/ from bench/gpu/prepare-carry.sh (run it on the development machine first).
# Device tool: run(command="bash bench/gpu/train.sh", timeout_s=560, carry=[".gpu-carry"])
# Writes $OUT/train.log and $OUT/train-bench.jsonl (every JSON line of both); exit 1 when a parity
# check failed or a part did not run.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/lmp-gpu}
mkdir -p "$OUT"
C=.gpu-carry
LOG=$OUT/train.log
for f in lmp.node train-bench.mjs node.xz; do
  [[ -f $C/$f ]] || { echo "missing $C/$f: run bash bench/gpu/prepare-carry.sh first and carry .gpu-carry" | tee -a "$LOG"; exit 1; }
done
NODE=/tmp/lmp-node
[[ -x $NODE ]] || { xz -dc "$C/node.xz" >"$NODE" && chmod +x "$NODE"; }
# cuBLAS: the nvidia-cublas wheel of python3 (nvidia/cu13/lib), else the toolkit's
CUBLAS=$(python3 -c "import nvidia, os; p=os.path.join(list(nvidia.__path__)[0], 'cu13', 'lib'); print(p if os.path.isdir(p) else '')" 2>/dev/null)
export LD_LIBRARY_PATH=${CUBLAS:+$CUBLAS:}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export LMP_NATIVE_PATH=$PWD/$C/lmp.node
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$LOG"
git log --oneline -1 2>/dev/null | tee -a "$LOG"
rc=0
timeout 240 "$NODE" "$C/train-bench.mjs" 2>&1 | tee -a "$LOG" || rc=1
PYTHONUNBUFFERED=1 timeout 240 python3 bench/gpu/train_peer.py 2>&1 | tee -a "$LOG" || rc=1
grep -h '^{' "$LOG" >"$OUT/train-bench.jsonl" || true
echo "train.sh: $([[ $rc == 0 ]] && echo 'all parts ran' || echo 'A PART FAILED')" | tee -a "$LOG"
exit $rc
