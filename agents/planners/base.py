"""The Planner seam (README: "Planners"): protocol, shared goal cost, input checks, warm starts.

Every planner searches the normalised action box [-1, 1]^A for B episodes in one call and never
touches an environment. ``BasePlanner`` holds what all of them share: the per-episode random
streams, the call counters behind ``planner.stats`` and the input / divergence checks.

Random streams: episode ``b`` of a call draws from its own ``torch.Generator``, seeded from
``(planner seed, episode id)`` with ``numpy.random.SeedSequence`` and kept across calls (an MPC
loop's replans continue the stream). Episode ids default to ``0..B-1``; passing
``episode_ids=[k]`` plans episode ``k`` alone with exactly the noise it gets inside a batch, so
results do not depend on how episodes are batched (up to the model's own row-independence).
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import (
    Any,
    ClassVar,
    Literal,
    Protocol,
    get_args,
    get_origin,
    get_type_hints,
    runtime_checkable,
)

import numpy as np
import torch

from agents.speed import SolveSpeed, model_pass, solve_context
from agents.world_models.base import WorldModel, rollout

COSTS = ("terminal", "summed")


@runtime_checkable
class Planner(Protocol):
    """Plans action blocks toward a goal latent on a world model.

    Shapes: B episodes, Tc context frames, D latent dim, H ``horizon`` blocks, A action-block dim.
    """

    horizon: int
    stats: dict[str, float]

    def plan(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        z_goal: torch.Tensor,
        init: torch.Tensor | None = None,
        a_context: torch.Tensor | None = None,
        *,
        episode_ids: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """z_context (B, Tc, D), z_goal (B, D), init (B, H, A) warm start, a_context
        (B, Tc - 1, A) the blocks between the context frames -> actions (B, H, A) in [-1, 1].
        ``episode_ids`` (one distinct int per row, default 0..B-1) picks each row's random
        stream, so an MPC loop that drops finished episodes keeps every episode's noise."""
        ...

    def reseed(self, seed: int) -> None:
        """Restart every random stream from ``seed``."""
        ...

    def describe(self) -> str:
        """One line stating the algorithm and its settings, stored with results."""
        ...


def goal_cost(z_pred: torch.Tensor, z_goal: torch.Tensor, summed: bool = False) -> torch.Tensor:
    """Squared L2 distance of predicted latents to the goal latent.

    Args:
        z_pred: predicted latents (B, N, H, D).
        z_goal: goal latents (B, D).
        summed: sum the distance over all H predicted steps instead of using the last one.

    Returns:
        costs (B, N).
    """
    if z_pred.ndim != 4 or z_goal.ndim != 2 or z_pred.shape[0] != z_goal.shape[0]:
        raise ValueError(
            f"goal_cost needs z_pred (B, N, H, D) and z_goal (B, D), "
            f"got {tuple(z_pred.shape)} and {tuple(z_goal.shape)}"
        )
    if summed:
        return (z_pred - z_goal[:, None, None, :]).square().sum(dim=(2, 3))
    return (z_pred[:, :, -1] - z_goal[:, None, :]).square().sum(dim=-1)


def shift_plan(actions: torch.Tensor, executed_blocks: int, pad: str = "zeros") -> torch.Tensor:
    """Warm start for the next solve: drop the executed blocks, pad the tail.

    Args:
        actions: the last plan (B, H, A).
        executed_blocks: how many leading blocks the MPC loop executed (>= 0).
        pad: ``"zeros"`` (the centre of the box) or ``"last"`` (repeat the last planned block).

    Returns:
        actions (B, H, A): ``actions[:, k:]`` followed by ``k`` padding blocks.
    """
    if actions.ndim != 3:
        raise ValueError(f"actions must be (B, H, A), got {tuple(actions.shape)}")
    if executed_blocks < 0:
        raise ValueError(f"executed_blocks must be >= 0, got {executed_blocks}")
    if pad not in ("zeros", "last"):
        raise ValueError(f"pad must be 'zeros' or 'last', got {pad!r}")
    horizon = actions.shape[1]
    k = min(executed_blocks, horizon)
    tail = actions[:, k:]
    if pad == "zeros" or horizon == k:
        filler = actions.new_zeros(actions.shape[0], k, actions.shape[2])
    else:
        filler = tail[:, -1:].expand(-1, k, -1)
    return torch.cat([tail, filler], dim=1)


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric option, printed the way error messages state them.

    ``high_name`` names the option ``high`` comes from (``elites`` in [1, samples=300]).
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    high_name: str = ""

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True

    def __str__(self) -> str:
        high = f"{self.high_name}={self.high}" if self.high_name else f"{self.high}"
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {high}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{self.low}, {high}{right}"


