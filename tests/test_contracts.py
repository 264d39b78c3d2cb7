"""Every registered env, world model and planner meets the contract the pipeline relies on
(``tests/contracts.py``), parametrised over the registries: a new entry is checked with no
edit here. Every planner also plans on every world model (untrained, at the check size)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from contracts import (
    check_env,
    check_planner,
    check_planner_on_model,
    check_world_model,
    model_context,
    model_kwargs,
    tiny_world_model,
)
from plugins.dot_env import Dot
from plugins.mean_model import PoolModel
from plugins.random_shooting import RandomShooting

import envs
from agents import planners, world_models


def test_the_registries_list_their_entries_in_order():
    assert envs.ids() == list(envs.REGISTRY)
    assert world_models.names() == list(world_models.REGISTRY)
    assert planners.names() == list(planners.REGISTRY)
    for env_id in envs.ids():  # registered with gymnasium at import, with the time limit
        assert gym.spec(env_id).max_episode_steps == envs.spec(env_id).max_episode_steps


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run faster on one intra-op thread than on two, and far faster when the
    cores are shared with other processes (two threads then wait on each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("env_id", envs.ids())
def test_env_contract(env_id):
    check_env(env_id)


@pytest.mark.parametrize("name", world_models.names())
def test_world_model_contract(name):
    check_world_model(name)


@pytest.mark.parametrize("name", planners.names())
def test_planner_contract(name):
    check_planner(name)


@pytest.fixture(scope="module")
def tiny_models():
    """Each registered model at the check size, built once for the module."""
    built: dict[str, torch.nn.Module] = {}

    def get(name: str) -> torch.nn.Module:
        if name not in built:
            built[name] = tiny_world_model(name)
        return built[name]

    return get


@pytest.mark.parametrize("model", world_models.names())
@pytest.mark.parametrize("planner", planners.names())
def test_every_planner_plans_on_every_world_model(planner, model, tiny_models):
    """From encoded frames, with the model's history of context and the blocks between them
    (none at history 1, passed empty as the MPC loop does)."""
    net = tiny_models(model)
    size = model_kwargs(model)["image_size"]
    z_context, z_goal, a_context = model_context(net, size, batch=2)
    check_planner_on_model(planner, net, z_context, z_goal, a_context, reseed=False)


# -- the checks bite: one broken toy per kind ----------------------------------------------------


class RawActions(PoolModel):
    """Ignores its action statistics: feeds raw actions to the network."""

    def step(self, z, a):
        return z + self.dyn(torch.cat([z, a], -1))


class OutOfBox(RandomShooting):
    """Returns actions outside [-1, 1]."""

    name = "outofbox"

    def plan(self, *args, **kwargs):
        return 3 * super().plan(*args, **kwargs)


class SloppyDot(Dot):
    """Restores states in float32."""

    def _set_sim_state(self, state):
        self._pos = state.astype(np.float32).astype(np.float64)


def test_the_checks_catch_a_broken_model_planner_and_env(monkeypatch):
    """The contract is not vacuous: each broken toy fails, naming the part that broke."""
    monkeypatch.setitem(world_models.REGISTRY, "raw", f"{__name__}:RawActions")
    with pytest.raises(AssertionError, match="set_action_stats z-scores actions"):
        check_world_model("raw")
    monkeypatch.setitem(planners.REGISTRY, "outofbox", OutOfBox)
    with pytest.raises(
        AssertionError,
        match=r"\(1 of 8 checks failed\):\n- plans on the model: .*outside \[-1, 1\]",
    ):
        check_planner("outofbox")
    monkeypatch.setattr(envs, "REGISTRY", dict(envs.REGISTRY))
    envs.register("wmbench/SloppyDot-v0", f"{__name__}:SloppyDot", max_episode_steps=20)
    with pytest.raises(AssertionError, match="- set_state round trip"):
        check_env("wmbench/SloppyDot-v0")
