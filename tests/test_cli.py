"""The ``wmbench`` command: registries listed, user mistakes as one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import cli

ROOT = Path(__file__).resolve().parent.parent


def test_list_prints_every_registry(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for kind, entries in cli.registries().items():
        assert f"{kind}:" in out
        for name, text in entries:
            assert name in out and text and text in out
    assert cli.main(["list", "planners"]) == 0
    only = capsys.readouterr().out
    assert only.startswith("planners:") and "envs:" not in only


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["lst"], "did you mean 'list'?"),
        (["list", "env"], "did you mean 'envs'?"),
        (["--suite", "quik"], "did you mean 'quick'?"),
        (["--envs", "tworoom"], "did you mean 'wmbench/TwoRoom-v0'?"),
        (["--models", "lewn"], "did you mean 'lewm'?"),
        (["--planners", "gras"], "did you mean 'grasp'?"),
        (["--seeds", "-1"], "--seeds"),
        (["--device", "cudaa"], "--device 'cudaa'"),
        (["--sute", "quick"], "did you mean --suite?"),
        (["--precision", "fp64"], "invalid choice 'fp64'"),
        (["evaluate", "--checkpoint", "x"], "--dataset"),
        (["inspect", "/nonexistent/dataset"], "/nonexistent/dataset"),
        (["report", "--out", "/nonexistent/out"], "no records"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(argv, expect, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("WMBENCH_TRACEBACK", raising=False)
    monkeypatch.chdir(tmp_path)  # nothing may be created anywhere, even on a mistake
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expect in err
    assert not any(tmp_path.iterdir())


def test_the_console_script_and_run_benchmark_are_the_same_command():
    """``wmbench`` is installed as a console script and ``run_benchmark.py`` delegates to it
    (tomllib is not used: it needs Python 3.11, wmbench supports 3.10)."""
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="wmbench")
    assert script.value == "benchmark.cli:main"

    def run_benchmark(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "run_benchmark.py", *args]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)

    done = run_benchmark("list", "suites")
    assert done.returncode == 0 and done.stdout.startswith("suites:"), done.stderr
    bad = run_benchmark("--suite", "nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and not bad.stdout


def test_help_is_still_shown_in_full(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help"])
    assert exit_.value.code == 0 and "--dataset" in capsys.readouterr().out


def test_inspect_takes_the_dataset_as_documented(tworoom_dataset, tmp_path, capsys):
    """``wmbench inspect <dataset>``: the dataset is positional, as the docs write it."""
    sheet = tmp_path / "sheet.png"
    assert cli.main(["inspect", str(tworoom_dataset), "--sheet", str(sheet)]) == 0
    assert "wmbench/TwoRoom-v0" in capsys.readouterr().out and sheet.stat().st_size > 0
