"""Tasks, the closed MPC loop and the end-to-end evaluation of a tiny trained TwoRoom LeWM."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

import envs
from agents import planners
from benchmark.datasets import Recording
from benchmark.evaluate import EvalConfig, EvalResult, evaluate, format_result
from benchmark.floors import run_baseline
from benchmark.metrics import prediction_metrics, skill_score
from benchmark.mpc import run_mpc
from benchmark.tasks import load_tasks, sample_tasks, tasks_for


def test_tasks_come_from_held_out_episodes_and_are_not_solved(tworoom_dataset, tmp_path):
    rec = Recording.open(tworoom_dataset)
    tasks = sample_tasks(rec, 12, goal_offset=20, seed=0)
    env = envs.make(rec.env_id, image_size=32).unwrapped
    test_eps = set(rec.episodes("test"))
    for t in tasks:
        assert t.episode in test_eps
        g = rec.episode_start[t.episode] + t.step
        np.testing.assert_array_equal(t.start_state, rec.arrays["state"][g])
        np.testing.assert_array_equal(t.goal_state, rec.arrays["state"][g + 20])
        assert not env.is_success(np.array(t.start_state), np.array(t.goal_state))
    # spread over the held-out episodes: none gives a second task before all gave one
    counts = np.bincount([t.episode for t in tasks])
    assert counts.max() - counts[counts > 0].min() <= 1 and len(counts[counts > 0]) == min(
        12, len(test_eps)
    )
    path = tmp_path / "tasks.json"
    assert tasks_for(rec, path, 12, 20, 0) == tasks
    again, meta = load_tasks(path, rec.env_id)
    assert again == tasks and meta["goal_offset"] == 20
    with pytest.raises(ValueError, match="PushT"):
        load_tasks(path, "wmbench/PushT-v0")
    assert sample_tasks(rec, 12, 20, seed=1) != tasks


@pytest.mark.parametrize(
    "change, named",
    [
        ({"n_tasks": 10}, "n_tasks 12 .asked: 10."),
        ({"goal_offset": 15}, "goal_offset 20 .asked: 15."),
        ({"seed": 3}, "seed 0 .asked: 3."),
    ],
)
def test_a_task_file_is_never_redrawn_in_place(tworoom_dataset, tmp_path, change, named):
    rec = Recording.open(tworoom_dataset)
    path = tmp_path / "tasks.json"
    tasks_for(rec, path, 12, 20, 0)
    before = path.read_bytes()
    args = {"n_tasks": 12, "goal_offset": 20, "seed": 0, **change}
    with pytest.raises(ValueError, match=named):
        tasks_for(rec, path, **args)
    assert path.read_bytes() == before  # nothing lost


def test_a_task_file_of_another_dataset_or_version_is_refused(tworoom_dataset, tmp_path):
    rec = Recording.open(tworoom_dataset)
    path = tmp_path / "tasks.json"
    tasks_for(rec, path, 6, 20, 0)
    payload = json.loads(path.read_text())
    payload["dataset_fingerprint"] = "0123abcd"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="dataset_fingerprint '0123abcd' .asked: '"):
        tasks_for(rec, path, 6, 20, 0)
    payload["format_version"] = 1
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="task format version 1, this wmbench reads version 2"):
        tasks_for(rec, path, 6, 20, 0)


class _Oracle:
    """A 'planner' that reads the goal from a lookup to check the loop's bookkeeping."""

    horizon = 2
    stats = {"solve_time_s": 0.0, "model_calls": 0}

    def __init__(self, actions):
        self.actions = actions

    def plan(self, model, z_context, z_goal, init=None, a_context=None, episode_ids=None):
        return self.actions[: len(z_context)]


def test_mpc_loop_bookkeeping(tworoom_dataset, tiny_checkpoint):
    from benchmark.checkpoint import load_model

    model, _ = load_model(tiny_checkpoint)
    model.eval()
    rec = Recording.open(tworoom_dataset)
    tasks = sample_tasks(rec, 3, goal_offset=20, seed=0)
    env = envs.make(rec.env_id, image_size=32).unwrapped
    # Moving right at full speed for the whole budget: deterministic outcomes to check against.
    planner = _Oracle(torch.ones(3, 2, model.action_dim))
    res = run_mpc(
        model,
        planner,
        env,
        tasks,
        budget=23,
        receding=2,
        frameskip=5,
        device=torch.device("cpu"),
        video_tasks=1,
    )
    assert len(res.solve_times_s) == 3  # 23 steps in blocks of 5, two blocks per solve
    for task, out in zip(tasks, res.outcomes):
        env.set_state(np.array(task.start_state))
        env.set_goal(np.array(task.goal_state))
        hit = None
        for k in range(23):
            _, _, _, _, info = env.step(np.ones(2))
            hit = k + 1 if hit is None and info["success"] else hit
        assert out.final_distance == pytest.approx(info["distance"])
        assert out.steps_to_success == hit and out.success == (hit is not None)
    assert res.videos[0].shape == (24, 32, 64, 3)


