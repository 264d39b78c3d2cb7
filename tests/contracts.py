"""The contracts the pipeline relies on, one check per registry kind.

``check_env(env_id)``, ``check_world_model(name)`` and ``check_planner(name)`` take a registry
name, so they run unchanged on a new entry: ``tests/test_contracts.py`` parametrises them over
``envs.ids()``, ``world_models.names()`` and ``planners.names()``, and ``tests/test_recipes.py``
runs them on the toys of ``tests/plugins/`` registered with one line each. Each check runs all
of its parts and fails once, listing every part that failed (the first one's traceback is
chained), so a new env, model or planner sees everything it still lacks in one run.

Per-name settings (``MODEL_SETTINGS``, ``PLANNER_SETTINGS``) only make the checks faster or
reach a code path; a name without an entry gets the generic default, so a new registry entry
needs no edit here.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import json
import tempfile
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from torch import nn
from toy_models import NaNModel, PointMass, SpyPointMass, TinyMLP

import envs
from agents import planners, world_models
from agents.planners import Planner, goal_cost
from agents.world_models import Trainable, missing_members, rollout
from envs.base import GoalEnv

# -- settings ----------------------------------------------------------------------------------

ENV_IMAGE_SIZE = 32
"""Side of the frames the env checks render, and half the side of a second env's (small: the
contract does not depend on it)."""

MODEL_DEFAULTS: dict[str, Any] = dict(image_size=32, action_dim=4, preset="smoke")
"""``world_models.make`` arguments of every model check (a model without a ``smoke`` preset
uses its ``Config`` defaults)."""

MODEL_SETTINGS: dict[str, dict[str, Any]] = {
    "lewm": dict(history=2),  # a model with a context: rollouts, planners and a_context
}
"""Per-model overrides of ``MODEL_DEFAULTS`` (optional)."""

PLANNER_SETTINGS: dict[str, dict[str, Any]] = {
    "cem": dict(samples=16, elites=4, iterations=2),
    "mppi": dict(samples=16, iterations=2),
    "gd": dict(iterations=2, restarts=8),
    "grasp": dict(iterations=3, sync_every=2, sync_steps=1),
}
"""The smallest budgets per planner: one or two iterations, for checks that need no
convergence (optional: a planner without an entry runs with its config's defaults)."""

PLANNER_STATS = {"model_calls", "rollout_steps", "backward_calls", "iterations", "solve_time_s"}
"""The counters every planner reports in ``planner.stats`` after a call (``BasePlanner``)."""


def model_kwargs(name: str) -> dict[str, Any]:
    """The ``world_models.make`` arguments the checks use for model ``name``."""
    return {**MODEL_DEFAULTS, **MODEL_SETTINGS.get(name, {})}


def planner_options(name: str) -> dict[str, Any]:
    """The small planner config the checks use for planner ``name`` ({}: its defaults)."""
    return dict(PLANNER_SETTINGS.get(name, {}))


# -- shared machinery ----------------------------------------------------------------------------


def run_checks(subject: str, checks: list[tuple[str, Callable[[], Any]]]) -> None:
    """Runs every check; raises one AssertionError listing those that failed."""
    failures: list[str] = []
    first: BaseException | None = None
    for label, check in checks:
        try:
            check()
        except Exception as err:  # collected and reported together below
            frames = traceback.extract_tb(err.__traceback__)
            ours = [f for f in frames if f.filename == __file__]
            where = (ours or frames)[-1]
            text = str(err).strip().splitlines()[0] if str(err).strip() else ""
            failures.append(
                f"- {label}: {type(err).__name__}: {text} "
                f"({Path(where.filename).name}:{where.lineno})"
            )
            first = first or err
    if failures:
        raise AssertionError(
            f"{subject} breaks its contract ({len(failures)} of {len(checks)} checks failed):\n"
            + "\n".join(failures)
        ) from first


def window_batch(
    batch: int, frames: int, image_size: int, action_dim: int, seed: int = 1
) -> dict[str, torch.Tensor]:
    """A training batch as the trainer draws it (``WorldModel.loss``): ``pixels`` uint8
    (B, T, S, S, 3), ``actions`` float32 (B, T - 1, A) in [-1, 1], ``proprio`` float32
    (B, T, 3) and ``state`` float64 (B, T, 4)."""
    g = torch.Generator().manual_seed(seed)
    shape = (batch, frames, image_size, image_size, 3)
    return {
        "pixels": torch.randint(0, 256, shape, dtype=torch.uint8, generator=g),
        "actions": torch.rand(batch, frames - 1, action_dim, generator=g) * 2 - 1,
        "proprio": torch.randn(batch, frames, 3, generator=g),
        "state": torch.randn(batch, frames, 4, generator=g, dtype=torch.float64),
    }


def random_frames(batch: int, frames: int, image_size: int, seed: int = 0) -> torch.Tensor:
    """Random uint8 pixels (B, T, S, S, 3)."""
    g = torch.Generator().manual_seed(seed)
    shape = (batch, frames, image_size, image_size, 3)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)