def check_config(planner: str, config: Any, **ranges: Range) -> None:
    """Checks every field of a planner config against its annotation, then ``ranges``.

    int fields must be ints (not bools or floats), float fields finite numbers (ints are
    converted to float), bool fields bools and Literal fields one of their choices. Raises a
    ValueError naming the planner, the option and its valid values.
    """
    hints = get_type_hints(type(config))
    for f in fields(config):
        value, kind, valid = getattr(config, f.name), hints[f.name], ranges.get(f.name)
        where = f" {valid}" if valid is not None else ""
        if get_origin(kind) is Literal:
            if value not in get_args(kind):
                choices = ", ".join(repr(c) for c in get_args(kind))
                _bad(planner, f.name, f"one of {choices}", value)
        elif kind is bool:
            if not isinstance(value, bool):
                _bad(planner, f.name, "True or False", value)
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                _bad(planner, f.name, f"an integer{where}", value)
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                _bad(planner, f.name, f"a number{where}", value)
            if not math.isfinite(value):
                _bad(planner, f.name, f"a finite number{where}", value)
            setattr(config, f.name, float(value))
    for name, valid in ranges.items():
        value = getattr(config, name)
        if value not in valid:
            _bad(
                planner,
                name,
                f"{'an integer' if hints[name] is int else 'a number'} {valid}",
                value,
            )


def _bad(planner: str, option: str, valid: str, value: Any) -> None:
    raise ValueError(f"planner {planner}: {option} must be {valid}, got {value!r}")


def check_plan_inputs(
    model: Any,
    horizon: int,
    z_context: torch.Tensor,
    z_goal: torch.Tensor,
    init: torch.Tensor | None,
) -> None:
    """Clear ValueErrors for the shapes and values every planner needs."""
    d, a = model.latent_dim, model.action_dim
    if z_context.ndim != 3 or z_context.shape[-1] != d or z_context.shape[1] < 1:
        raise ValueError(f"z_context must be (B, Tc>=1, {d}), got {tuple(z_context.shape)}")
    b = z_context.shape[0]
    if z_goal.shape != (b, d):
        raise ValueError(
            f"z_goal must be (B, D) = ({b}, {d}) to match z_context, got {tuple(z_goal.shape)}"
        )
    if init is not None and init.shape != (b, horizon, a):
        raise ValueError(f"init must be (B, H, A) = ({b}, {horizon}, {a}), got {tuple(init.shape)}")
    for name, t in (("z_context", z_context), ("z_goal", z_goal), ("init", init)):
        if t is not None and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or inf")


def episode_seed(seed: int, episode_id: int) -> int:
    """A well-mixed 64-bit seed for one episode's stream, independent of batch composition."""
    state = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(episode_id),))
    return int(state.generate_state(1, dtype=np.uint64)[0])


def empty_stats() -> dict[str, float]:
    """The counters every planner reports after a call (see ``BasePlanner.stats``)."""
    return {
        "model_calls": 0,
        "rollout_steps": 0,
        "backward_calls": 0,
        "iterations": 0,
        "solve_time_s": 0.0,
    }


