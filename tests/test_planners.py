"""Planners solving analytic world models with known optima (tests/toy_models.py).

The planner contract (config, seeding, episode_ids batching, stats, bad input, a_context, the
two-argument rollout, divergence) is tests/test_contracts.py (``contracts.check_planner``).
Every test here parametrised over ``planners.names()`` covers a newly registered planner with
no edits (give it a reduced budget in ``FAST`` if its defaults are slow).
"""

from __future__ import annotations

import re

import pytest
import torch
from contracts import PLANNER_SETTINGS
from toy_models import PointMass, TinyMLP, WallPointMass

from agents import planners
from agents.planners import goal_cost, shift_plan
from agents.planners.base import SamplingPlanner

NAMES = planners.names()

# Reduced budgets: the analytic problems are easy, and the file must stay fast on 2 cores.
FAST = {
    "cem": dict(samples=100, elites=10, iterations=10),
    "mppi": dict(samples=100, iterations=10),
    "gd": dict(iterations=60, restarts=3),
    "grasp": dict(iterations=100, sync_every=25, latent_scale=0),
}
# The smallest budgets: one or two iterations, for checks that need no convergence.
TINY = PLANNER_SETTINGS


def make(name: str, budget: dict = FAST, horizon: int = 5, seed: int = 0, **cfg):
    return planners.make(name, horizon=horizon, seed=seed, **{**budget.get(name, {}), **cfg})


