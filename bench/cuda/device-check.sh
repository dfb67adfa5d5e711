#!/usr/bin/env bash
# Build the CUDA backend and run its parity checks + timings on a GPU machine, in one call.
# Needs: nvcc, cmake, g++ and the node-addon-api / node-api-headers headers (carry
# node_modules/node-addon-api and node_modules/node-api-headers when node_modules is absent).
# Usage: bash bench/cuda/device-check.sh   (writes the log to $OUT/cuda-parity.log if OUT is set)
set -euo pipefail
cd "$(dirname "$0")/../.."
log=${OUT:-/tmp}/cuda-parity.log
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$log" || true
cmake -S native/cuda/parity -B build/cuda-parity -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 >>"$log" 2>&1 \
  || cmake -S native/cuda/parity -B build/cuda-parity >>"$log" 2>&1
cmake --build build/cuda-parity -j 16 2>&1 | tail -5 | tee -a "$log"
./build/cuda-parity/lmp_cuda_parity 2>&1 | tee -a "$log"