def test_end_to_end_evaluation(tworoom_dataset, tiny_checkpoint, tmp_path):
    cfg = EvalConfig(
        planner="cem",
        planner_options={"samples": 32, "iterations": 3},
        n_tasks=6,
        goal_offset=20,
        budget=20,
        pred_horizon=3,
        pred_windows=32,
        videos=1,
    )
    r = evaluate(
        tiny_checkpoint,
        tworoom_dataset,
        cfg,
        device="cpu",
        tasks_file=tmp_path / "tasks.json",
        video_dir=tmp_path / "videos",
    )
    assert set(r) == set(EvalResult.__annotations__)  # the declared type is what comes back
    assert r["n_tasks"] == 6 and len(r["outcomes"]) == 6
    assert 0.0 <= r["success_ci95"][0] <= r["success_rate"] <= r["success_ci95"][1] <= 1.0
    assert r["solves_per_episode"] == 1 and r["solve_time_s"] > 0
    assert len(r["prediction"]["cos"]) == 3 and len(r["prediction"]["skill"]) == 3
    assert r["planner_description"].startswith("cem(")
    # floors and ceiling on the same tasks, per task, in the same order
    assert [len(r["baselines"][b]) for b in ("noop", "random", "expert")] == [6, 6, 6]
    # TwoRoom does not drift: doing nothing never reaches a goal that is not already reached
    assert r["noop_success_rate"] == 0.0 and r["expert_success_rate"] == 1.0
    assert r["better_floor"] in ("noop", "random") and 0.0 <= r["p_vs_floor"] <= 1.0
    assert r["success_ci95"][1] > r["success_ci95"][0]  # never zero-width
    assert (tmp_path / "videos" / "episode0.gif").stat().st_size > 0
    json.dumps(r)  # the record is JSON-serialisable
    assert "success" in format_result(r)
    again = evaluate(
        tiny_checkpoint, tworoom_dataset, cfg, device="cpu", tasks_file=tmp_path / "tasks.json"
    )
    assert again["outcomes"] == r["outcomes"]  # same tasks, same seeds, same result


def test_prediction_metrics_on_a_perfect_and_a_copy_model():
    class Exact:
        history, latent_dim, action_dim = 1, 2, 2

        def encode(self, pixels):
            return pixels[..., 0, 0, :2].float()

        def rollout(self, z_context, actions, a_context=None):
            return z_context[:, -1, None, None] + actions.cumsum(2)

    z = torch.randn(16, 1, 2)
    steps = torch.randn(16, 3, 2)
    traj = torch.cat([z, z + steps.cumsum(1)], 1)
    pixels = torch.zeros(16, 4, 2, 2, 3)
    pixels[..., 0, 0, :2] = traj
    m = prediction_metrics(Exact(), {"pixels": pixels, "actions": steps}, 3)
    np.testing.assert_allclose(m["cos"], 1.0, atol=1e-6)
    np.testing.assert_allclose(m["mse"], 0.0, atol=1e-10)
    np.testing.assert_allclose(m["skill"], 1.0, atol=1e-6)
    assert np.all(m["cos_copy"] < 1.0)
    np.testing.assert_allclose(skill_score(np.array([0.5]), np.array([0.5])), 0.0)


def test_bad_planner_and_budget(tworoom_dataset, tiny_checkpoint, tmp_path):
    registered = planners.names()
    with pytest.raises(ValueError, match="unknown planner"):
        evaluate(
            tiny_checkpoint,
            tworoom_dataset,
            EvalConfig(planner="astar"),
            device="cpu",
            tasks_file=tmp_path / "t.json",
        )
    with pytest.raises(ValueError, match="budget"):
        evaluate(
            tiny_checkpoint,
            tworoom_dataset,
            EvalConfig(budget=0, n_tasks=2, goal_offset=20),
            device="cpu",
            tasks_file=tmp_path / "t.json",
        )
    assert planners.names() == registered  # a bad name registers nothing


