#!/usr/bin/env bash
# The PyTorch export (issue 15) on the GPU, in one step: each package that bench/gpu/prepare-carry.sh
# exported into .gpu-carry/export/NAME/pkg trains 20 steps on CUDA with compiled FlexAttention
# (forward and backward through torch.compile) and with SDPA, and its per-step losses are compared
# with the same package's 20 CPU steps (SDPA, fp32) run on the development machine
# (.gpu-carry/export/NAME/cpu.jsonl; the CPU run itself equals lmp's own losses in CI's
# compiler/export/torch.test.ts). Then, where two GPUs exist, 2 ranks under torchrun (NCCL).
# Uses the machine's python3 (torch with CUDA, safetensors); no lmp, no network.
# Step of bench/gpu/check.sh when .gpu-carry/export exists; alone:
#   run(command="OUT=\$OUT bash bench/gpu/export.sh", timeout_s=300, carry=[".gpu-carry"])
# Writes $OUT/export.log and $OUT/export-NAME-{flex,sdpa}.jsonl; exit 1 when a run failed or a loss
# differs from the CPU's by more than 1e-3 relative.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/lmp-gpu}
mkdir -p "$OUT"
LOG=$OUT/export.log
E=$PWD/.gpu-carry/export
[[ -d $E ]] || { echo "missing .gpu-carry/export: run bash bench/gpu/prepare-carry.sh and carry .gpu-carry" | tee -a "$LOG"; exit 1; }
python3 -c "import torch, safetensors; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__, 'on', torch.cuda.get_device_name(0))" 2>&1 | tee -a "$LOG" || exit 1
git log --oneline -1 2>/dev/null | tee -a "$LOG"
rc=0
for d in "$E"/*/; do
  name=$(basename "$d")
  for path in flex-compiled sdpa; do
    tag=${path%%-*}
    rm -rf "/tmp/lmp-export-$name-$tag"
    echo "== $name: 20 steps on cuda, attention $path" | tee -a "$LOG"
    ( cd "$d/pkg" && PYTHONUNBUFFERED=1 timeout 170 python3 train.py --steps 20 --device cuda --attention "$path" \
        --log "$OUT/export-$name-$tag.jsonl" --checkpoint-dir "/tmp/lmp-export-$name-$tag" ) >>"$LOG" 2>&1 || { echo "FAIL $name $path: train.py exited $?" | tee -a "$LOG"; rc=1; continue; }
    python3 - "$d/cpu.jsonl" "$OUT/export-$name-$tag.jsonl" "$name" "$path" <<'PYEOF' 2>&1 | tee -a "$LOG" || rc=1
import json, sys
rd = lambda p: [json.loads(l) for l in open(p) if '"loss"' in l and '"eval"' not in l and '"step"' in l]
a, b = rd(sys.argv[1]), rd(sys.argv[2])
n = min(len(a), len(b))
worst = max(abs(x["loss"] - y["loss"]) / abs(x["loss"]) for x, y in zip(a[:n], b[:n])) if n else float("inf")
tps = sorted(r["tokensPerSec"] for r in b[len(b) // 2:])  # the second half: after compilation
ok = n == 20 and worst < 1e-3
print(json.dumps({"export": sys.argv[3], "attention": sys.argv[4], "steps": n, "worstRelLossDiff": worst, "lossCpu": a[n - 1]["loss"] if n else None,
                  "lossCuda": b[n - 1]["loss"] if n else None, "tokensPerSecMedian": tps[len(tps) // 2] if tps else None, "ok": ok}))
print(("PASS" if ok else "FAIL") + f" {sys.argv[3]} {sys.argv[4]}: {n} steps, worst relative loss difference vs the CPU run {worst:.2e}")
sys.exit(0 if ok else 1)
PYEOF
  done
done
if [[ $(python3 -c 'import torch; print(torch.cuda.device_count())') -ge 2 ]]; then
  name=$(basename "$(ls -d "$E"/*/ | head -1)")
  ( cd "$E/$name/pkg" && timeout 150 python3 -m torch.distributed.run --nproc-per-node 2 train.py --steps 20 --device cuda \
      --log "$OUT/export-$name-2ranks.jsonl" --checkpoint-dir "/tmp/lmp-export-$name-2r" ) >>"$LOG" 2>&1 || { echo "FAIL torchrun 2 ranks" | tee -a "$LOG"; rc=1; }
else
  echo "one GPU: torchrun on 2 GPUs not run" | tee -a "$LOG"
fi
grep -h '^{"export"' "$LOG" >"$OUT/export-summary.jsonl" || true
echo "export.sh: $([[ $rc == 0 ]] && echo 'all runs passed' || echo 'A RUN FAILED')" | tee -a "$LOG"
exit $rc