def _close(a: torch.Tensor, b: torch.Tensor, what: str, atol: float = 1e-5) -> None:
    torch.testing.assert_close(a, b, atol=atol, rtol=1e-5, msg=lambda m: f"{what}: {m}")


def _documented(cls: type) -> None:
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring (`wmbench list` shows it)"


def _differs(a: torch.Tensor, b: torch.Tensor, what: str, by: float = 1e-4) -> None:
    gap = (a - b).abs().max().item()
    assert gap > by, f"{what} (largest difference {gap:.2e})"


# -- environments --------------------------------------------------------------------------------


def check_env(env_id: str, image_size: int = ENV_IMAGE_SIZE) -> None:
    """The ``envs.base.GoalEnv`` contract of ``env_id`` as the pipeline uses it.

    ``collect`` resets, steps a ``random`` or ``expert`` policy and records ``info``;
    ``tasks`` draws starts through ``task_start`` and drops tasks ``is_success`` already
    solves; ``floors`` teleport (``set_state``, ``set_goal``), ``observe(render=False)`` and
    drive the noise-free expert with ``step_state``; the MPC loop renders task states on a
    fresh env (``render_state``) and steps blocks with ``step_state`` / ``observe``.
    """
    spec = envs.spec(env_id)
    env = envs.make(env_id, image_size=image_size)
    # never reset, never stepped, and at another image size
    fresh = envs.make(env_id, image_size=2 * image_size)
    try:
        u = env.unwrapped
        checks = [
            ("a GoalEnv with the registered time limit", lambda: _env_class(env, spec)),
            (
                "render_state on a never-reset env (another size)",
                lambda: _env_render_before_reset(env, fresh),
            ),
            ("out-of-box actions are clipped", lambda: _env_clipping(fresh)),
            ("gymnasium's check_env", lambda: _env_gymnasium(u)),
            ("spaces, dtypes and info", lambda: _env_spaces_and_info(env, image_size)),
            ("same seed, same episode", lambda: _env_determinism(env)),
            ("frames are not blank", lambda: _env_frames(env)),
            ("set_state round trip", lambda: _env_state_round_trip(env)),
            ("reset options fix state and goal", lambda: _env_reset_options(env)),
            ("the success criterion", lambda: _env_success(env)),
            ("policies give in-box actions", lambda: _env_policies(env)),
            ("the expert drives step_state (floors)", lambda: _env_blind_expert(env)),
            ("step_state is step without pixels", lambda: _env_step_state(env)),
            ("task_start and moved", lambda: _env_task_start(env)),
            ("bad input is refused", lambda: _env_bad_input(env)),
        ]
        run_checks(f"env {env_id}", checks)
    finally:
        env.close()
        fresh.close()


def _rollout_env(env, seed: int, steps: int):
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    frames, states = [obs["pixels"]], [info["state"]]
    for _ in range(steps):
        obs, _, _, _, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        frames.append(obs["pixels"])
        states.append(info["state"])
    return np.stack(frames), np.stack(states), obs, info


