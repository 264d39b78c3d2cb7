"""The trainer: loss falls, checkpoints round-trip, resume is exact, bad checkpoints are refused."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from agents import world_models
from benchmark import train as train_mod
from benchmark.checkpoint import CheckpointError, load_model
from benchmark.datasets import Recording
from benchmark.train import TrainConfig, TrainingDiverged, lr_at, read_history, train


def _weights(path):
    model, _ = load_model(path)
    return model.state_dict()


def test_loss_falls_in_a_short_run(tworoom_dataset, tmp_path, smoke_cfg):
    ckpt = train(
        smoke_cfg(
            tworoom_dataset,
            tmp_path / "run",
            steps=240,
            batch_size=16,
            log_every=20,
            eval_every=80,
            ckpt_every=240,
        ),
        progress=False,
    )
    hist = read_history(tmp_path / "run")
    first, last = hist[0]["loss"], hist[-1]["loss"]
    assert last < 0.75 * first, (first, last)
    evals = [h for h in hist if "cos_1" in h]
    assert evals and all(0 < h["effective_rank"] <= 32 for h in evals)
    assert evals[-1]["cos_1"] > evals[-1]["cos_copy_1"]  # beats copying the last frame
    assert (tmp_path / "run" / "tb").is_dir()
    meta = json.loads((ckpt / "config.json").read_text())
    assert meta["complete"] and meta["step"] == 240 and meta["git_commit"]
    assert meta["dataset"]["fingerprint"] == Recording.open(tworoom_dataset).info["fingerprint"]


def test_save_load_round_trip(tworoom_dataset, tmp_path, smoke_cfg):
    ckpt = train(smoke_cfg(tworoom_dataset, tmp_path / "run", steps=10), progress=False)
    assert sorted(p.name for p in ckpt.iterdir()) == [
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
        "trainer.json",
    ]
    a, _ = load_model(ckpt)
    b, _ = load_model(ckpt)
    px = torch.randint(0, 255, (2, 1, 32, 32, 3), dtype=torch.uint8)
    torch.testing.assert_close(a.eval().encode(px), b.eval().encode(px))
    assert train(smoke_cfg(tworoom_dataset, tmp_path / "run", steps=10), progress=False) == ckpt


@pytest.mark.parametrize("model", world_models.names())
def test_resume_is_exact(model, tworoom_dataset, tmp_path, monkeypatch, smoke_cfg):
    """Every registered model: an interrupted run resumed from its checkpoint ends with the
    weights and the logged steps of an uninterrupted one."""
    straight = train(smoke_cfg(tworoom_dataset, tmp_path / "a", model=model), progress=False)
    real = train_mod.lr_at

    def interrupt(step, *args):
        if step == 14:
            raise KeyboardInterrupt
        return real(step, *args)

    monkeypatch.setattr(train_mod, "lr_at", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(smoke_cfg(tworoom_dataset, tmp_path / "b", model=model), progress=False)
    assert json.loads((tmp_path / "b" / "checkpoint" / "config.json").read_text())["step"] == 10
    monkeypatch.setattr(train_mod, "lr_at", real)
    resumed = train(smoke_cfg(tworoom_dataset, tmp_path / "b", model=model), progress=False)
    for k, v in _weights(straight).items():
        torch.testing.assert_close(v, _weights(resumed)[k], msg=k)
    steps = [h["step"] for h in read_history(tmp_path / "b")]
    assert steps == [h["step"] for h in read_history(tmp_path / "a")]


def test_a_different_config_does_not_resume(tworoom_dataset, tmp_path, smoke_cfg):
    train(smoke_cfg(tworoom_dataset, tmp_path / "run", steps=10), progress=False)
    with pytest.raises(CheckpointError, match="different config"):
        train(smoke_cfg(tworoom_dataset, tmp_path / "run", steps=10, lr=1e-2), progress=False)


def test_mismatched_checkpoints_are_refused(tworoom_dataset, tmp_path, smoke_cfg):
    ckpt = train(smoke_cfg(tworoom_dataset, tmp_path / "run", steps=10), progress=False)
    with pytest.raises(CheckpointError, match="trained on dataset"):
        load_model(ckpt, dataset_fingerprint="0123456789ab")
    meta = json.loads((ckpt / "config.json").read_text())
    meta["model_config"]["latent_dim"] = 48
    (ckpt / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"does not match its config: .*\(48"):
        load_model(ckpt)
    meta["model_config"]["nonsense"] = 1
    (ckpt / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not build a model"):
        load_model(ckpt)
    (ckpt / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError):
        load_model(ckpt)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_model(tmp_path / "elsewhere")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    tworoom_dataset, tmp_path, monkeypatch, smoke_cfg
):
    from agents.world_models.lewm import LeWM

    real = LeWM.loss
    calls = {"n": 0}

    def poisoned(self, batch):
        calls["n"] += 1
        loss, logs = real(self, batch)
        return (loss * float("nan"), logs) if calls["n"] > 12 else (loss, logs)

    monkeypatch.setattr(LeWM, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match="step 12.*last good checkpoint"):
        train(smoke_cfg(tworoom_dataset, tmp_path / "run"), progress=False)
    meta = json.loads((tmp_path / "run" / "checkpoint" / "config.json").read_text())
    assert meta["step"] == 10 and not meta["complete"]
    model, _ = load_model(tmp_path / "run" / "checkpoint")
    assert all(
        torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point()
    )


def test_interrupted_save_keeps_the_previous_checkpoint(tworoom_dataset, tmp_path, smoke_cfg):
    ckpt = train(smoke_cfg(tworoom_dataset, tmp_path / "run", steps=10), progress=False)
    os.replace(ckpt, ckpt.with_name("checkpoint.old"))  # crash between the two renames
    model, meta = load_model(ckpt)
    assert meta["step"] == 10


def test_lr_schedule():
    assert lr_at(0, 1.0, 10, 100) == pytest.approx(0.1)
    assert lr_at(9, 1.0, 10, 100) == pytest.approx(1.0)
    assert lr_at(55, 1.0, 10, 100) == pytest.approx(0.5)
    assert lr_at(100, 1.0, 10, 100) == pytest.approx(0.0)


def test_bad_train_configs(tworoom_dataset, tmp_path, smoke_cfg):
    with pytest.raises(ValueError, match="unknown preset"):
        train(smoke_cfg(tworoom_dataset, tmp_path / "r", preset="huge"), progress=False)
    with pytest.raises(ValueError, match="unknown world model"):
        train(smoke_cfg(tworoom_dataset, tmp_path / "r", model="jepa9000"), progress=False)
    with pytest.raises(ValueError, match="unknown lewm option"):
        train(
            smoke_cfg(tworoom_dataset, tmp_path / "r", model_options={"depth": 3}),
            progress=False,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, cfg: TrainConfig) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    train(cfg, progress=False)
    torch.distributed.destroy_process_group()


def test_ddp_training_runs_on_two_cpu_ranks(tworoom_dataset, tmp_path, smoke_cfg):
    cfg = smoke_cfg(tworoom_dataset, tmp_path / "ddp", steps=6, ckpt_every=6, eval_every=6)
    mp.start_processes(_ddp_worker, args=(2, _free_port(), cfg), nprocs=2, start_method="spawn")
    meta = json.loads((tmp_path / "ddp" / "checkpoint" / "config.json").read_text())
    assert meta["world_size"] == 2 and meta["complete"]
    shutil.rmtree(tmp_path / "ddp")


def test_models_can_override_the_optimisation_preset(tworoom_dataset):
    lewm = TrainConfig(dataset=tworoom_dataset, out=Path("x"), model="lewm").resolved()
    dreamer = TrainConfig(dataset=tworoom_dataset, out=Path("x"), model="dreamer").resolved()
    assert lewm.lr == 2e-3 and dreamer.lr == 3e-4  # the RSSM collapses at LeWM's rate
    assert (lewm.num_preds, dreamer.num_preds) == (1, 4)  # the models' own windows
    assert dreamer.steps == lewm.steps  # everything else is the shared preset
    mine = TrainConfig(dataset=tworoom_dataset, out=Path("x"), model="dreamer", lr=1e-4)
    assert mine.resolved().lr == 1e-4  # an explicit value always wins


def test_an_option_added_later_keeps_old_run_fingerprints():
    """Options flagged key_omit_default (added after runs existed) are left out of run and cell
    keys while they hold their default, and count as soon as they differ."""
    from agents import world_models

    cfg = world_models.build_config("lewm", "quick")
    key = world_models.config_key(cfg)
    assert "projector_bn_eps" not in key and "latent_dim" in key
    changed = world_models.build_config("lewm", "quick", projector_bn_eps=1e-9)
    assert world_models.config_key(changed)["projector_bn_eps"] == 1e-9
