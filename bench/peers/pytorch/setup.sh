#!/usr/bin/env bash
# The Python side of bench/peers/pytorch: a venv with torch (CPU) and transformers, installed with
# pip (offline here: pip finds the wheels through its configured find-links). Reuses the
# repository's shared .venv-py when it already has both; otherwise creates build-peers/venv
# (build-*/ is git-ignored). LMP_PEERS_VENV=DIR picks another folder. Never run by npm test.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
has() { "$1/bin/python" -c 'import torch, transformers, safetensors, numpy' 2>/dev/null; }
if [ -n "${LMP_PEERS_VENV:-}" ]; then venv="$LMP_PEERS_VENV"
elif [ -x "$root/.venv-py/bin/python" ] && has "$root/.venv-py"; then echo "using $root/.venv-py"; exit 0
else venv="$root/build-peers/venv"; fi
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
if ! has "$venv"; then
  "$venv/bin/pip" install --quiet --retries 0 torch transformers safetensors numpy
fi
"$venv/bin/python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
echo "venv: $venv (node bench/peers/pytorch/run.mjs finds it; or set LMP_PEERS_VENV)"