class BasePlanner:
    """Shared machinery; subclasses set ``name`` and ``Config`` and implement ``_solve``.

    ``stats`` after each ``plan`` call: ``model_calls`` (rollout + step invocations),
    ``rollout_steps`` (one-step predictions evaluated, summed over episodes and candidates),
    ``backward_calls``, ``iterations`` (optimiser iterations) and ``solve_time_s`` (wall time).

    ``speed`` (``agents.speed.SolveSpeed``) sets the precision of the model passes and whether
    the model's one-step function is compiled; it is applied here, around ``_solve`` and in
    ``_rollout`` / ``_step``, so no planner handles it. The default changes nothing.
    """

    name: ClassVar[str] = "base"
    Config: ClassVar[type]

    def __init__(
        self,
        horizon: int = 5,
        seed: int = 0,
        config: Any = None,
        speed: SolveSpeed | None = None,
    ) -> None:
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(
                f"planner {self.name}: horizon must be an integer >= 1, got {horizon!r}"
            )
        self.horizon = horizon
        self.config = config if config is not None else self.Config()
        if self.cost not in COSTS:
            raise ValueError(f"planner {self.name}: cost must be one of {COSTS}, got {self.cost!r}")
        self.stats = empty_stats()
        self.speed = speed if speed is not None else SolveSpeed()
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart every episode's random stream from ``seed``."""
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"planner {self.name}: seed must be an integer >= 0, got {seed!r}")
        self.seed = int(seed)
        self._generators: dict[tuple[int, str], torch.Generator] = {}

    def describe(self) -> str:
        """The algorithm name, horizon and every config field (and non-default speed
        options), for results metadata."""
        settings = ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())
        speed = self.speed.describe()
        settings += f", {speed}" if speed else ""
        return f"{self.name}(horizon={self.horizon}, seed={self.seed}, {settings})"

    def plan(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        z_goal: torch.Tensor,
        init: torch.Tensor | None = None,
        a_context: torch.Tensor | None = None,
        *,
        episode_ids: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Plan ``horizon`` action blocks for B episodes in one call.

        Args:
            model: a ``WorldModel``; its parameters are never modified or given gradients.
            z_context: latents of the context frames (B, Tc, D).
            z_goal: goal latents (B, D).
            init: warm start (B, H, A), e.g. ``shift_plan(last_plan, executed)``.
            a_context: blocks between the context frames (B, Tc - 1, A), passed to the model.
            episode_ids: one distinct id per row selecting its random stream (default 0..B-1);
                an MPC loop that drops finished episodes from the batch passes the ids of the
                remaining ones, so every episode keeps its own stream.

        Returns:
            actions (B, H, A) in [-1, 1], finite.
        """
        check_plan_inputs(model, self.horizon, z_context, z_goal, init)
        ids = self._episode_ids(episode_ids, z_context.shape[0])
        gens = [self._generator(i, z_context.device) for i in ids]
        self.stats = empty_stats()
        self._nonfinite = torch.zeros((), dtype=torch.bool, device=z_context.device)
        if init is not None:
            init = init.to(z_context.dtype).clamp(-1.0, 1.0)
        start = time.perf_counter()
        with solve_context(model, self.speed, z_context.device):
            actions = self._solve(model, z_context, z_goal, init, a_context, gens)
        if actions.device.type == "cuda":
            torch.cuda.synchronize(actions.device)
        self.stats["solve_time_s"] = time.perf_counter() - start
        # one host sync for both checks
        if bool(self._nonfinite | ~torch.isfinite(actions).all()):
            raise FloatingPointError(
                f"{self.name}: the world model produced NaN/inf predictions or costs "
                "(diverged model or non-finite inputs); refusing to return a plan"
            )
        return actions.detach().clamp(-1.0, 1.0)

    def _solve(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        z_goal: torch.Tensor,
        init: torch.Tensor | None,
        a_context: torch.Tensor | None,
        gens: list[torch.Generator],
    ) -> torch.Tensor:
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------------------

    @property
    def cost(self) -> str:
        """The config's ``cost`` field (``terminal`` or ``summed``); ``terminal`` without one."""
        return getattr(self.config, "cost", "terminal")

    @property
    def summed(self) -> bool:
        return self.cost == "summed"

    def _costs(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        candidates: torch.Tensor,
        a_context: torch.Tensor | None,
        z_goal: torch.Tensor,
    ) -> torch.Tensor:
        """Goal costs (B, N) of candidate sequences (B, N, H, A), in one rollout; non-finite
        ones are remembered for ``plan``'s check."""
        costs = goal_cost(
            self._rollout(model, z_context, candidates, a_context), z_goal, self.summed
        )
        self._watch(costs)
        return costs

    def _episode_ids(self, episode_ids: Sequence[int] | None, batch: int) -> list[int]:
        if episode_ids is None:
            return list(range(batch))
        ids = [int(i) for i in episode_ids]
        if len(ids) != batch or len(set(ids)) != batch:
            raise ValueError(
                f"{self.name}: episode_ids must be {batch} distinct ints (one per row), got {ids}"
            )
        return ids

    def _generator(self, episode_id: int, device: torch.device) -> torch.Generator:
        key = (episode_id, str(device))
        if key not in self._generators:
            gen = torch.Generator(device=device)
            gen.manual_seed(episode_seed(self.seed, episode_id))
            self._generators[key] = gen
        return self._generators[key]

    def _randn(
        self, gens: list[torch.Generator], shape: tuple[int, ...], like: torch.Tensor
    ) -> torch.Tensor:
        """Standard normal noise (B, *shape), row b drawn from episode b's stream."""
        out = torch.empty((len(gens), *shape), dtype=like.dtype, device=like.device)
        for row, gen in zip(out, gens):
            torch.randn(shape, generator=gen, out=row)
        return out

    def _uniform(
        self, gens: list[torch.Generator], shape: tuple[int, ...], like: torch.Tensor
    ) -> torch.Tensor:
        """Uniform noise in [-1, 1) of shape (B, *shape), row b from episode b's stream."""
        out = torch.empty((len(gens), *shape), dtype=like.dtype, device=like.device)
        for row, gen in zip(out, gens):
            row.uniform_(-1.0, 1.0, generator=gen)
        return out

    def _rollout(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        actions: torch.Tensor,
        a_context: torch.Tensor | None,
    ) -> torch.Tensor:
        """``model.rollout`` with counting: actions (B, N, H, A) -> (B, N, H, D), in the
        dtype of ``z_context`` whatever the precision of the pass."""
        b, n, h, _ = actions.shape
        self.stats["model_calls"] += 1
        self.stats["rollout_steps"] += b * n * h
        with model_pass(self.speed, z_context.device):
            z_pred = rollout(model, z_context, actions, a_context)
        return z_pred.to(z_context.dtype)  # costs and statistics stay full precision

    def _step(self, model: WorldModel, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``model.step`` with counting: z (R, D), a (R, A) -> (R, D) in the dtype of ``z``."""
        self.stats["model_calls"] += 1
        self.stats["rollout_steps"] += z.shape[0]
        with model_pass(self.speed, z.device):
            z_next = model.step(z, a)
        return z_next.to(z.dtype)

    def _watch(self, values: torch.Tensor) -> None:
        """Remember non-finite costs without a device sync; ``plan`` raises at the end."""
        self._nonfinite = self._nonfinite | ~torch.isfinite(values.detach()).all()

    def _grad(
        self,
        outputs: torch.Tensor,
        inputs: list[torch.Tensor],
        grad_outputs: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Gradients w.r.t. the plan variables only (model parameters never get any)."""
        self.stats["backward_calls"] += 1
        return torch.autograd.grad(outputs, inputs, grad_outputs)


class SamplingPlanner(BasePlanner):
    """The loop CEM and MPPI share; subclasses implement ``_refit``.

    Per episode and iteration: sample ``samples`` sequences a ~ clip(N(mean, std^2), -1, 1)
    with sample 0 forced to the mean, roll them all out in one model call, refit mean and std
    from their costs. Starts from ``init`` (or the box centre) with std ``sigma0``; returns the
    final mean. The config needs ``samples``, ``iterations`` and ``sigma0``.
    """

    def _solve(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        z_goal: torch.Tensor,
        init: torch.Tensor | None,
        a_context: torch.Tensor | None,
        gens: list[torch.Generator],
    ) -> torch.Tensor:
        cfg = self.config
        b, h, a = z_context.shape[0], self.horizon, model.action_dim
        with torch.no_grad():
            mean = init.clone() if init is not None else z_context.new_zeros(b, h, a)
            std = torch.full_like(mean, cfg.sigma0)
            for _ in range(cfg.iterations):
                noise = self._randn(gens, (cfg.samples, h, a), like=mean)
                candidates = (mean[:, None] + std[:, None] * noise).clamp_(-1.0, 1.0)
                candidates[:, 0] = mean
                costs = self._costs(model, z_context, candidates, a_context, z_goal)
                mean, std = self._refit(mean, std, candidates, costs)
                self.stats["iterations"] += 1
        return mean

    def _refit(
        self, mean: torch.Tensor, std: torch.Tensor, candidates: torch.Tensor, costs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (mean, std) (B, H, A) from candidates (B, N, H, A) and costs (B, N)."""
        raise NotImplementedError


def elite_stats(
    candidates: torch.Tensor, costs: torch.Tensor, elites: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (population) std of the ``elites`` lowest-cost candidates.

    Args:
        candidates: (B, N, H, A).
        costs: (B, N).
        elites: how many to keep (<= N).

    Returns:
        mean (B, H, A), std (B, H, A).
    """
    idx = costs.topk(elites, dim=1, largest=False).indices
    h, a = candidates.shape[2:]
    chosen = candidates.gather(1, idx[:, :, None, None].expand(-1, -1, h, a))
    return chosen.mean(dim=1), chosen.std(dim=1, unbiased=False)


class BestPlan:
    """The lowest-cost action sequence per episode among everything evaluated so far.

    Args:
        start: the fallback plan (B, H, A), kept until a candidate with a finite cost beats it.
    """

    def __init__(self, start: torch.Tensor) -> None:
        self.actions = start.detach().clone()
        self.costs = torch.full(start.shape[:1], math.inf, device=start.device, dtype=start.dtype)
        self._rows = torch.arange(start.shape[0], device=start.device)

    def update(self, candidates: torch.Tensor, costs: torch.Tensor) -> None:
        """Consider evaluated candidates (B, N, H, A) with their costs (B, N); NaN never wins."""
        c, i = costs.detach().min(dim=1)
        better = c < self.costs
        chosen = candidates.detach()[self._rows, i]
        self.actions = torch.where(better[:, None, None], chosen, self.actions)
        self.costs = torch.where(better, c, self.costs)


class Adam:
    """Adam on plain tensors (the plan variables), one learning rate per tensor.

    A few in-place ops per tensor keep the per-iteration overhead small next to the model calls;
    learning rates may be tensors that broadcast (per-episode step sizes).
    """

    def __init__(
        self,
        params: list[torch.Tensor],
        lrs: list[float | torch.Tensor],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params, self.lrs, self.betas, self.eps = params, lrs, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        """One update of every tensor in place from its gradient."""
        self.t += 1
        b1, b2 = self.betas
        bias1, bias2 = 1 - b1**self.t, math.sqrt(1 - b2**self.t)
        for p, g, m, v, lr in zip(self.params, grads, self.m, self.v, self.lrs):
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            # p -= lr * (m / bias1) / (sqrt(v) / bias2 + eps), with the constants folded.
            denom = v.sqrt().add_(self.eps * bias2)
            if isinstance(lr, torch.Tensor):
                p.addcdiv_(m, denom.div_(lr), value=-bias2 / bias1)
            else:
                p.addcdiv_(m, denom, value=-lr * bias2 / bias1)