def _env_class(env, spec) -> None:
    u = env.unwrapped
    assert isinstance(u, GoalEnv), f"{type(u).__name__} is not an envs.base.GoalEnv"
    assert env.spec.max_episode_steps == spec.max_episode_steps
    for attr in ("action_dim", "proprio_dim", "state_dim"):
        value = getattr(u, attr)
        assert isinstance(value, (int, np.integer)) and value >= 1, f"{attr} = {value!r}"
    assert {"random", "expert"} <= set(u.policy_names())
    _documented(type(u))


def _env_render_before_reset(env, fresh) -> None:
    _, info = env.reset(seed=3)
    frame = fresh.unwrapped.render_state(info["state"])
    size = fresh.unwrapped.image_size
    assert frame.shape == (size, size, 3) and frame.dtype == np.uint8 and frame.std() > 0
    obs, _ = fresh.reset(seed=3)
    assert obs["pixels"].shape == (size, size, 3)
    np.testing.assert_array_equal(obs["pixels"], frame)  # same seed, same state, same frame


def _env_clipping(env) -> None:
    u = env.unwrapped
    env.reset(seed=0)
    start = u.get_state()
    with pytest.warns(UserWarning, match="clipped"):
        _, _, _, _, big = env.step(np.full(u.action_dim, 7.0))
    u.set_state(start)
    _, _, _, _, clipped = env.step(np.ones(u.action_dim))
    np.testing.assert_allclose(big["state"], clipped["state"], atol=1e-9)


def _env_gymnasium(u) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gymnasium_check_env(u, skip_render_check=False)


def _env_spaces_and_info(env, size: int) -> None:
    u = env.unwrapped
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["pixels"].shape == (size, size, 3) and obs["pixels"].dtype == np.uint8
    assert obs["proprio"].shape == (u.proprio_dim,) and obs["proprio"].dtype == np.float32
    box = env.action_space
    assert box.shape == (u.action_dim,) and box.low.min() == -1 and box.high.max() == 1
    for step_info in (info, env.step(env.action_space.sample())[4]):
        assert step_info["state"].dtype == np.float64
        assert step_info["state"].shape == step_info["goal_state"].shape == (u.state_dim,)
        assert isinstance(step_info["success"], bool)
        assert isinstance(step_info["distance"], float) and np.isfinite(step_info["distance"])
    _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert isinstance(reward, float) and terminated is False and truncated is False


def _env_determinism(env) -> None:
    f1, s1, *_ = _rollout_env(env, seed=3, steps=12)
    f2, s2, *_ = _rollout_env(env, seed=3, steps=12)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(f1, f2)
    _, s3, *_ = _rollout_env(env, seed=4, steps=12)
    assert not np.array_equal(s1, s3), "another seed gave the same episode"


def _env_frames(env) -> None:
    frames, states, *_ = _rollout_env(env, seed=1, steps=20)
    for f in frames[[0, -1]]:
        assert f.std() > 5, "frame is (nearly) a single colour"
        assert f.max() > 40, "frame is black"
    assert np.abs(frames[0].astype(int) - frames[-1]).sum() > 0, "random actions moved nothing"
    u = env.unwrapped
    np.testing.assert_array_equal(u.render_state(states[-1]), u.render_state(states[-1]))


def _env_state_round_trip(env) -> None:
    frames, states, obs, _ = _rollout_env(env, seed=2, steps=8)
    u = env.unwrapped
    for _ in range(5):
        env.step(env.action_space.sample())
    u.set_state(states[-1])
    np.testing.assert_array_equal(u.get_state(), states[-1])
    np.testing.assert_array_equal(u.render(), frames[-1])
    seen, _ = u.observe()
    np.testing.assert_array_equal(seen["proprio"], obs["proprio"])
    np.testing.assert_array_equal(u.render_state(states[0]), frames[0])
    np.testing.assert_array_equal(u.get_state(), states[-1])  # render_state restored it


