#!/usr/bin/env bash
# The PyTorch export on a GPU machine (one prepared script, a few minutes; not run by CI, which has
# no GPU): export the quickstart train, run 20 steps on the CPU (sdpa) and on CUDA (compiled
# FlexAttention, forward and backward), and compare the per-step losses; then 2 ranks under
# torchrun on CUDA when two GPUs exist. Prints the figures for bench/RESULTS.md.
# Needs: npm ci done (dist/, the addon), python3; creates .venv-lmp through .ci/python-env.sh
# (set LMP_PIP_ARGS to pick a CUDA build of torch where the default index serves CPU wheels).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="$(bash .ci/python-env.sh)"
OUT="${1:-/tmp/lmp-export-gpu}"
rm -rf "$OUT"
node dist/compiler/cli.js export examples/quickstart.lmp --target quick --pytorch -o "$OUT/pkg"
cd "$OUT/pkg"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('device:', torch.cuda.get_device_name(0), 'torch', torch.__version__)"
"$PY" train.py --steps 20 --device cpu --attention sdpa --log "$OUT/cpu.jsonl" --checkpoint-dir "$OUT/ck-cpu"
/usr/bin/time -f "cuda wall %e s" "$PY" train.py --steps 20 --device cuda --attention flex-compiled --log "$OUT/cuda.jsonl" --checkpoint-dir "$OUT/ck-cuda"
"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
rd = lambda p: [json.loads(l) for l in open(p) if '"loss"' in l and '"eval"' not in l]
a, b = rd(f"{out}/cpu.jsonl"), rd(f"{out}/cuda.jsonl")
worst = max(abs(x["loss"] - y["loss"]) / abs(x["loss"]) for x, y in zip(a, b))
print(f"20 steps: CPU sdpa vs CUDA flex-compiled, worst relative loss difference {worst:.2e}; last loss {a[-1]['loss']:.5f} vs {b[-1]['loss']:.5f}")
print(f"tokens/s (last step): cpu {a[-1]['tokensPerSec']:.0f}, cuda {b[-1]['tokensPerSec']:.0f}")
sys.exit(0 if worst < 1e-3 else 1)
PYEOF
if [ "$("$PY" -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  "$(dirname "$PY")/torchrun" --nproc-per-node 2 -- train.py --steps 20 --device cuda --log "$OUT/cuda2.jsonl" --checkpoint-dir "$OUT/ck-cuda2"
fi
