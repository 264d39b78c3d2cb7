"""Bad options are refused up front, with a message naming the option and its valid values.

Every check here runs before any work: the dataset and checkpoint paths are missing on purpose
wherever possible, so a check that came after loading them would raise a different error.
"""

from __future__ import annotations

import math
import os
import re
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import run_benchmark
from agents import planners
from agents.planners.base import Range
from benchmark import train as train_mod
from benchmark.checkpoint import CheckpointError
from benchmark.evaluate import EvalConfig, EvaluateCommand, evaluate
from benchmark.options import check_writable
from benchmark.train import TrainConfig, TrainingDiverged, train


def _cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(dataset=tmp_path / "missing", out=tmp_path / "run", preset="smoke", device="cpu")
    return TrainConfig(**{**base, **kw})


def _small_eval(**kw) -> EvalConfig:
    base = dict(
        planner_options={"samples": 8, "elites": 2, "iterations": 1},
        n_tasks=1,
        goal_offset=20,
        budget=5,
        pred_horizon=1,
        pred_windows=8,
        videos=0,
    )
    return EvalConfig(**{**base, **kw})


def _cli_error(capsys) -> str:
    """tyro's error box as one line (its borders and line wrapping removed)."""
    return " ".join(capsys.readouterr().err.replace("│", " ").split())


