#!/usr/bin/env bash
# Installs wmbench and everything it needs into the current Python environment.
#
# torch goes first, in its own pip call: `torch==2.13.0` takes the local CPU wheel on the
# wmbench machines (an unpinned torch pulls several GB of CUDA packages), while an existing
# torch in the supported range (say a CUDA build on a GPU box) is left alone.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
if ! "$PY" - <<'PYCHECK' 2>/dev/null; then
import sys, torch
major, minor = (int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
sys.exit(0 if (2, 13) <= (major, minor) < (3, 0) else 1)
PYCHECK
  "$PY" -m pip install -q "torch==2.13.0"
fi
"$PY" -m pip install -q -e ".[dev]"