def _env_reset_options(env) -> None:
    _, info = env.reset(seed=5)
    options = {"state": info["state"], "goal_state": info["goal_state"]}
    _, again = env.reset(seed=6, options=options)
    np.testing.assert_array_equal(again["state"], info["state"])
    np.testing.assert_array_equal(again["goal_state"], info["goal_state"])
    assert again["success"] == info["success"]


def _env_success(env) -> None:
    u = env.unwrapped
    far = 0
    for seed in range(10):
        _, info = env.reset(seed=seed)
        goal = info["goal_state"]
        assert u.is_success(goal, goal), "the goal state does not succeed at itself"
        assert u.distance(goal, goal) == pytest.approx(0, abs=1e-9)
        far += not u.is_success(info["state"], goal)
    assert far >= 5, f"only {far} of 10 resets start away from their goal"


def _env_policies(env) -> None:
    u = env.unwrapped
    for name in ("random", "expert"):
        obs, info = env.reset(seed=0)
        policy = u.make_policy(name, np.random.default_rng(0))
        policy.reset(info)
        for _ in range(10):
            a = np.asarray(policy(obs, info), np.float32)
            assert env.action_space.contains(a), f"{name} policy gave {a}"
            obs, _, _, _, info = env.step(a)


def _env_blind_expert(env) -> None:
    """As ``benchmark.floors`` runs the ceiling: teleported, noise off, no pixels."""
    u = env.unwrapped
    _, info = env.reset(seed=9)
    u.set_state(info["state"])
    u.set_goal(info["goal_state"])
    obs, info = u.observe(render=False)
    assert set(obs) == {"proprio"}
    expert = u.make_policy("expert", np.random.default_rng(0), noise=0.0)
    expert.reset(info)
    for _ in range(5):
        a = np.asarray(expert(obs, info), np.float32)
        assert env.action_space.contains(a), f"expert gave {a}"
        obs, info = u.step_state(a)


def _env_step_state(env) -> None:
    u = env.unwrapped
    _, info = env.reset(seed=7)
    start, goal = info["state"], info["goal_state"]
    actions = np.random.default_rng(7).uniform(-1, 1, (15, u.action_dim))
    rendered = [u.step(a) for a in actions]
    u.set_state(start)
    u.set_goal(goal)
    for a, (obs, _, _, _, info) in zip(actions, rendered):
        blind_obs, blind_info = u.step_state(a)
        assert set(blind_obs) == {"proprio"}
        np.testing.assert_array_equal(blind_obs["proprio"], obs["proprio"])
        np.testing.assert_array_equal(blind_info["state"], info["state"])
        assert (blind_info["success"], blind_info["distance"]) == (
            info["success"],
            info["distance"],
        )
    seen, seen_info = u.observe()
    np.testing.assert_array_equal(seen["pixels"], rendered[-1][0]["pixels"])
    np.testing.assert_array_equal(seen_info["state"], rendered[-1][4]["state"])


def _env_task_start(env) -> None:
    u = env.unwrapped
    _, info = env.reset(seed=8)
    before = info["state"]
    for _ in range(5):
        _, _, _, _, info = env.step(np.ones(u.action_dim))
    start = u.task_start(info["state"])
    assert start.shape == info["state"].shape and start is not info["state"]
    u.set_state(start)
    np.testing.assert_array_equal(u.get_state(), start)
    assert isinstance(u.moved(before, info["state"]), bool)
    assert u.moved(before, before) is False


def _env_bad_input(env) -> None:
    u = env.unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(u.action_dim + 1))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(u.action_dim, np.nan))
    with pytest.raises(ValueError, match="length"):
        u.set_state(np.zeros(u.state_dim + 3))
    with pytest.raises(ValueError, match="unknown policy"):
        u.make_policy("oracle", np.random.default_rng(0))


# -- world models --------------------------------------------------------------------------------


