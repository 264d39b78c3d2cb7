"""What every artefact records about where it came from: versions, git commit, fingerprints."""

from __future__ import annotations

import ast
import hashlib
import json
import platform
import subprocess
from dataclasses import asdict, is_dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "torch",
    "numpy",
    "gymnasium",
    "gymnasium-robotics",
    "mujoco",
    "dm-control",
    "minari",
    "gym-pusht",
    "pymunk",
    "ogbench",
)
REPO_ROOT = Path(__file__).resolve().parent.parent

# The package sources each kind of artefact depends on (paths relative to the repo root).
# A cell depends on everything except the modules that only present finished records and the
# speed/diagnostic/study scripts (SCRIPTS), which no part includes.
CODE_PARTS = {
    "data": ("envs", "benchmark/collect.py", "benchmark/datasets.py"),
    "train": (
        "envs",
        "agents",
        "benchmark/collect.py",
        "benchmark/datasets.py",
        "benchmark/train.py",
        "benchmark/checkpoint.py",
        "benchmark/metrics.py",  # the held-out check behind a checkpoint's beat_copy_at
    ),
    "eval": ("envs", "agents", "benchmark"),
}
PRESENTATION = (
    "benchmark/report.py",
    "benchmark/plots.py",
    "benchmark/html.py",
    "benchmark/cli.py",
)
"""Modules that read finished records and never change a number: left out of ``eval``."""
SCRIPTS = "benchmark/scripts"
"""The speed, diagnostic and study scripts: they use the pipeline, no artefact comes from them,
so every part leaves them out (editing one never makes a dataset, checkpoint or cell stale)."""


@cache
def package_versions() -> dict[str, str]:
    """Installed versions of the packages results depend on (``"missing"`` if absent)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


@cache
def git_commit() -> str:
    """The commit of the working tree, suffixed ``-dirty`` when its code (anything outside
    ``results/``) has uncommitted changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            # results/ is output, not code: refreshing a figure does not make the code dirty
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


@cache
def code_version(part: str) -> str:
    """A short hash of the package sources that produce one kind of artefact (``data``,
    ``train`` or ``eval``, see ``CODE_PARTS``; never ``SCRIPTS``): editing any of them changes
    the fingerprints of what they produce, so a stale dataset, checkpoint or record is never
    reused.

    >>> len(code_version("eval")), code_version("data") == code_version("data")
    (12, True)
    """
    digest = hashlib.sha1()
    for f in code_files(part):
        digest.update(f.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
        digest.update(_code_of(f) + b"\0")
    return digest.hexdigest()[:12]


def code_files(part: str) -> list[Path]:
    """The source files ``code_version(part)`` hashes, sorted: the part's ``CODE_PARTS``
    without the presentation modules (for ``eval``) and without ``SCRIPTS``."""
    files: set[Path] = set()
    for rel in CODE_PARTS[part]:
        path = REPO_ROOT / rel
        files.update(path.rglob("*.py") if path.is_dir() else [path])
    skip = {REPO_ROOT / rel for rel in PRESENTATION} if part == "eval" else set()
    scripts = REPO_ROOT / SCRIPTS
    return sorted(
        f
        for f in files - skip
        if f.is_file() and "__pycache__" not in f.parts and not f.is_relative_to(scripts)
    )


@cache
def _code_of(path: Path) -> bytes:
    """``_code_only`` of one file, parsed once however many parts include it."""
    return _code_only(path.read_text()).encode()


def _code_only(source: str) -> str:
    """The module's syntax tree without docstrings and other bare strings (comments never
    reach the tree), so editing documentation does not orphan datasets, checkpoints and
    records."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.AST):
                kept = [
                    stmt
                    for stmt in body
                    if not (
                        isinstance(stmt, ast.Expr)
                        and isinstance(stmt.value, ast.Constant)
                        and isinstance(stmt.value.value, str)
                    )
                ]
                setattr(node, field, kept or [ast.Pass()])
    return ast.dump(tree)


def code_versions() -> dict[str, str]:
    """``code_version`` of every part, as recorded beside each result."""
    return {part: code_version(part) for part in CODE_PARTS}


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, paths and numpy scalars as plain JSON values."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    return obj


def fingerprint(obj: Any, length: int = 12) -> str:
    """A short stable hash of a JSON-able config (key order does not matter)."""
    text = json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def machine(device: str = "cpu") -> str:
    """The hardware a figure was measured on: the CPU model and core count, or the GPU name."""
    import os

    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(torch.device(device))} (torch {torch.__version__})"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}, {cores} cores, {torch.get_num_threads()} torch threads (torch {torch.__version__})"
    )


def banner(device: str = "cpu") -> str:
    """One line for the top of a benchmark's output: the command that made it, the git commit,
    the machine and the date, so a figure can be traced and reproduced."""
    import datetime
    import sys

    prog = Path(sys.argv[0])
    module = prog.resolve().with_suffix("").parts[len(REPO_ROOT.parts) :]
    if prog.suffix == ".py" and prog.resolve().is_relative_to(REPO_ROOT / "benchmark"):
        prog_str = "python -m " + ".".join(module)  # benchmark.train, benchmark.scripts.x
    else:
        prog_str = f"python {prog.name}"
    command = " ".join([prog_str, *sys.argv[1:]])
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"`{command}` | commit {git_commit()} | {machine(device)} | {when}\n"
