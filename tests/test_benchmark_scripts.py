"""The benchmark scripts' code paths at tiny sizes (their figures come from real runs)."""

from __future__ import annotations

import torch

from benchmark import gpu_check, planning_speed


def test_planning_speed_builds_the_paper_lewm_at_its_image_size():
    model = planning_speed.make_world_model("lewm-paper")
    assert model.cfg.image_size == 224 and model.history == 3
    row = planning_speed.measure(
        model, "cem", 1, 2, planning_speed.BUDGETS["tiny"], torch.device("cpu"), repeats=1
    )
    assert row["model calls"] == 2 and row["solve s"] > 0


def test_gpu_check_dry_run_on_cpu(tmp_path):
    """The GPU owner's one command, end to end at tiny sizes: speed rows for the three paper
    models, the four planners at two batch sizes, and a TwoRoom run with floors."""
    parts = gpu_check.main(
        gpu_check.GPUCheckConfig(
            device="cpu", dry_run=True, data=tmp_path / "data", out=tmp_path / "gpu_check.md"
        )
    )
    assert [r["model"] for r in parts["train_speed"]] == ["lewm", "dreamer", "tdmpc2"]
    assert {r["planner"] for r in parts["planning"]} == {"cem", "mppi", "grasp", "gd"}
    tworoom = parts["tworoom"]
    assert tworoom["train steps"] == 3 and "CEM success %" in tworoom
    assert tworoom["no-op / random / expert %"].endswith("/100")  # the expert ceiling ran
    text = (tmp_path / "gpu_check.md").read_text()
    assert "TwoRoom end to end" in text and "commit" in text