def tiny_world_model(name: str, **make_kwargs: Any) -> nn.Module:
    """Model ``name`` at the check size (``model_kwargs(name)`` updated by ``make_kwargs``),
    seeded, in eval mode, with every all-zero parameter tensor given small random values: a
    zero-initialised output layer (LeWM's AdaLN-zero) would otherwise hide whether actions
    reach the predictions."""
    kw = {**model_kwargs(name), **make_kwargs}
    torch.manual_seed(0)
    model = world_models.make(name, **kw)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point() and not p.any():
                p.normal_(0.0, 0.2)
    return model.eval()


def check_world_model(name: str, make_kwargs: dict[str, Any] | None = None) -> nn.Module:
    """The ``WorldModel`` + ``Trainable`` contract of registered model ``name``, built with
    ``world_models.make(name, **make_kwargs)`` (default ``model_kwargs(name)``): what the
    trainer, the checkpoints, the metrics and the planners call. Returns the model (eval)."""
    kw = {**model_kwargs(name), **(make_kwargs or {})}
    cfg = world_models.build_config(
        name, kw["preset"], **{k: v for k, v in kw.items() if k != "preset"}
    )
    model = tiny_world_model(name, **kw)
    size = kw["image_size"]
    checks = [
        ("config and attributes", lambda: _model_config(name, model, cfg, kw)),
        ("encode", lambda: _model_encode(model, size)),
        ("rollout through world_models.rollout", lambda: _model_rollout(model, size)),
        ("step is a one-frame rollout", lambda: _model_step(model, size)),
        ("actions get gradients (GD, GRASP)", lambda: _model_gradients(model, size)),
        ("set_action_stats z-scores actions", lambda: _model_action_stats(model, size)),
        ("loss and backward", lambda: _model_loss(name, model, kw["preset"], size)),
        ("checkpoint round trip", lambda: _model_checkpoint(name, model, cfg, size)),
    ]
    run_checks(f"world model {name}", checks)
    return model.eval()


def model_context(model: Any, image_size: int, batch: int = 2, seed: int = 0):
    """Encoded random frames as the MPC loop hands them to a planner: z_context
    (B, history, D), z_goal (B, D) and a_context (B, history - 1, A), empty at history 1."""
    px = random_frames(batch, model.history + 1, image_size, seed)
    with torch.no_grad():
        z = model.encode(px)
    g = torch.Generator().manual_seed(seed)
    a_context = torch.rand(batch, model.history - 1, model.action_dim, generator=g) * 2 - 1
    return z[:, :-1], z[:, -1], a_context


def _model_config(name, model, cfg, kw) -> None:
    assert isinstance(model, nn.Module), "the trainer needs an nn.Module"
    missing = missing_members(model, Trainable)
    assert missing == [], f"missing {missing} (subclass agents.world_models.TrainableModel)"
    assert isinstance(model, Trainable)
    assert dataclasses.is_dataclass(world_models.model_class(name).Config)
    _documented(world_models.model_class(name))
    fields = {f.name for f in dataclasses.fields(cfg)}
    assert {"image_size", "action_dim", "history"} <= fields, f"Config fields {sorted(fields)}"
    assert model.action_dim == kw["action_dim"] == cfg.action_dim
    assert model.history == cfg.history >= 1
    assert isinstance(model.latent_dim, int) and model.latent_dim >= 1
    step_fn = getattr(model, "compile_step", "step")
    assert callable(getattr(model, step_fn, None)), f"compile_step names {step_fn!r}"


def _model_encode(model, size: int) -> None:
    px = random_frames(3, 2, size, seed=4)
    with torch.no_grad():
        z = model.encode(px)
        assert z.shape == (3, 2, model.latent_dim) and z.is_floating_point()
        assert torch.isfinite(z).all()
        # the MPC loop encodes goals and contexts one frame at a time
        for t in range(2):
            _close(model.encode(px[:, t : t + 1])[:, 0], z[:, t], "a frame encoded on its own")