# -- train ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("steps", 0, "steps (--steps) must be an integer >= 1, got 0"),
        ("steps", -5, "steps (--steps) must be an integer >= 1, got -5"),
        ("steps", 2.5, "steps (--steps) must be an integer >= 1, got 2.5"),
        ("batch_size", 0, "batch_size (--batch-size) must be an integer >= 1, got 0"),
        ("eval_every", 0, "eval_every (--eval-every) must be an integer >= 1, got 0"),
        ("ckpt_every", 0, "ckpt_every (--ckpt-every) must be an integer >= 1, got 0"),
        ("log_every", 0, "log_every (--log-every) must be an integer >= 1, got 0"),
        ("lr", 0.0, "lr (--lr) must be a number > 0, got 0.0"),
        ("lr", math.nan, "lr (--lr) must be a number > 0, got nan"),
        ("lr", math.inf, "lr (--lr) must be a number > 0, got inf"),
        ("warmup_steps", -1, "warmup_steps (--warmup-steps) must be an integer >= 0, got -1"),
        ("grad_clip", 0.0, "grad_clip (--grad-clip) must be a number in (0, inf], got 0.0"),
        ("weight_decay", -1.0, "weight_decay (--weight-decay) must be a number >= 0, got -1.0"),
        ("seed", -1, "seed (--seed) must be an integer >= 0, got -1"),
    ],
)
def test_train_config_rejects_bad_numbers(tmp_path, option, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _cfg(tmp_path, **{option: value})


def test_train_config_accepts_the_edge_values(tmp_path):
    cfg = _cfg(tmp_path, steps=1, batch_size=1, warmup_steps=0, grad_clip=math.inf, lr=1)
    assert cfg.resolved().steps == 1


def test_train_cli_refuses_steps_0_before_loading_the_dataset(tmp_path, capsys):
    args = ["--dataset", str(tmp_path / "missing"), "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as exit_info:
        train_mod.main([*args, "--steps", "0"])
    assert exit_info.value.code == 2
    assert "steps (--steps) must be an integer >= 1, got 0" in _cli_error(capsys)
    assert not (tmp_path / "run").exists()


def test_train_refuses_an_out_that_is_a_file_before_loading_the_dataset(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="--out .*file must be a folder, but it is a file"):
        train(_cfg(tmp_path, out=tmp_path / "file"), progress=False)


def test_train_refuses_a_batch_smaller_than_the_ranks(tmp_path, monkeypatch):
    monkeypatch.setattr(train_mod, "_setup_distributed", lambda device: (0, 4))
    with pytest.raises(ValueError, match=r"batch_size \(--batch-size\) must be >= the 4 DDP"):
        train(_cfg(tmp_path, batch_size=2), progress=False)


def test_divergence_before_the_first_checkpoint_says_there_is_none(
    tworoom_dataset, tmp_path, monkeypatch
):
    from agents.world_models.lewm import LeWM

    real = LeWM.loss

    def poisoned(self, batch):
        loss, logs = real(self, batch)
        return loss * float("nan"), logs

    monkeypatch.setattr(LeWM, "loss", poisoned)
    cfg = _cfg(tmp_path, dataset=tworoom_dataset, steps=4, batch_size=8, warmup_steps=1)
    message = r"at step 0; stopped. No checkpoint was written yet \(the first is due at step 4\)"
    with pytest.raises(TrainingDiverged, match=message) as err:
        train(cfg, progress=False)
    assert "last good checkpoint" not in str(err.value)
    assert not (tmp_path / "run" / "checkpoint").exists()


# -- evaluate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("n_tasks", 0, "n_tasks (--eval.n-tasks) must be an integer >= 1, got 0"),
        ("n_tasks", 2.5, "n_tasks (--eval.n-tasks) must be an integer >= 1, got 2.5"),
        ("budget", 0, "budget (--eval.budget) must be an integer >= 1, got 0"),
        ("horizon", 0, "horizon (--eval.horizon) must be an integer >= 1, got 0"),
        ("receding", -1, "receding (--eval.receding) must be an integer in [0, horizon=5]"),
        ("receding", 6, "receding (--eval.receding) must be an integer in [0, horizon=5]"),
        ("goal_offset", 0, "goal_offset (--eval.goal-offset) must be an integer >= 1, got 0"),
        ("task_seed", -1, "task_seed (--eval.task-seed) must be an integer >= 0, got -1"),
        ("planner_seed", -1, "planner_seed (--eval.planner-seed) must be an integer >= 0"),
        ("pred_horizon", -1, "pred_horizon (--eval.pred-horizon) must be an integer >= 0"),
        ("pred_windows", 0, "pred_windows (--eval.pred-windows) must be an integer >= 1"),
        ("videos", -1, "videos (--eval.videos) must be an integer >= 0, got -1"),
    ],
)
def test_eval_config_rejects_bad_numbers(option, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        EvalConfig(**{option: value})


def test_evaluate_cli_refuses_n_tasks_0_before_any_work(tmp_path, capsys):
    missing = str(tmp_path / "missing")
    argv = ["evaluate", "--checkpoint", missing, "--dataset", missing, "--eval.n-tasks", "0"]
    assert run_benchmark.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line
    assert "n_tasks (--eval.n-tasks) must be an integer >= 1, got 0" in err


def test_evaluate_cli_refuses_a_non_integer_sample_count(tmp_path, capsys):
    missing = str(tmp_path / "missing")
    argv = ["evaluate", "--checkpoint", missing, "--dataset", missing]
    for value, shown in (("abc", "'abc'"), ("50.5", "50.5")):
        assert run_benchmark.main([*argv, "--eval.planner-options", "samples", value]) == 2
        err = capsys.readouterr().err
        assert f"planner cem: samples must be an integer >= 2, got {shown}" in err


def test_evaluate_checks_planner_options_before_loading_anything(tmp_path):
    cfg = _small_eval()
    cfg.planner_options["samples"] = "abc"  # changed after construction: evaluate checks again
    with pytest.raises(ValueError, match="planner cem: samples must be an integer >= 2"):
        evaluate(tmp_path / "missing", tmp_path / "missing", cfg, device="cpu")


# -- planner options --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("cem", {"samples": "abc"}, "planner cem: samples must be an integer >= 2, got 'abc'"),
        ("cem", {"samples": 50.5}, "planner cem: samples must be an integer >= 2, got 50.5"),
        ("cem", {"samples": True}, "planner cem: samples must be an integer >= 2, got True"),
        ("cem", {"elites": 400}, "planner cem: elites must be an integer in [1, samples=300]"),
        ("cem", {"samples": 10}, "planner cem: elites must be an integer in [1, samples=10]"),
        ("cem", {"iterations": 0}, "planner cem: iterations must be an integer >= 1, got 0"),
        ("cem", {"sigma0": math.nan}, "planner cem: sigma0 must be a finite number > 0"),
        ("cem", {"momentum": 1.0}, "planner cem: momentum must be a number in [0, 1), got 1.0"),
        ("mppi", {"temperature": 0}, "planner mppi: temperature must be a number > 0, got 0.0"),
        ("mppi", {"temperature": "hot"}, "planner mppi: temperature must be a number > 0"),
        ("mppi", {"std_min": 2.0}, "planner mppi: std_min must be a number in [0, std_max=1.0]"),
        ("gd", {"lr": 0.0}, "planner gd: lr must be a number > 0, got 0.0"),
        ("gd", {"restarts": 0}, "planner gd: restarts must be an integer >= 1, got 0"),
        ("grasp", {"lr_s": 0.0}, "planner grasp: lr_s must be a number > 0, got 0.0"),
        ("grasp", {"lr_a": -1.0}, "planner grasp: lr_a must be a number > 0, got -1.0"),
        ("grasp", {"sync_lr": 0.0}, "planner grasp: sync_lr must be a number > 0, got 0.0"),
        ("grasp", {"sync_sigma": 0.0}, "planner grasp: sync_sigma must be a number > 0"),
        ("grasp", {"sync_every": 0}, "planner grasp: sync_every must be an integer >= 1"),
        ("grasp", {"sync_elites": 100}, "planner grasp: sync_elites must be an integer in [1, "),
        ("grasp", {"sync": "adam"}, "planner grasp: sync must be one of 'gd', 'cem', 'none'"),
        ("grasp", {"sync_states": "false"}, "planner grasp: sync_states must be True or False"),
    ],
)
def test_planner_options_name_the_planner_option_and_range(name, options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        planners.make(name, **options)
    with pytest.raises(ValueError, match=re.escape(message)):  # and before any work
        EvalConfig(planner=name, planner_options=options)


def test_planner_seed_and_horizon_are_checked():
    with pytest.raises(ValueError, match=re.escape("planner cem: seed must be an integer >= 0")):
        planners.make("cem", seed=-1)
    with pytest.raises(ValueError, match=re.escape("planner gd: horizon must be an integer >= 1")):
        planners.make("gd", horizon=True)


def test_unknown_planner_options_list_the_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown config keys .*\['samplez'\]; valid: .*'samples'"
    ):
        EvalConfig(planner_options={"samplez": 3})


