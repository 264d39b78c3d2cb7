#!/usr/bin/env python
"""wmbench: run a suite of world-model planning benchmarks and build the leaderboard.

The same command as the ``wmbench`` console script (see ``benchmark/cli.py``):

    python run_benchmark.py                     the default quick suite into data/results
    python run_benchmark.py --suite smoke       about a minute on 2 CPU cores
    python run_benchmark.py list                the envs, world models, planners and suites
    python run_benchmark.py collect|train|evaluate|report|inspect --help
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco

from benchmark.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
