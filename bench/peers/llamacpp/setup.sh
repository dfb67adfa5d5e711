#!/usr/bin/env bash
# Installs node-llama-cpp (prebuilt llama.cpp binaries from npm) into build-peers/llamacpp for
# bench/peers/llamacpp/run.mjs only: it is never a dependency of the package. Install scripts are
# not run (the prebuilt linux-x64 package carries the binaries; nothing is downloaded or built).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
dir="${LMP_LLAMACPP_DIR:-$root/build-peers/llamacpp}"
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"lmp-bench-llamacpp","private":true}' > package.json
npm install --no-audit --no-fund --ignore-scripts --omit=optional node-llama-cpp@3.22.1 "@node-llama-cpp/linux-x64@3.22.1"
echo "node-llama-cpp in $dir"