def test_noop_floor_counts_a_goal_that_doing_nothing_reaches(tworoom_dataset):
    rec = Recording.open(tworoom_dataset)
    env = envs.make(rec.env_id, image_size=32).unwrapped
    (task,) = sample_tasks(rec, 1, goal_offset=20, seed=0)
    near = np.array(task.start_state, np.float64)
    near[:2] += 0.01  # within the success radius of the start, so the first step succeeds
    reached = dataclasses.replace(task, goal_state=near.tolist())
    outcomes = run_baseline(env, "noop", [task, reached], budget=5, frameskip=5)
    assert [o.success for o in outcomes] == [False, True]
    assert outcomes[1].steps_to_success == 1


def test_tasks_from_another_dataset_of_the_same_env(tworoom_dataset, tiny_checkpoint, tmp_path):
    """Models trained on different data face the same tasks: the tasks come from the other
    dataset's held-out episodes, the prediction metrics from the model's own."""
    from benchmark.collect import CollectConfig, collect

    other = collect(
        CollectConfig(
            env_id="wmbench/TwoRoom-v0",
            episodes=12,
            steps=40,
            image_size=32,
            seed=5,
            workers=1,
            root=tmp_path / "datasets",
        ),
        progress=False,
    )
    cfg = EvalConfig(
        planner="cem",
        planner_options={"samples": 16, "elites": 4, "iterations": 2},
        n_tasks=3,
        goal_offset=20,
        budget=10,
        pred_horizon=1,
        pred_windows=8,
        videos=0,
    )
    r = evaluate(tiny_checkpoint, tworoom_dataset, cfg, device="cpu", tasks_dataset=other)
    episodes = set(Recording.open(other).episodes("test"))
    assert {t["episode"] for t in r["tasks"]} <= episodes
    assert r["tasks_file"].startswith("tasks-v2-o20-n3")
    assert (other / r["tasks_file"]).exists()  # saved beside the tasks' dataset


def test_levers_parse_and_combine():
    from benchmark.scripts.levers import spec_of

    spec = spec_of("noise0.6+receding1+summed")
    assert spec == {
        "collect": {"noise": 0.6},
        "protocol": {"receding": 1},
        "planner": {"cost": "summed"},
    }
    with pytest.raises(SystemExit, match="unknown lever 'bigger'"):
        spec_of("base+bigger")


