#!/usr/bin/env bash
# Prepares .gpu-carry/ (ignored by git) for bench/gpu/train.sh on a GPU machine, which has CUDA,
# cuBLAS (the nvidia-cublas wheel of its python3) and PyTorch but no Node.js and no network:
#   lmp.node         the addon with the CUDA backend, built here with nvcc for sm_90 (portable CPU
#                    code: LMP_NATIVE_ARCH=OFF), cuBLAS found at load time through LD_LIBRARY_PATH
#   train-bench.mjs  bench/gpu/train-bench.ts bundled by esbuild (no node_modules needed)
#   node.xz          this machine's node binary, xz-compressed (~24 MB)
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
du -sh .gpu-carry/*