def test_float_options_given_as_ints_become_floats():
    planner = planners.make("gd", lr=1)
    assert isinstance(planner.config.lr, float) and "lr=1.0" in planner.describe()


def test_range_prints_the_valid_values():
    assert str(Range(1)) == ">= 1" and 0 not in Range(1) and 1 in Range(1)
    assert str(Range(0, low_open=True)) == "> 0" and 0 not in Range(0, low_open=True)
    assert str(Range(0, 1, high_open=True)) == "in [0, 1)" and 1 not in Range(0, 1, high_open=True)
    assert str(Range(1, 30, high_name="samples")) == "in [1, samples=30]"


# -- output folders ---------------------------------------------------------------------------


def test_a_video_dir_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    missing = tmp_path / "missing"
    message = "--video-dir .*file must be a folder, but it is a file"
    with pytest.raises(ValueError, match=message):
        EvaluateCommand(checkpoint=missing, dataset=missing, video_dir=tmp_path / "file")
    with pytest.raises(ValueError, match=message):
        evaluate(missing, missing, _small_eval(), device="cpu", video_dir=tmp_path / "file")
    with pytest.raises(ValueError, match="--video-dir .*: .*file is a file"):
        evaluate(missing, missing, _small_eval(), device="cpu", video_dir=tmp_path / "file" / "v")


def test_an_out_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    missing = tmp_path / "missing"
    with pytest.raises(ValueError, match="--out .*file/r.json cannot be created: .*file is a file"):
        EvaluateCommand(checkpoint=missing, dataset=missing, out=tmp_path / "file" / "r.json")
    with pytest.raises(ValueError, match="--out .* must be a file, but it is a folder"):
        EvaluateCommand(checkpoint=missing, dataset=missing, out=tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ValueError, match="--video-dir .* cannot be created: .* not writable"):
            check_writable(locked / "videos", "--video-dir")
    finally:
        locked.chmod(0o700)


def test_out_in_a_new_folder_and_more_videos_than_tasks(tworoom_dataset, tiny_checkpoint, tmp_path):
    command = EvaluateCommand(
        checkpoint=tiny_checkpoint,
        dataset=tworoom_dataset,
        eval=_small_eval(videos=3),
        device="cpu",
        tasks_file=tmp_path / "tasks.json",
        video_dir=tmp_path / "new" / "videos",
        out=tmp_path / "new" / "records" / "r.json",
    )
    record = command.run()
    assert (tmp_path / "new" / "records" / "r.json").is_file()
    assert len(record["videos"]) == 1  # one video per task at most


# -- checkpoints ------------------------------------------------------------------------------


def test_a_checkpoint_with_nan_weights_is_named_at_load(tworoom_dataset, tiny_checkpoint, tmp_path):
    ckpt = tmp_path / "checkpoint"
    shutil.copytree(tiny_checkpoint, ckpt)
    tensors = load_file(ckpt / "model.safetensors")
    name = next(k for k, v in tensors.items() if k.startswith("encoder") and v.is_floating_point())
    tensors[name] = torch.full_like(tensors[name], math.nan)
    save_file(tensors, ckpt / "model.safetensors")
    message = f"checkpoint {ckpt} has non-finite weights ({name})"
    with pytest.raises(CheckpointError, match=re.escape(message)):
        evaluate(ckpt, tworoom_dataset, _small_eval(), device="cpu", tasks_file=tmp_path / "t.json")


def test_training_options_fail_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'lewm'"):
        TrainConfig(dataset=tmp_path, out=tmp_path / "run", model="lewn").resolved()
    with pytest.raises(ValueError, match="frameskip"):
        TrainConfig(dataset=tmp_path, out=tmp_path / "run", frameskip=None)
    from agents import world_models

    with pytest.raises(ValueError, match="--num-preds: training options"):  # not a model option
        world_models.build_config("lewm", "quick", num_preds=3)
