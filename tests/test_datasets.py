"""Collection and window serving: lossless round trip, determinism, windows, bad files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import envs
from benchmark import collect as collect_mod
from benchmark.collect import CollectConfig, collect, roll_episode, split_episodes
from benchmark.datasets import DatasetError, Recording, WindowDataset
from benchmark.inspect_dataset import inspect, summary


@pytest.fixture
def cfg(tmp_path) -> CollectConfig:
    return CollectConfig(
        env_id="wmbench/TwoRoom-v0",
        episodes=6,
        steps=40,
        image_size=32,
        seed=3,
        workers=1,
        root=tmp_path / "datasets",
    )


@pytest.fixture
def rec(cfg) -> Recording:
    return Recording.open(collect(cfg, progress=False), progress=False)


def test_round_trip_is_bit_exact(cfg, rec):
    from minari import MinariDataset

    data = MinariDataset(rec.path / "data")
    for i in (0, 5):
        fresh = roll_episode(cfg.content(), i)
        ep = data[i]
        np.testing.assert_array_equal(ep.observations["pixels"], fresh["pixels"])
        np.testing.assert_array_equal(ep.actions, fresh["actions"])
        np.testing.assert_array_equal(ep.infos["state"], fresh["state"])
        s, e = rec.episode_start[i], rec.episode_start[i + 1]
        np.testing.assert_array_equal(rec.arrays["pixels"][s:e], fresh["pixels"])
        np.testing.assert_array_equal(rec.arrays["distance"][s:e], fresh["distance"][:, 0])


def test_metadata_records_provenance(rec, cfg):
    info = rec.info
    assert info["config"] == cfg.content()
    assert info["versions"]["gym-pusht"] and info["versions"]["mujoco"]
    assert info["git_commit"]
    train, test = info["split"]["train"], info["split"]["test"]
    assert sorted(train + test) == list(range(cfg.episodes)) and not set(train) & set(test)
    acts = np.concatenate(
        [rec.arrays["actions"][rec.episode_start[e] : rec.episode_start[e + 1] - 1] for e in train]
    )
    np.testing.assert_allclose(info["action_mean"], acts.mean(0), atol=1e-5)
    np.testing.assert_allclose(info["action_std"], acts.std(0), atol=1e-5)


def test_same_data_whatever_the_worker_count(cfg, rec):
    two = Recording.open(
        collect(replace(cfg, workers=2, root=cfg.root / "w2"), progress=False), progress=False
    )
    for k in ("pixels", "actions", "state"):
        np.testing.assert_array_equal(rec.arrays[k], two.arrays[k])


def test_split_is_deterministic_and_seeded():
    assert split_episodes(50, 0.2, 0) == split_episodes(50, 0.2, 0)
    assert split_episodes(50, 0.2, 0) != split_episodes(50, 0.2, 1)
    train, test = split_episodes(50, 0.2, 7)
    assert len(test) == 10 and len(train) == 40
    assert split_episodes(2, 0.01, 0)[1]  # never an empty held-out split


def test_windows_match_a_replay_of_the_recorded_actions(rec):
    fs, hist, preds = 3, 2, 3
    ds = WindowDataset(rec, "train", history=hist, num_preds=preds, frameskip=fs)
    env = envs.make("wmbench/TwoRoom-v0", image_size=rec.image_size).unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for index in rng.choice(len(ds), 5, replace=False):
        w = ds[int(index)]
        start = ds.starts[index]
        assert w["pixels"].shape == (hist + preds, 32, 32, 3)
        assert w["actions"].shape == (hist + preds - 1, fs * 2)
        np.testing.assert_array_equal(w["pixels"].numpy(), rec.arrays["pixels"][start::fs][:5])
        env.set_state(w["state"][0].numpy())
        for k in range(hist + preds - 1):
            for a in w["actions"][k].numpy().reshape(fs, 2):
                obs, *_ = env.step(a)
            np.testing.assert_allclose(env.get_state(), w["state"][k + 1].numpy(), atol=1e-12)
            np.testing.assert_array_equal(obs["pixels"], w["pixels"][k + 1].numpy())


def test_windows_never_cross_episodes(rec):
    ds = WindowDataset(rec, "all", history=1, num_preds=4, frameskip=5)
    ep_of = np.searchsorted(rec.episode_start, ds.starts, side="right") - 1
    last = ds.starts + 4 * 5
    assert np.all(last < rec.episode_start[ep_of + 1])
    assert len(ds) == 6 * (41 - 20)
    with pytest.raises(ValueError, match="long enough"):
        WindowDataset(rec, "train", history=3, num_preds=10, frameskip=5)


def test_batches_gather_the_windows_of_their_indices(rec):
    ds = WindowDataset(rec, "train", history=1, num_preds=3, frameskip=2)
    indices = list(range(0, len(ds), len(ds) // 16))[:16]
    batch = ds.__getitems__(indices)
    assert batch["pixels"].shape == (16, 4, 32, 32, 3)
    assert np.array_equal(batch["state"][5].numpy(), ds[indices[5]]["state"].numpy())


def test_missing_and_mismatched_datasets(tmp_path, rec):
    with pytest.raises(DatasetError, match="collect"):
        Recording.open(tmp_path / "nope")
    with pytest.raises(DatasetError, match="PushT"):
        Recording.open(rec.path, env_id="wmbench/PushT-v0")
    with pytest.raises(DatasetError, match="64 px"):
        Recording.open(rec.path, image_size=64)


def test_truncated_episode_file_names_the_file(cfg):
    path = collect(cfg, progress=False)
    arrow = next((path / "data" / "2").glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes()[: arrow.stat().st_size // 3])
    with pytest.raises(DatasetError, match=r"data/2.*(corrupt|truncated)"):
        Recording.open(path, progress=False)
    assert not (path / "cache").exists()  # nothing half-built is left to load


def test_corrupt_metadata_and_missing_episode(cfg):
    path = collect(cfg, progress=False)
    meta = path / "data" / "metadata.json"
    good = meta.read_text()
    meta.write_text(good[:100])
    with pytest.raises(DatasetError, match="metadata.json is corrupt"):
        Recording.open(path)
    meta.write_text(good)
    (path / "data" / "4").rename(path / "data" / "x4")
    with pytest.raises(DatasetError, match="data/4 is missing"):
        Recording.open(path)


def test_damaged_cache_is_rebuilt(rec):
    pixels = rec.arrays["pixels"].copy()
    cache_file = rec.path / "cache" / "pixels.npy"
    cache_file.write_bytes(cache_file.read_bytes()[:1000])
    again = Recording.open(rec.path, progress=False)
    np.testing.assert_array_equal(again.arrays["pixels"], pixels)


def test_interrupted_collection_resumes_to_the_same_dataset(cfg, monkeypatch):
    real = collect_mod.roll_episode
    calls = []

    def flaky(content, index):
        calls.append(index)
        if index == 3:
            raise KeyboardInterrupt
        return real(content, index)

    monkeypatch.setattr(collect_mod, "roll_episode", flaky)
    with pytest.raises(KeyboardInterrupt):
        collect(cfg, progress=False)
    partial = Path(str(cfg.path) + ".partial")
    assert partial.exists() and not cfg.path.exists()
    with pytest.raises(DatasetError, match="interrupted"):
        Recording.open(cfg.path)
    monkeypatch.setattr(collect_mod, "roll_episode", real)
    resumed = Recording.open(collect(cfg, progress=False), progress=False)
    assert json.loads((cfg.path / "data" / "metadata.json").read_text())["total_episodes"] == 6
    fresh = Recording.open(
        collect(replace(cfg, root=cfg.root / "fresh"), progress=False), progress=False
    )
    np.testing.assert_array_equal(resumed.arrays["pixels"], fresh.arrays["pixels"])
    assert resumed.info["action_mean"] == pytest.approx(fresh.info["action_mean"])


def test_bad_collect_configs(tmp_path):
    with pytest.raises(ValueError, match="valid ids"):
        collect(CollectConfig(env_id="wmbench/Nope-v0", root=tmp_path))
    with pytest.raises(ValueError, match="image_size"):
        collect(CollectConfig(image_size=3, root=tmp_path))
    with pytest.raises(ValueError, match="unknown policy"):
        collect(CollectConfig(policy="oracle", episodes=2, steps=2, root=tmp_path), progress=False)


def test_inspect_prints_and_saves_a_contact_sheet(rec, tmp_path, capsys):
    info = inspect(rec.path, tmp_path / "sheet.png")
    out = capsys.readouterr().out
    assert "moving_fraction" in out and "episodes" in out
    assert Path(info["sheet"]).stat().st_size > 1000
    s = summary(rec)
    assert s["episodes"] == 6 and s["steps"] == 240
    assert 0.5 < s["moving_fraction"] <= 1.0