def task(model, batch: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random starts and goals about 0.5-1 apart (2-4 blocks at gain 0.25)."""
    gen = torch.Generator().manual_seed(seed)
    start = torch.rand(batch, 2, generator=gen) - 0.5
    offset = torch.nn.functional.normalize(torch.randn(batch, 2, generator=gen), dim=-1)
    goal = start + offset * (0.5 + 0.5 * torch.rand(batch, 1, generator=gen))
    return model.embed(start)[:, None], model.embed(goal)


def terminal_distance(model, z_context, z_goal, actions) -> torch.Tensor:
    return (model.rollout(z_context, actions[:, None])[:, 0, -1] - z_goal).norm(dim=-1)


# -- registry and shared helpers -------------------------------------------------------------


def test_unknown_names_are_rejected_listing_the_valid_ones():
    with pytest.raises(ValueError, match="valid names: " + re.escape(", ".join(NAMES))):
        planners.make("ilqr")
    with pytest.raises(ValueError, match="did you mean 'cem'"):
        planners.make("CEMM")


def test_goal_cost_terminal_and_summed():
    z_pred = torch.zeros(2, 3, 4, 5)
    z_pred[:, :, -1] = 1.0
    z_goal = torch.zeros(2, 5)
    assert goal_cost(z_pred, z_goal).shape == (2, 3)
    torch.testing.assert_close(goal_cost(z_pred, z_goal), torch.full((2, 3), 5.0))
    z_pred[:, :, 0] = 2.0
    torch.testing.assert_close(goal_cost(z_pred, z_goal, summed=True), torch.full((2, 3), 25.0))
    with pytest.raises(ValueError):
        goal_cost(z_pred, torch.zeros(3, 5))


def test_shift_plan_drops_executed_blocks_and_pads():
    plan = torch.arange(1.0, 7.0).reshape(1, 3, 2)
    shifted = shift_plan(plan, 1)
    torch.testing.assert_close(shifted, torch.tensor([[[3.0, 4.0], [5.0, 6.0], [0.0, 0.0]]]))
    last = shift_plan(plan, 2, pad="last")
    torch.testing.assert_close(last, torch.tensor([[[5.0, 6.0], [5.0, 6.0], [5.0, 6.0]]]))
    assert torch.equal(shift_plan(plan, 5), torch.zeros_like(plan))
    assert torch.equal(shift_plan(plan, 0), plan)
    with pytest.raises(ValueError):
        shift_plan(plan, -1)


# -- solving -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_reaches_the_goal_of_an_embedded_point_mass(name):
    model = PointMass(latent_dim=8)
    z_context, z_goal = task(model, batch=3)
    planner = make(name)
    actions = planner.plan(model, z_context, z_goal)
    assert actions.shape == (3, 5, 2)
    start_distance = (z_context[:, -1] - z_goal).norm(dim=-1)
    assert start_distance.min() > 0.45
    assert terminal_distance(model, z_context, z_goal, actions).max() < 0.03
    assert set(planner.stats) == {
        "model_calls",
        "rollout_steps",
        "backward_calls",
        "iterations",
        "solve_time_s",
    }
    assert planner.stats["model_calls"] > 0 and planner.stats["solve_time_s"] > 0


def test_cem_counts_one_rollout_per_iteration():
    planner = make("cem")
    model = PointMass()
    planner.plan(model, *task(model, batch=3))
    cfg = FAST["cem"]
    assert planner.stats["model_calls"] == cfg["iterations"]
    assert planner.stats["rollout_steps"] == 3 * cfg["samples"] * 5 * cfg["iterations"]
    assert planner.stats["backward_calls"] == 0


def test_summed_cost_reaches_the_goal_earlier_than_terminal_cost():
    model = PointMass()
    z_context, z_goal = task(model, batch=4)
    costs = {}
    for cost in ("terminal", "summed"):
        actions = make("cem", cost=cost, horizon=8).plan(model, z_context, z_goal)
        z_pred = model.rollout(z_context, actions[:, None])
        costs[cost] = goal_cost(z_pred, z_goal, summed=True).mean()
    assert costs["summed"] < 0.8 * costs["terminal"]


def test_wall_needs_a_detour_and_cem_and_grasp_find_it():
    """Horizon 16 around a wall: greedy plans stall; CEM and GRASP (CEM sync) get through.

    Also records the compute each one needed (printed; run pytest with -s to see it).
    """
    model = WallPointMass()
    batch, horizon = 8, 16
    z_context = torch.tensor([[-1.0, 0.0]]).repeat(batch, 1)[:, None]
    z_goal = torch.tensor([[1.0, 0.0]]).repeat(batch, 1)
    straight = torch.zeros(batch, horizon, 2)
    straight[..., 0] = 0.5
    assert terminal_distance(model, z_context, z_goal, straight).min() > 0.9
    runs = {
        "cem": planners.make("cem", horizon=horizon, samples=300, elites=30, iterations=15),
        "grasp": planners.make(
            "grasp", horizon=horizon, iterations=200, sync="cem", sync_steps=3, sync_every=25
        ),
    }
    for name, planner in runs.items():
        actions = planner.plan(model, z_context, z_goal)
        distance = terminal_distance(model, z_context, z_goal, actions)
        assert distance.max() < 0.15, (name, distance)
        stats = planner.stats
        print(
            f"\nwall H={horizon} {name}: {stats['model_calls']} model calls per solve "
            f"(batched over {batch} episodes), {stats['rollout_steps'] / batch:.0f} "
            f"one-step predictions per episode, {stats['backward_calls']} backward calls"
        )
    assert runs["grasp"].stats["iterations"] == 200


# -- randomness, batching, warm start ----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_another_seed_gives_other_actions(name):
    """(The same seed giving the same actions is the contract: tests/test_contracts.py.)"""
    model = PointMass(latent_dim=4)
    z_context, z_goal = task(model, batch=2)
    first = make(name, TINY, seed=1).plan(model, z_context, z_goal)
    assert not torch.equal(first, make(name, TINY, seed=2).plan(model, z_context, z_goal))


SAMPLING = [n for n in NAMES if issubclass(planners.planner_class(n), SamplingPlanner)]


@pytest.mark.parametrize("name", SAMPLING)
def test_sampling_planners_plan_a_batch_exactly_as_one_episode_at_a_time(name):
    """No backward pass, so no rounding that depends on the batch size (the contract allows
    float rounding for every planner)."""
    model = TinyMLP()
    gen = torch.Generator().manual_seed(0)
    z_context, z_goal = torch.randn(4, 1, 4, generator=gen), torch.randn(4, 4, generator=gen)
    batched = make(name, TINY, seed=5).plan(model, z_context, z_goal)
    separate = [
        make(name, TINY, seed=5).plan(
            model, z_context[b : b + 1], z_goal[b : b + 1], episode_ids=[b]
        )
        for b in range(4)
    ]
    assert torch.equal(batched, torch.cat(separate))


@pytest.mark.parametrize("name", NAMES)
def test_warm_start_is_used(name):
    model = PointMass()
    z_context, z_goal = task(model, batch=3)
    solution = make(name).plan(model, z_context, z_goal)
    cold = make(name, TINY, sync_steps=0) if name == "grasp" else make(name, TINY)
    warm = make(name, TINY, sync_steps=0) if name == "grasp" else make(name, TINY)
    cold_distance = terminal_distance(model, z_context, z_goal, cold.plan(model, z_context, z_goal))
    warm_actions = warm.plan(model, z_context, z_goal, init=solution)
    warm_distance = terminal_distance(model, z_context, z_goal, warm_actions)
    assert warm_distance.mean() < 0.5 * cold_distance.mean()


# -- robustness --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_actions_stay_in_the_box_for_unreachable_goals(name):
    model = PointMass()
    z_context = torch.zeros(2, 1, 2)
    z_goal = torch.tensor([[100.0, -100.0], [-50.0, 80.0]])
    # GRASP's auto latent scale would read a goal 100 away as a huge latent scale: use LeWM's 1.
    cfg = {"latent_scale": 1.0} if name == "grasp" else {}
    planner = make(name, **cfg)
    actions = planner.plan(model, z_context, z_goal, init=torch.full((2, 5, 2), 3.0))
    assert torch.isfinite(actions).all()
    assert actions.abs().max() <= 1.0
    # Not stuck at the (clipped) warm start: the plan heads toward the goal.
    direction = torch.nn.functional.normalize(z_goal, dim=-1)
    assert ((actions.mean(dim=1) * direction).sum(dim=-1) > 0.5).all()


def test_mppi_describe_states_its_update_rule():
    text = planners.make("mppi").describe()
    assert "softmax(-S'/temperature)" in text and "temperature=0.05" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_runs_on_the_device_of_its_inputs(name):
    model = PointMass()
    z_context, z_goal = (t.cuda() for t in task(model, batch=2))
    model.embedding = model.embedding.cuda()
    actions = make(name).plan(model, z_context, z_goal)
    assert actions.device.type == "cuda"
    assert terminal_distance(model, z_context, z_goal, actions).max() < 0.03


def test_grasp_lifted_states_alone_solve_the_point_mass_and_switched_off_do_not():
    """GRASP with no sync: only the lifted problem (virtual states + actions) moves the plan, so
    this fails if the lifted part is switched off (learning rates ~0), which the GD sync alone
    would hide."""
    model = PointMass()
    z_context, z_goal = task(model, batch=4)
    # lr_a 10x the author's so that 150 iterations converge (750 at 0.005 do as well, slower)
    budget = dict(iterations=150, sync="none", latent_scale=1.0)
    lifted = make("grasp", budget={}, lr_a=0.05, **budget).plan(model, z_context, z_goal)
    off = make("grasp", budget={}, lr_s=1e-9, lr_a=1e-9, **budget).plan(model, z_context, z_goal)
    start = (z_context[:, -1] - z_goal).norm(dim=-1)
    assert terminal_distance(model, z_context, z_goal, lifted).max() < 0.1
    assert torch.allclose(terminal_distance(model, z_context, z_goal, off), start, atol=1e-3)


def test_grasp_beats_its_sync_alone_at_the_same_budget():
    """Same iterations and syncs: the lifted steps between syncs must buy something."""
    model = PointMass()
    z_context, z_goal = task(model, batch=4, seed=3)
    budget = dict(iterations=40, sync_every=20, sync_steps=1, latent_scale=1.0)
    full = make("grasp", budget={}, lr_a=0.05, **budget).plan(model, z_context, z_goal)
    sync_only = make("grasp", budget={}, lr_s=1e-9, lr_a=1e-9, **budget).plan(
        model, z_context, z_goal
    )
    d_full = terminal_distance(model, z_context, z_goal, full)
    d_sync = terminal_distance(model, z_context, z_goal, sync_only)
    assert d_full.mean() < 0.5 * d_sync.mean(), (d_full, d_sync)