def test_prediction_metrics_copy_and_floor_have_their_known_values():
    """Latents turn by 90 degrees per block, every window starting on the same ray: copy-last
    has cosine cos(90 h) = 0, -1, 0 and MSE |z_h - z_0|^2 / D; random pairs of true latents
    point the same way (floor 1). A model that copies the last latent scores exactly copy-last
    (skill 0); one that is told the turn scores 1."""

    def turn(z: torch.Tensor, h: int) -> torch.Tensor:
        for _ in range(h):
            z = torch.stack([-z[..., 1], z[..., 0]], -1)
        return z

    class Copy:
        history, latent_dim, action_dim = 1, 2, 2

        def encode(self, pixels):
            return pixels[..., 0, 0, :2].float()

        def rollout(self, z_context, actions, a_context=None):
            return z_context[:, -1, None, None].expand(-1, 1, actions.shape[2], -1)

    class Turn(Copy):
        def rollout(self, z_context, actions, a_context=None):
            z = z_context[:, -1]
            return torch.stack([turn(z, h + 1) for h in range(actions.shape[2])], 1)[:, None]

    radius = 1 + torch.rand(32, 1)
    z0 = radius * torch.tensor([1.0, 0.0])
    traj = torch.stack([turn(z0, h) for h in range(4)], 1)
    pixels = torch.zeros(32, 4, 2, 2, 3)
    pixels[..., 0, 0, :2] = traj
    batch = {"pixels": pixels, "actions": torch.zeros(32, 3, 2)}
    gen = torch.Generator().manual_seed(0)
    copy = prediction_metrics(Copy(), batch, 3, generator=gen)
    np.testing.assert_allclose(copy["cos_copy"], [0.0, -1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(copy["cos"], copy["cos_copy"], atol=1e-6)
    np.testing.assert_allclose(copy["skill"], 0.0, atol=1e-6)
    r2 = float((radius**2).mean())
    np.testing.assert_allclose(copy["mse_copy"], [r2, 2 * r2, r2], rtol=1e-5)  # |z_h - z_0|^2 / 2
    np.testing.assert_allclose(copy["cos_floor"], 1.0, atol=1e-6)
    exact = prediction_metrics(Turn(), batch, 3, generator=gen)
    np.testing.assert_allclose(exact["cos"], 1.0, atol=1e-6)
    np.testing.assert_allclose(exact["skill"], 1.0, atol=1e-6)


def test_latent_scale_is_the_models_own_spread(tworoom_dataset, tiny_checkpoint):
    """GRASP's step sizes are in latent units: the evaluation measures each model's latent
    scale on held-out frames, and a model whose latents are 10x smaller gets a 10x smaller one."""
    from benchmark.checkpoint import load_model
    from benchmark.evaluate import latent_scale

    rec = Recording.open(tworoom_dataset, progress=False)
    model, _ = load_model(tiny_checkpoint, torch.device("cpu"), rec.info["fingerprint"])
    model.eval()
    scale = latent_scale(model, rec, torch.device("cpu"))
    assert scale > 0  # (a trained quick LeWM measures 0.96-0.99: near unit scale, by SIGReg)

    class Shrunk(torch.nn.Module):
        history = model.history

        def encode(self, pixels):
            return 0.1 * model.encode(pixels)

    assert latent_scale(Shrunk(), rec, torch.device("cpu")) == pytest.approx(0.1 * scale)


def test_grasp_plans_with_the_measured_latent_scale(tworoom_dataset, tiny_checkpoint, tmp_path):
    cfg = EvalConfig(
        planner="grasp",
        planner_options={"iterations": 4, "sync_every": 2, "sync_steps": 1},
        n_tasks=2,
        goal_offset=20,
        budget=10,
        pred_horizon=2,
        pred_windows=8,
        videos=0,
    )
    r = evaluate(tiny_checkpoint, tworoom_dataset, cfg, "cpu", tmp_path / "t.json")
    described = r["planner_description"]
    assert "latent_scale=-1" not in described and "latent_scale=" in described
    fixed = dataclasses.replace(cfg, planner_options={**cfg.planner_options, "latent_scale": 2.0})
    r2 = evaluate(tiny_checkpoint, tworoom_dataset, fixed, "cpu", tmp_path / "t.json")
    assert "latent_scale=2.0" in r2["planner_description"]  # an explicit value is kept


def test_the_runs_frameskip_is_recorded_once_and_drives_the_evaluation(
    tworoom_dataset, smoke_cfg, tmp_path
):
    from benchmark.checkpoint import load_model, read_config, windows
    from benchmark.train import train

    ckpt = train(smoke_cfg(tworoom_dataset, tmp_path / "run", steps=2, frameskip=3), False)
    meta = read_config(ckpt)
    assert meta["windows"] == {"frameskip": 3, "history": 1, "num_preds": 1}
    assert "frameskip" not in meta["model_config"] and meta["model_config"]["action_dim"] == 6
    assert windows(meta).frameskip == 3
    cfg = EvalConfig(
        planner="cem",
        planner_options={"samples": 8, "elites": 2, "iterations": 1},
        n_tasks=2,
        goal_offset=10,
        budget=7,
        horizon=2,
        pred_horizon=2,
        pred_windows=8,
    )
    r = evaluate(ckpt, tworoom_dataset, cfg, device="cpu", tasks_file=tmp_path / "tasks.json")
    assert r["solves_per_episode"] == 2  # 7 steps in blocks of 3: 2 + 1 blocks, 2 per solve
    assert (tmp_path / "tasks.floors-b7-fs3.json").exists()  # floors act at the same rate
    # an older checkpoint kept frameskip in its model config: read from there
    legacy = {"model_config": {"frameskip": 4, "history": 2, "num_preds": 3}}
    assert windows(legacy) == windows({"windows": {"frameskip": 4, "history": 2, "num_preds": 3}})
    old = tmp_path / "old"
    shutil.copytree(ckpt, old)
    meta.pop("windows")
    meta["model_config"].update(frameskip=3, num_preds=1)
    (old / "config.json").write_text(json.dumps(meta))
    model, old_meta = load_model(old)
    assert model.action_dim == 6 and windows(old_meta).frameskip == 3