def _model_rollout(model, size: int) -> None:
    z_context, _, a_context = model_context(model, size)
    actions = torch.rand(2, 3, 4, model.action_dim) * 2 - 1
    with torch.no_grad():
        out = rollout(model, z_context, actions, a_context)
        assert out.shape == (2, 3, 4, model.latent_dim)
        assert torch.isfinite(out).all()
        assert torch.equal(out, rollout(model, z_context, actions, a_context)), "not deterministic"
        one = rollout(model, z_context, actions[:, 1:2], a_context)
        _close(one, out[:, 1:2], "a candidate rolled out alone")


def _model_step(model, size: int) -> None:
    z_context, _, _ = model_context(model, size)
    z, a = z_context[:, -1], torch.rand(2, model.action_dim) * 2 - 1
    with torch.no_grad():
        nxt = model.step(z, a)
        assert nxt.shape == (2, model.latent_dim)
        _close(nxt, rollout(model, z[:, None], a[:, None, None])[:, 0, 0], "step vs rollout")


def _model_gradients(model, size: int) -> None:
    z_context, z_goal, a_context = model_context(model, size)
    a = (torch.rand(2, 2, 3, model.action_dim) * 2 - 1).requires_grad_(True)
    goal_cost(rollout(model, z_context, a, a_context), z_goal).sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()
    assert a.grad[:, :, 0].abs().sum() > 0, "the first block does not move the last prediction"
    a1 = (torch.rand(2, model.action_dim) * 2 - 1).requires_grad_(True)
    model.step(z_context[:, -1], a1).square().sum().backward()
    assert a1.grad is not None and a1.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


def _model_action_stats(model, size: int) -> None:
    plain, scaled = copy.deepcopy(model), copy.deepcopy(model)
    mean, std = np.full(model.action_dim, 0.3), np.full(model.action_dim, 2.0)
    scaled.set_action_stats(mean, std)  # numpy, as the trainer passes them
    z = model_context(model, size)[0][:, -1]
    a = torch.rand(2, model.action_dim) * 2 - 1
    with torch.no_grad():
        got = scaled.step(z, a)
        _differs(got, plain.step(z, a), "set_action_stats changed no prediction")
        unit = plain.step(z, (a - 0.3) / 2.0)
    _close(got, unit, "with stats (m, s), actions a must predict what (a - m) / s does without")


def _model_loss(name: str, model, preset: str, size: int) -> None:
    from benchmark import suites

    num_preds = suites.training(name, preset).get("num_preds", 1)
    model = copy.deepcopy(model).train()
    batch = window_batch(4, model.history + num_preds, size, model.action_dim)
    loss, logs = model.loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss), f"loss {loss}"
    assert isinstance(logs, dict) and all(isinstance(k, str) for k in logs)
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    json.dumps({k: float(v) for k, v in logs.items()})  # the trainer logs them as JSON
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads), "no parameter gets a gradient"
    assert all(torch.isfinite(g).all() for g in grads), "non-finite gradients"
    torch.optim.SGD(model.parameters(), lr=1e-3).step()
    model.after_optimizer_step()


def _model_checkpoint(name: str, model, cfg, size: int) -> None:
    """``benchmark.checkpoint.save`` then ``load_model``: config through JSON, tensors through
    safetensors (strict), the action statistics included."""
    from benchmark.checkpoint import load_model, save

    trained = copy.deepcopy(model)
    a = model.action_dim
    trained.set_action_stats(np.linspace(-0.5, 0.5, a), np.full(a, 1.5))
    meta = {"model": name, "model_config": world_models.config_key(cfg)}
    with tempfile.TemporaryDirectory() as tmp:
        loaded, _ = load_model(save(Path(tmp) / "checkpoint", trained, meta))
    loaded.eval()
    z_context, _, a_context = model_context(trained, size)
    actions = torch.rand(2, 2, 3, a) * 2 - 1
    px = random_frames(2, 1, size, seed=5)
    with torch.no_grad():
        assert torch.equal(loaded.encode(px), trained.encode(px))
        want = rollout(trained, z_context, actions, a_context)
        assert torch.equal(rollout(loaded, z_context, actions, a_context), want)


# -- planners ------------------------------------------------------------------------------------


