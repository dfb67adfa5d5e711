#!/usr/bin/env bash
# Prepares .gpu-carry/ (ignored by git) for bench/gpu/train.sh on a GPU machine, which has CUDA,
# cuBLAS (the nvidia-cublas wheel of its python3) and PyTorch but no Node.js and no network:
#   lmp.node         the addon with the CUDA backend, built here with nvcc for sm_90 (portable CPU
#                    code: LMP_NATIVE_ARCH=OFF), cuBLAS found at load time through LD_LIBRARY_PATH
#   train-bench.mjs  bench/gpu/train-bench.ts bundled by esbuild (no node_modules needed)
#   node.xz          this machine's node binary, xz-compressed (~24 MB)
#   export/NAME/     the PyTorch export of the quickstart (decomposition + Grow-P2) and of a
#                    prepacked document-masked fixture (pkg/), with their 20-step CPU run here
#                    (cpu.jsonl: SDPA, fp32) for bench/gpu/export.sh to compare the CUDA runs with
#                    (needs python3 with torch: .ci/python-env.sh, or LMP_VENV=build-peers/venv)
# Run here (needs nvcc and `npm ci`): bash bench/gpu/prepare-carry.sh   (a few minutes: nvcc)
# Then: run(command="bash bench/gpu/train.sh", timeout_s=560, carry=[".gpu-carry"])
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v nvcc >/dev/null || { echo "prepare-carry: nvcc not found (the CUDA addon is built here)"; exit 1; }
mkdir -p .gpu-carry
npx cmake-js compile --directory native --out build/native-cuda-carry --CDLMP_CUDA=ON --CDLMP_NATIVE_ARCH=OFF --CDCMAKE_CUDA_ARCHITECTURES=90
cp build/native-cuda-carry/Release/lmp.node .gpu-carry/lmp.node
npx esbuild bench/gpu/train-bench.ts --bundle --platform=node --format=esm --outfile=.gpu-carry/train-bench.mjs --log-level=warning
[[ -f .gpu-carry/node.xz && .gpu-carry/node.xz -nt "$(command -v node)" ]] || xz -T0 -6 -c "$(readlink -f "$(command -v node)")" >.gpu-carry/node.xz
# the PyTorch export (issue 15): packages and their CPU reference losses
PY="$(bash .ci/python-env.sh)"
rm -rf .gpu-carry/export
for spec in quickstart:examples/quickstart.lmp:quick packed:compiler/export/fixtures/prepack.lmp:packed; do
  IFS=: read -r name file target <<<"$spec"
  node dist/compiler/cli.js export "$file" --target "$target" --pytorch -o ".gpu-carry/export/$name/pkg"
  rm -rf "/tmp/lmp-carry-ck-$name"
  (cd ".gpu-carry/export/$name/pkg" && "$PY" train.py --steps 20 --device cpu --attention sdpa --log ../cpu.jsonl --checkpoint-dir "/tmp/lmp-carry-ck-$name" >/dev/null)
  echo "export $name: $(grep -c '"loss"' ".gpu-carry/export/$name/cpu.jsonl") CPU steps logged"
done
du -sh .gpu-carry/*
