#!/usr/bin/env bash
# The one Python environment of the repository's Python-dependent checks (the PyTorch export's
# parity tests, Hugging Face peer checks): .venv-lmp/ (gitignored) with torch (CPU), numpy,
# safetensors and transformers. Reused when it already imports them; prints the interpreter's path
# on stdout (progress on stderr). LMP_VENV overrides the folder, LMP_PIP_ARGS adds pip arguments.
# `npm run test:python` runs the suites with it; `npm test` never needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${LMP_VENV:-.venv-lmp}"
# an absolute path: the suites run the interpreter from other folders (the exported package)
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
PY="$VENV/bin/python"
CHECK="import torch, numpy, safetensors, transformers"
if [ -x "$PY" ] && "$PY" -c "$CHECK" >/dev/null 2>&1; then
  echo "$PY"
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "python-env: python3 not found" >&2; exit 1; }
echo "python-env: creating $VENV (torch, numpy, safetensors, transformers)" >&2
python3 -m venv "$VENV"
# --retries 0: an index that cannot be reached fails at once instead of retrying for minutes
# shellcheck disable=SC2086
"$PY" -m pip install --quiet --disable-pip-version-check --retries 0 --timeout 60 ${LMP_PIP_ARGS:-} torch numpy safetensors transformers >&2
"$PY" -c "$CHECK; import sys; print('python-env: torch', torch.__version__, 'transformers', transformers.__version__, file=sys.stderr)"
echo "$PY"
