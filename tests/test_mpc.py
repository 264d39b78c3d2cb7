"""The closed loop with a history > 1 model: which frames and action blocks reach the planner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import envs
from benchmark.mpc import run_mpc
from benchmark.tasks import Task

FRAMESKIP = 5


class PixelStats:
    """A 'world model' whose latent is each frame's mean colour: exact to check against."""

    latent_dim = 3

    def __init__(self, history: int, env_action_dim: int):
        self.history = history
        self.action_dim = FRAMESKIP * env_action_dim

    def encode(self, pixels):
        return pixels.float().mean((2, 3))


class Spy:
    """A planner that records its inputs and returns a different known plan every call."""

    def __init__(self, horizon: int, action_dim: int):
        self.horizon, self.action_dim = horizon, action_dim
        self.calls = []
        self.stats = {"solve_time_s": 0.0, "model_calls": 0}

    def plan(self, model, z_context, z_goal, init=None, a_context=None, episode_ids=None):
        k = len(self.calls)
        b = z_context.shape[0]
        steps = torch.arange(self.horizon, dtype=torch.float32)[None, :, None]
        plan = torch.sin(0.7 * k + 1.3 * steps + torch.arange(self.action_dim) * 0.4)
        plan = plan.expand(b, -1, -1).clone()
        self.calls.append({"z": z_context.clone(), "a": a_context, "plan": plan})
        return plan


@pytest.mark.parametrize("history, receding", [(3, 1), (3, 2), (4, 1), (4, 2), (1, 2)])
def test_planner_gets_the_last_frames_and_the_blocks_between_them(history, receding):
    env = envs.make("wmbench/TwoRoom-v0", image_size=32).unwrapped
    task = Task(0, 0, (0.2, 0.3), (0.8, 0.7))
    model = PixelStats(history, env.action_dim)
    planner = Spy(horizon=3, action_dim=model.action_dim)
    budget = 40
    run_mpc(model, planner, env, [task], budget, receding, FRAMESKIP, torch.device("cpu"))
    # replay what the loop executed, keeping the frame at every block boundary
    env.set_state(np.array(task.start_state))
    frames, blocks = [env.render()], []
    for call in planner.calls:
        for j in range(receding):
            block = call["plan"][0, j]
            for a in block.reshape(FRAMESKIP, env.action_dim).numpy():
                env.step(a)
            frames.append(env.render())
            blocks.append(block)
    assert len(planner.calls) == int(np.ceil(budget / (receding * FRAMESKIP)))
    for i, call in enumerate(planner.calls):
        seen = i * receding + 1  # frames observed before this solve
        tc = min(history, seen)
        want = model.encode(torch.from_numpy(np.stack(frames[seen - tc : seen]))[None])
        torch.testing.assert_close(call["z"], want)
        if tc == 1:
            assert call["a"] is None
        else:
            # block k was executed between frame k and frame k + 1
            torch.testing.assert_close(call["a"][0], torch.stack(blocks[seen - tc : seen - 1]))
    env.close()
