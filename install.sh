#!/usr/bin/env bash
# Installs wmbench and everything it needs into the current Python environment.
#
#   ./install.sh                              # into `python` (an activated venv, say)
#   PYTHON=/path/to/python ./install.sh       # into another interpreter's environment
#
# torch comes first, in its own pip call, and only when no suitable one is installed:
#   1. a torch >= TORCH_MIN (and < 3) already there is kept (a CUDA build on a GPU box, say);
#   2. else torch==TORCH_LOCAL from pip's local wheels (its configured find-links), when it is
#      there: nothing is downloaded (the wmbench CI machines);
#   3. else, on Linux with no NVIDIA driver, the CPU build from PyTorch's CPU wheel index (the
#      Linux x86_64 wheels on PyPI are CUDA builds that pull several GB of nvidia-* packages);
#   4. else torch from PyPI (a CUDA build on a Linux GPU box).
# Then `pip install -e ".[dev]"`, which leaves that torch as it is.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
TORCH_MIN=2.4 # keep equal to the torch bound in pyproject.toml
TORCH_LOCAL=2.13.0
CPU_INDEX=https://download.pytorch.org/whl/cpu

say() { echo "install.sh: $*"; }
pip_() { "$PY" -m pip "$@"; }

if ! "$PY" -m pip --version >/dev/null 2>&1; then
    say "'$PY -m pip' does not run; set PYTHON to a Python >= 3.10 with pip (a venv has it)" >&2
    exit 1
fi

# The installed torch's version (from its metadata: importing torch takes seconds), or nothing.
installed=$("$PY" -c 'from importlib.metadata import version
try:
    print(version("torch"))
except Exception:
    pass' 2>/dev/null || true)
suitable=no
if [[ -n $installed ]]; then
    suitable=$("$PY" - "$installed" "$TORCH_MIN" <<'PYCHECK'
import re, sys
have, need = (tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", v).groups()) for v in sys.argv[1:])
print("yes" if need <= have and have[0] < 3 else "no")
PYCHECK
)
fi

if [[ $suitable == yes ]]; then
    say "keeping the installed torch $installed (>= $TORCH_MIN, < 3)"
else
    if [[ -n $installed ]]; then
        say "the installed torch $installed is not in [$TORCH_MIN, 3): replacing it"
    fi
    if pip_ install -q --no-index --no-deps "torch==$TORCH_LOCAL" >/dev/null 2>&1; then
        say "installed torch $TORCH_LOCAL from a local wheel (pip's find-links; no download)"
        pip_ install -q "torch==$TORCH_LOCAL" # its small dependencies (sympy, networkx, ...)
    elif [[ $(uname -s) == Linux ]] && ! command -v nvidia-smi >/dev/null 2>&1 &&
        [[ ! -e /proc/driver/nvidia ]]; then
        say "no NVIDIA GPU here: installing the CPU build of torch from $CPU_INDEX"
        if ! pip_ install "torch>=$TORCH_MIN,<3" --index-url "$CPU_INDEX"; then
            say "could not install from $CPU_INDEX; installing torch from PyPI instead" \
                "(a CUDA build: several GB of nvidia-* packages)"
            pip_ install "torch>=$TORCH_MIN,<3"
        fi
    else
        say "installing torch from PyPI (the CUDA build on Linux)"
        pip_ install "torch>=$TORCH_MIN,<3"
    fi
fi

say "installing wmbench and its dependencies: pip install -e \".[dev]\""
pip_ install -q -e ".[dev]"
say "done: $("$PY" -c 'import torch; print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")')"
