"""The closed loop: plan on the world model, execute in the real env, replan.

All tasks advance together: one batched planner call per replanning point, then each task's
blocks are executed in ONE env instance that is teleported between tasks with ``set_state``
(the contract makes states exact; this avoids one GL context per task). The planner never
sees the env; the loop never stops early: every task uses the whole budget, and success is
the criterion firing at any step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.planners import shift_plan
from benchmark.tasks import Task


@dataclass
class Outcome:
    """What happened in one task."""

    success: bool
    """The success criterion fired at some step within the budget."""
    success_final: bool
    """It holds at the last step."""
    final_distance: float
    """The env's task distance at the last step."""
    initial_distance: float
    """The distance at the start."""
    steps_to_success: int | None
    """Env steps until the first success (None: never)."""


@dataclass
class MPCResult:
    outcomes: list[Outcome]
    solve_times_s: list[float] = field(default_factory=list)
    """Wall time of each batched planner call."""
    planner_stats: list[dict[str, float]] = field(default_factory=list)
    videos: list[np.ndarray] = field(default_factory=list)
    """(T, H, 2W, 3) uint8 per recorded task: the agent's view | the goal image."""


def check_action_block(model, env, frameskip: int) -> None:
    """A clear error unless the model's action block is ``frameskip`` of the env's actions."""
    if model.action_dim != frameskip * env.action_dim:
        raise ValueError(
            f"the model's action block has {model.action_dim} dims, but frameskip {frameskip} x "
            f"the env's action dim {env.action_dim} = {frameskip * env.action_dim}"
        )


@torch.no_grad()
def _encode(model, frames: np.ndarray, device: torch.device) -> torch.Tensor:
    return model.encode(torch.from_numpy(np.ascontiguousarray(frames)).to(device))


def run_mpc(
    model,
    planner,
    env,
    tasks: list[Task],
    budget: int,
    receding: int,
    frameskip: int,
    device: torch.device,
    video_tasks: int = 0,
) -> MPCResult:
    """Runs every task for ``budget`` env steps, replanning every ``receding`` blocks.

    Args:
        model: a WorldModel in eval mode on ``device``.
        planner: a Planner (``plan(model, z_context, z_goal, init, a_context, episode_ids)``).
        env: the unwrapped wmbench env (its ``set_state`` teleports between tasks).
        tasks: the planning tasks; their index is the planner's episode id.
        budget: env steps per task.
        receding: action blocks executed between two solves (1..horizon).
        frameskip: env steps per action block (the checkpoint's, ``checkpoint.windows``).
        device: where the model and the latents live.
        video_tasks: record agent | goal frames of the first this many tasks.
    """
    if budget < 1:
        raise ValueError(f"budget must be >= 1 env step, got {budget}")
    if not 1 <= receding <= planner.horizon:
        raise ValueError(f"receding must be in [1, horizon={planner.horizon}], got {receding}")
    if video_tasks < 0:
        raise ValueError(f"video_tasks must be >= 0, got {video_tasks}")
    check_action_block(model, env, frameskip)
    fs, a_env, hist = frameskip, env.action_dim, model.history
    n = len(tasks)
    video_tasks = min(video_tasks, n)  # a video per task at most
    states = [np.asarray(t.start_state, np.float64) for t in tasks]
    goals = [np.asarray(t.goal_state, np.float64) for t in tasks]
    goal_px = np.stack([env.render_state(g) for g in goals])
    start_px = np.stack([env.render_state(s) for s in states])
    z_goal = _encode(model, goal_px[:, None], device)[:, 0]
    z_ctx = _encode(model, start_px[:, None], device)
    a_ctx = torch.zeros(n, 0, model.action_dim, device=device)
    hit = np.full(n, -1)
    initial = [env.distance(s, g) for s, g in zip(states, goals)]
    last_info: list[dict[str, Any]] = [{} for _ in range(n)]
    videos = [[np.concatenate([start_px[b], goal_px[b]], 1)] for b in range(video_tasks)]
    result = MPCResult(outcomes=[])
    t, init = 0, None
    while t < budget:
        tc = min(hist, z_ctx.shape[1])
        actions = planner.plan(
            model,
            z_ctx[:, -tc:],
            z_goal,
            init=init,
            a_context=a_ctx[:, -(tc - 1) :] if tc > 1 else None,
            episode_ids=list(range(n)),
        )
        result.solve_times_s.append(planner.stats["solve_time_s"])
        result.planner_stats.append(dict(planner.stats))
        blocks = min(receding, math.ceil((budget - t) / fs))
        plan = actions[:, :blocks].cpu().numpy().reshape(n, blocks * fs, a_env)
        steps = min(blocks * fs, budget - t)
        frames = np.empty((n, blocks, *goal_px.shape[1:]), np.uint8)
        for b in range(n):
            env.set_state(states[b])
            env.set_goal(goals[b])
            for k in range(steps):
                # only the frames the model or a video needs are rendered
                seen = b < video_tasks or (k + 1) % fs == 0 or k + 1 == steps
                obs, info = env.step_state(plan[b, k])
                if seen:
                    obs, _ = env.observe()
                if info["success"] and hit[b] < 0:
                    hit[b] = t + k + 1
                if b < video_tasks:
                    videos[b].append(np.concatenate([obs["pixels"], goal_px[b]], 1))
                if (k + 1) % fs == 0 or k + 1 == steps:
                    frames[b, k // fs] = obs["pixels"]
            states[b], last_info[b] = env.get_state(), info
        t += steps
        if t < budget:
            z_ctx = torch.cat([z_ctx, _encode(model, frames, device)], 1)[:, -hist:]
            a_ctx = torch.cat([a_ctx, actions[:, :blocks]], 1)
            # the blocks between the kept frames: at most hist - 1 (clamped at 0, so a history
            # longer than what has been executed keeps every block instead of wrapping around)
            a_ctx = a_ctx[:, max(0, a_ctx.shape[1] - (hist - 1)) :]
            init = shift_plan(actions, blocks)
    result.outcomes = [
        Outcome(
            bool(hit[b] >= 0),
            bool(last_info[b]["success"]),
            float(last_info[b]["distance"]),
            float(initial[b]),
            int(hit[b]) if hit[b] >= 0 else None,
        )
        for b in range(n)
    ]
    result.videos = [np.stack(v) for v in videos]
    return result