def check_planner(name: str, model: Any = None, options: dict[str, Any] | None = None) -> None:
    """The ``Planner`` contract of registered planner ``name`` (``planners.make(name, **options)``,
    default ``planner_options(name)``) on ``model`` (default ``TinyMLP``: any ``WorldModel``
    whose rows are independent up to float rounding), plus the analytic models of
    ``tests/toy_models.py`` for the a_context, two-argument-rollout and divergence checks."""
    options = planner_options(name) if options is None else dict(options)
    model = TinyMLP() if model is None else model
    g = torch.Generator().manual_seed(0)
    z_context = torch.randn(4, 1, model.latent_dim, generator=g)
    z_goal = torch.randn(4, model.latent_dim, generator=g)
    checks = [
        ("registry, Config and make", lambda: _planner_config(name)),
        (
            "plans on the model",
            lambda: check_planner_on_model(name, model, z_context, z_goal, options=options),
        ),
        (
            "episode_ids: batched = one at a time",
            lambda: _planner_batching(name, model, z_context, z_goal, options),
        ),
        ("no gradients under inference_mode", lambda: _planner_inference(name, options)),
        ("a_context reaches the model", lambda: _planner_a_context(name, options)),
        ("two-argument rollout", lambda: _planner_two_args(name, options)),
        ("a diverged model raises", lambda: _planner_diverged(name, options)),
        ("bad input is refused", lambda: _planner_bad_input(name, options)),
    ]
    run_checks(f"planner {name}", checks)


def check_planner_on_model(
    name: str,
    model: Any,
    z_context: torch.Tensor,
    z_goal: torch.Tensor,
    a_context: torch.Tensor | None = None,
    *,
    options: dict[str, Any] | None = None,
    horizon: int = 3,
    reseed: bool = True,
) -> torch.Tensor:
    """What the MPC loop needs of planner ``name`` on ``model``: actions (B, H, A) finite in
    [-1, 1], the same for the same seed (and after ``reseed`` unless ``reseed=False``), the
    stats and ``describe``, and the model's parameters untouched (no gradients). Returns the
    actions."""
    options = planner_options(name) if options is None else dict(options)
    planner = planners.make(name, horizon=horizon, seed=1, **options)
    assert missing_members(planner, Planner) == [] and isinstance(planner, Planner)
    params = list(model.parameters()) if isinstance(model, nn.Module) else []
    before = [p.detach().clone() for p in params]
    actions = planner.plan(model, z_context, z_goal, a_context=a_context)
    b = z_context.shape[0]
    assert actions.shape == (b, horizon, model.action_dim), tuple(actions.shape)
    assert actions.dtype == z_context.dtype and actions.device == z_context.device
    assert torch.isfinite(actions).all(), "non-finite actions"
    assert actions.abs().max() <= 1.0, f"actions outside [-1, 1]: max |a| = {actions.abs().max()}"
    stats = planner.stats
    assert PLANNER_STATS <= set(stats), f"stats {sorted(stats)}"
    assert stats["model_calls"] > 0 and stats["solve_time_s"] > 0, stats
    text = planner.describe()
    assert isinstance(text, str) and "\n" not in text
    assert text.startswith(f"{name}(") and f"horizon={horizon}" in text, text
    for field in dataclasses.fields(planner.config):
        assert f"{field.name}=" in text, f"describe() leaves out {field.name}: {text}"
    again = planners.make(name, horizon=horizon, seed=1, **options)
    replan = again.plan(model, z_context, z_goal, a_context=a_context)
    assert torch.equal(replan, actions), "another planner with the same seed planned otherwise"
    if reseed:
        again.reseed(1)
        replan = again.plan(model, z_context, z_goal, a_context=a_context)
        assert torch.equal(replan, actions), "reseed(seed) did not restart the random streams"
    for p, old in zip(params, before):
        assert p.grad is None, "the planner left gradients on the model"
        assert torch.equal(p, old), "the planner changed the model"
    return actions


