#!/usr/bin/env python
"""wmbench: run a suite of world-model planning benchmarks and build the leaderboard.

    python run_benchmark.py                          the default quick suite, then the report
    python run_benchmark.py --suite smoke            ~20 s on 2 CPU cores (what CI runs end to end)
    python run_benchmark.py --envs wmbench/TwoRoom-v0 --models lewm,dreamer,tdmpc2

Subcommands (each has --help):
    collect    collect a dataset              python run_benchmark.py collect --env-id ...
    train      train a world model            python run_benchmark.py train --dataset ...
    evaluate   plan with a checkpoint         python run_benchmark.py evaluate --checkpoint ...
    report     leaderboard + figures          python run_benchmark.py report
    inspect    summarise a dataset            python run_benchmark.py inspect <dataset>
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco


def main(argv: list[str] | None = None) -> int:
    """Runs one command; a user error (bad option, unusable input) is one line and exit 2."""
    from benchmark.checkpoint import CheckpointError
    from benchmark.collect import CollectionLocked
    from benchmark.datasets import DatasetError

    try:
        return _main(argv)
    except (ValueError, FileNotFoundError, CheckpointError, CollectionLocked, DatasetError) as err:
        if os.environ.get("WMBENCH_TRACEBACK"):
            raise
        first = (str(err).strip().splitlines() or [""])[0]
        print(
            f"error: {first}\n(set WMBENCH_TRACEBACK=1 to see the traceback)",
            file=sys.stderr,
        )
        return 2


def _main(argv: list[str] | None = None) -> int:
    import tyro

    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else "run"
    args = argv[1:] if command != "run" else argv
    if command == "collect":
        from benchmark.collect import CollectConfig, collect

        print(collect(tyro.cli(CollectConfig, args=args, prog="run_benchmark.py collect")))
    elif command == "train":
        from benchmark.train import TrainConfig, train

        print(train(tyro.cli(TrainConfig, args=args, prog="run_benchmark.py train")))
    elif command == "evaluate":
        from benchmark.evaluate import EvaluateCommand

        tyro.cli(EvaluateCommand, args=args, prog="run_benchmark.py evaluate").run()
    elif command == "report":
        from benchmark.report import ReportConfig, build_report

        cfg = tyro.cli(ReportConfig, args=args, prog="run_benchmark.py report")
        build_report(cfg)
        print(
            f"wrote {cfg.out / 'leaderboard.md'}, {cfg.out / 'leaderboard.csv'}, "
            f"{cfg.out / 'figures'}/"
        )
    elif command == "inspect":
        from benchmark.inspect_dataset import InspectCommand

        tyro.cli(InspectCommand, args=args, prog="run_benchmark.py inspect").run()
    elif command == "run":
        from benchmark.grid import RunConfig, run
        from benchmark.report import ReportConfig, build_report

        cfg = tyro.cli(RunConfig, args=args, prog="run_benchmark.py", description=__doc__)
        records = run(cfg)
        failed = [r for r in records.values() if r.get("status") != "ok"]
        if cfg.report:
            build_report(ReportConfig(out=cfg.out, suite=cfg.suite))
            print(f"leaderboard: {cfg.out / 'leaderboard.md'}; figures: {cfg.out / 'figures'}/")
        return 1 if failed else 0
    else:
        print(
            f"unknown subcommand {command!r}; valid: collect, train, evaluate, report, "
            "inspect (or none, to run a suite)",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
