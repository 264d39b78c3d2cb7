"""kill -9 at every stage: collect, train and the grid resume to the same bytes (datasets,
weights) and the same outcomes (records) as an uninterrupted run.

Each test starts the stage in a subprocess, SIGKILLs it once it has written part of its work,
resumes it in this process and compares with a reference run that was never interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from benchmark.collect import PARTIAL_SUFFIX, CollectConfig, collect
from benchmark.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def digests(folder: Path, pattern: str = "**/*") -> dict[str, str]:
    """sha256 of every file under ``folder`` matching ``pattern``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob(pattern))
        if p.is_file()
    }


def kill_when(code: str, ready: Callable[[], bool], timeout: float = 120.0) -> None:
    """Runs ``code`` in a fresh Python, SIGKILLs it as soon as ``ready()`` holds; fails if it
    finished (or died) first, which would make the test meaningless."""
    # the same intra-op thread count as this process: float sums depend on it, and the
    # resumed half of a run is compared bit for bit with a reference made here
    threads = str(torch.get_num_threads())
    env = {**os.environ, "OMP_NUM_THREADS": threads, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"the stage ended before it could be killed: {proc.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("the stage made no progress to kill")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()


def collect_cfg(root: Path) -> CollectConfig:
    return CollectConfig(
        env_id="wmbench/TwoRoom-v0", episodes=12, steps=60, image_size=32, workers=1, root=root
    )


def test_collect_killed_mid_way_resumes_to_the_same_bytes(tmp_path):
    reference = collect(collect_cfg(tmp_path / "ref"), progress=False)
    cfg = collect_cfg(tmp_path / "killed")
    partial = cfg.path.with_name(cfg.path.name + PARTIAL_SUFFIX)

    def some_episodes_written() -> bool:  # Minari's arrow storage: one folder per episode
        try:
            return sum(d.name.isdigit() for d in (partial / "data").iterdir()) >= 4
        except OSError:
            return False

    code = (
        "from pathlib import Path\n"
        "from benchmark.collect import CollectConfig, collect\n"
        f"collect(CollectConfig(env_id='wmbench/TwoRoom-v0', episodes=12, steps=60, "
        f"image_size=32, workers=1, root=Path({str(cfg.root)!r})), progress=False)\n"
    )
    kill_when(code, some_episodes_written)
    assert partial.exists() and not cfg.path.exists()
    resumed = collect(cfg, progress=False)
    assert digests(resumed, "data/**/*") == digests(reference, "data/**/*")
    assert digests(resumed, "data/**/*")  # the comparison compared something


def train_cfg(dataset: Path, out: Path) -> TrainConfig:
    return TrainConfig(
        dataset=dataset,
        out=out,
        preset="smoke",
        steps=120,
        ckpt_every=10,
        eval_every=1000,
        log_every=10,
        device="cpu",
    )


def test_train_killed_mid_way_resumes_to_the_same_weights(tworoom_dataset, tmp_path):
    reference = train(train_cfg(tworoom_dataset, tmp_path / "ref"), progress=False)
    out = tmp_path / "killed"
    ckpt = out / "checkpoint" / "trainer.json"

    def past_first_checkpoint() -> bool:
        try:
            return 10 <= json.loads(ckpt.read_text())["step"] < 120
        except (OSError, ValueError, KeyError):
            return False

    code = (
        "from pathlib import Path\n"
        "from benchmark.train import TrainConfig, train\n"
        f"train(TrainConfig(dataset=Path({str(tworoom_dataset)!r}), out=Path({str(out)!r}), "
        "preset='smoke', steps=120, ckpt_every=10, eval_every=1000, log_every=10, "
        "device='cpu'), progress=False)\n"
    )
    kill_when(code, past_first_checkpoint)
    resumed = train(train_cfg(tworoom_dataset, out), progress=False)
    for name in ("model.safetensors", "optimizer.safetensors"):
        assert (resumed / name).read_bytes() == (reference / name).read_bytes(), name


GRID_ARGS = [
    "--suite", "smoke", "--envs", "wmbench/TwoRoom-v0", "--planners", "gd,cem",
    "--device", "cpu", "--workers", "1", "--no-report",
]  # fmt: skip


def outcomes(out: Path) -> dict[str, list]:
    return {
        p.name: json.loads(p.read_text())["outcomes"]
        for p in sorted((out / "runs" / "smoke").glob("*.jsonl"))
    }


def test_grid_killed_between_cells_resumes_to_the_same_records(tmp_path):
    """The killed run shares the reference's dataset and checkpoint (the tests above kill those
    stages), so the kill lands between and inside evaluation cells."""
    import run_benchmark

    data, ref, out = tmp_path / "data", tmp_path / "ref", tmp_path / "killed"
    assert run_benchmark.main([*GRID_ARGS, "--out", str(ref), "--data", str(data)]) == 0
    records = out / "runs" / "smoke"
    args = [*GRID_ARGS, "--out", str(out), "--data", str(data)]
    code = f"import run_benchmark\nrun_benchmark.main({args!r})\n"
    kill_when(code, lambda: len(list(records.glob("*.jsonl"))) == 1, timeout=300)
    assert run_benchmark.main(args) == 0
    assert outcomes(out) == outcomes(ref) and len(outcomes(ref)) == 2