def _planner_config(name: str) -> None:
    assert name in planners.names()
    cls = planners.planner_class(name)
    config = planners.config_class(name)
    assert dataclasses.is_dataclass(config) and cls.Config is config
    _documented(cls)
    planners.make(name)  # the defaults build
    with pytest.raises(ValueError, match="unknown config keys"):
        planners.make(name, not_a_field=1)
    with pytest.raises(ValueError, match="horizon"):
        planners.make(name, horizon=0)
    with pytest.raises(ValueError, match="seed"):
        planners.make(name, seed=-1)
    with pytest.raises(ValueError, match="cost"):  # a bad cost, or a planner without the field
        planners.make(name, cost="mean")
    # every field has a docstring: the CLI shows it as the option's help
    body = ast.parse(inspect.getsource(config)).body[0].body
    documented = {
        stmt.target.id
        for stmt, after in zip(body, body[1:])
        if isinstance(stmt, ast.AnnAssign)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
    }
    assert documented == {f.name for f in dataclasses.fields(config)}, "undocumented fields"


def _planner_batching(name, model, z_context, z_goal, options) -> None:
    batched = planners.make(name, horizon=3, seed=5, **options).plan(model, z_context, z_goal)
    alone = [
        planners.make(name, horizon=3, seed=5, **options).plan(
            model, z_context[b : b + 1], z_goal[b : b + 1], episode_ids=[b]
        )
        for b in range(z_context.shape[0])
    ]
    # up to float rounding: backward matmuls may round differently with the batch size
    torch.testing.assert_close(batched, torch.cat(alone), atol=1e-5, rtol=0)


def _planner_inference(name, options) -> None:
    model = TinyMLP()
    with torch.inference_mode():
        actions = planners.make(name, horizon=3, **options).plan(
            model, torch.randn(2, 1, 4), torch.randn(2, 4)
        )
    assert actions.shape == (2, 3, 2)
    assert all(p.grad is None for p in model.parameters())


def _planner_a_context(name, options) -> None:
    model = SpyPointMass()
    a_context = torch.zeros(2, 1, 2)
    planners.make(name, horizon=3, **options).plan(
        model, torch.zeros(2, 2, 2), torch.ones(2, 2), a_context=a_context
    )
    assert model.seen_a_context and all(a is a_context for a in model.seen_a_context)


def _planner_two_args(name, options) -> None:
    class TwoArgs(PointMass):
        def rollout(self, z_context, actions):
            return super().rollout(z_context, actions)

    for a_context in (None, torch.zeros(2, 0, 2)):
        actions = planners.make(name, horizon=3, **options).plan(
            TwoArgs(), torch.zeros(2, 1, 2), torch.ones(2, 2), a_context=a_context
        )
        assert actions.shape == (2, 3, 2)


def _planner_diverged(name, options) -> None:
    with pytest.raises(FloatingPointError, match=name):
        planners.make(name, horizon=3, **options).plan(
            NaNModel(), torch.zeros(2, 1, 2), torch.ones(2, 2)
        )


def _planner_bad_input(name, options) -> None:
    model = PointMass(latent_dim=4)
    planner = planners.make(name, horizon=3, **options)
    z_context, z_goal = torch.zeros(3, 1, 4), torch.ones(3, 4)
    with pytest.raises(ValueError, match="z_goal"):
        planner.plan(model, z_context, torch.ones(3, 1, 4))
    with pytest.raises(ValueError, match="z_goal"):
        planner.plan(model, z_context, torch.ones(2, 4))
    with pytest.raises(ValueError, match="z_context"):
        planner.plan(model, torch.zeros(3, 4), z_goal)
    with pytest.raises(ValueError, match="z_context"):
        planner.plan(model, torch.zeros(3, 1, 5), z_goal)
    with pytest.raises(ValueError, match="init"):
        planner.plan(model, z_context, z_goal, init=torch.zeros(3, 4, 2))
    with pytest.raises(ValueError, match="episode_ids"):
        planner.plan(model, z_context, z_goal, episode_ids=[0, 0, 1])
    with pytest.raises(ValueError, match="NaN"):
        planner.plan(model, z_context, torch.full((3, 4), float("nan")))
