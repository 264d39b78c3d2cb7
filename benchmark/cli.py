"""The ``wmbench`` command (also ``python run_benchmark.py``): run a suite, or one stage.

    wmbench                      run the default suite (quick) into data/results, then report
    wmbench run --suite smoke    ~1 min on 2 CPU cores (what CI runs end to end)
    wmbench list [envs|models|planners|suites]
    wmbench collect|train|evaluate|report|inspect --help

A user mistake (an unknown name, a bad option value, an unusable file) is one line on stderr,
``error: ...``, and exit status 2; set WMBENCH_TRACEBACK=1 to see the traceback.
"""

from __future__ import annotations

import difflib
import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco

COMMANDS = ("run", "collect", "train", "evaluate", "report", "inspect", "list")
LISTS = ("envs", "models", "planners", "suites")


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
        return usage_error(str(err))


def usage_error(message: str) -> int:
    first = (message.strip().splitlines() or [""])[0]
    print(f"error: {first}", file=sys.stderr)
    return 2


def parse(cls: type, args: list[str], prog: str, **kwargs: object) -> object:
    """``tyro.cli`` whose usage errors (an unknown or malformed option) become one line, with
    tyro's "perhaps you meant" suggestion, instead of a box; help text is untouched."""
    import contextlib
    import io

    import tyro

    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            parsed = tyro.cli(cls, args=args, prog=prog, **kwargs)
    except SystemExit as exit_:
        if exit_.code in (0, None):
            sys.stderr.write(buf.getvalue())
            raise
        raise ValueError(_one_line(buf.getvalue())) from None
    sys.stderr.write(buf.getvalue())  # warnings printed while parsing are kept
    return parsed


def _one_line(box: str) -> str:
    """A tyro error box on one line: each section's heading with the flags it names, e.g.
    ``Missing from wmbench train: --dataset, --out; Unrecognized options: --modle lewm``."""
    # rich draws a box on a terminal and plain dashes elsewhere: accept both
    lines = [raw.rstrip().rstrip("│╮╯").rstrip().lstrip("│╭╰") for raw in box.splitlines()]
    lines = [ln for ln in lines if ln.strip()][1:]  # the first is the title
    sections: list[list[str]] = [[]]
    for line in lines:
        if set(line.strip()) <= {"─", "-"}:
            sections.append([])
        else:
            sections[-1].append(line)
    parts = []
    for lines in sections:
        if not lines or lines[0].strip().startswith("For full helptext"):
            continue
        depth = [len(ln) - len(ln.lstrip()) for ln in lines]
        head = " ".join(ln.strip() for ln, d in zip(lines, depth) if d == depth[0])
        items = [ln.split()[0] for ln, d in zip(lines, depth) if depth[0] < d <= depth[0] + 4]
        if head.startswith("Perhaps you meant"):
            parts.append(f"did you mean {' or '.join(items)}?")
        else:
            parts.append(f"{head.rstrip(':')}{': ' + ', '.join(items) if items else ''}")
    return "; ".join(parts) or "bad command line (see --help)"


def _unknown(kind: str, name: str, valid: tuple[str, ...]) -> ValueError:
    hit = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {hit[0]!r}?)" if hit else ""
    return ValueError(f"unknown {kind} {name!r}{hint}; valid: {', '.join(valid)}")


def registries() -> dict[str, list[tuple[str, str]]]:
    """Every registry as (name, one-line description) pairs, for ``wmbench list``."""
    import envs
    from agents import planners, world_models
    from benchmark import suites

    def first_line(cls: type) -> str:
        """The class docstring's first line, else its module's (a class may have none)."""
        doc = cls.__doc__ or sys.modules[cls.__module__].__doc__ or ""
        return (doc.strip().splitlines() or [""])[0]

    return {
        "envs": [(e, first_line(envs.env_class(e))) for e in envs.ids()],
        "models": [(m, first_line(world_models.model_class(m))) for m in world_models.names()],
        "planners": [(p, first_line(planners.planner_class(p))) for p in planners.names()],
        "suites": [
            (
                s.name,
                f"{len(s.envs)} envs x {len(s.models)} models x {len(s.planners)} planners x "
                f"{len(s.seeds)} seeds, {s.n_tasks} tasks per env, {s.image_size} px",
            )
            for s in suites.SUITES.values()
        ],
    }


def list_command(args: list[str]) -> int:
    """``wmbench list [envs|models|planners|suites]``: the registries, one name per line."""
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: wmbench list [envs|models|planners|suites]")
        return 0 if args and args[0] in ("-h", "--help") else 2
    wanted = args or list(LISTS)
    for name in wanted:
        if name not in LISTS:
            raise _unknown("registry", name, LISTS)
    tables = registries()
    for name in wanted:
        print(f"{name}:")
        width = max(len(n) for n, _ in tables[name])
        for entry, text in tables[name]:
            print(f"  {entry:<{width}}  {text}")
    return 0


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else "run"
    args = argv[1:] if argv and argv[0] == command else argv
    if command not in COMMANDS:
        raise _unknown("command", command, COMMANDS)
    prog = f"wmbench {command}"
    if command == "list":
        return list_command(args)
    if command == "collect":
        from benchmark.collect import CollectConfig, collect

        print(collect(parse(CollectConfig, args=args, prog=prog)))
    elif command == "train":
        from benchmark.train import TrainConfig, train

        print(train(parse(TrainConfig, args=args, prog=prog)))
    elif command == "evaluate":
        from benchmark.evaluate import EvaluateCommand

        parse(EvaluateCommand, args=args, prog=prog).run()
    elif command == "report":
        from benchmark.report import ReportConfig, build_report

        cfg = parse(ReportConfig, args=args, prog=prog)
        build_report(cfg)
        print(f"wrote {cfg.out / 'leaderboard.md'}, {cfg.out / 'index.html'}, {cfg.out}/figures/")
    elif command == "inspect":
        from benchmark.inspect_dataset import InspectCommand

        parse(InspectCommand, args=args, prog=prog).run()
    else:
        from benchmark.grid import RunConfig, run
        from benchmark.report import ReportConfig, build_report

        cfg = parse(RunConfig, args=args, prog="wmbench [run]", description=__doc__)
        records = run(cfg)
        failed = [r for r in records.values() if r.get("status") != "ok"]
        if cfg.report:
            build_report(ReportConfig(out=cfg.out, suite=cfg.suite))
            print(
                f"leaderboard: {cfg.out / 'leaderboard.md'}; page: {cfg.out / 'index.html'}; "
                f"figures: {cfg.out / 'figures' / cfg.suite}/"
            )
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
