"""Speed options for planning and training: model-pass precision and ``torch.compile``.

Precision of the model passes a planner makes (``SolveSpeed.precision``):

- ``fp32`` (the default): nothing changes; plans are bit-identical to a planner without options.
- ``bf16``: ``torch.autocast(device_type, dtype=torch.bfloat16)`` around every model pass of a
  solve (``BasePlanner._rollout`` / ``_step``); predictions are cast back to the plan's dtype, so
  costs, elite selection, softmax weights and the Adam moments stay fp32.
- ``tf32``: TF32 matmuls and convolutions on CUDA during the solve only (the global flags are
  restored afterwards). On CPU it is a no-op: results are the fp32 ones.

Compilation (``SolveSpeed.compile``): ``torch.compile`` of the model's one-step function, the
smallest pure function a rollout calls once per step (the model class names it in
``compile_step``; default ``step``), with ``dynamic=False``, so each input shape gets its own
graph. On CUDA with the inductor backend it uses ``mode="reduce-overhead"`` (CUDA graphs; outputs
are cloned, since a later replay overwrites them). The backend is ``SolveSpeed.backend``, else
``$WMBENCH_COMPILE_BACKEND``, else ``inductor``; ``eager`` or ``aot_eager`` check the code path
without inductor's compile time (tests, CPU dry runs).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch

Precision = Literal["fp32", "bf16", "tf32"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
BACKEND_ENV = "WMBENCH_COMPILE_BACKEND"
# Graphs per compiled function: one per input shape (window length x rows x grad mode).
RECOMPILE_LIMIT = 64

_MISSING = object()
_COMPILED: dict[tuple[Any, str, str | None], Callable[..., Any]] = {}


def check_precision(precision: Any, option: str = "precision") -> None:
    """Raises a ValueError naming the option unless ``precision`` is fp32, bf16 or tf32."""
    if precision not in PRECISIONS:
        valid = ", ".join(PRECISIONS)
        raise ValueError(f"{option} must be one of {valid}, got {precision!r}")


@dataclass(frozen=True)
class SolveSpeed:
    """How a planner runs the model: precision of its passes and whether they are compiled."""

    precision: Precision = "fp32"
    """fp32, bf16 (autocast model passes) or tf32 (CUDA matmuls; no-op on CPU)."""
    compile: bool = False
    """torch.compile the model's one-step function (``compile_step``)."""
    backend: str | None = None
    """torch.compile backend; None: ``$WMBENCH_COMPILE_BACKEND`` or inductor."""

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile must be True or False, got {self.compile!r}")

    @property
    def is_default(self) -> bool:
        """fp32 and uncompiled: the planner behaves exactly as without speed options."""
        return self.precision == "fp32" and not self.compile

    def describe(self) -> str:
        """``precision=bf16, compile=True`` style settings (empty at the defaults)."""
        if self.is_default:
            return ""
        parts = [f"precision={self.precision}"]
        if self.compile:
            parts.append(f"compile={compile_backend(self.backend)}")
        return ", ".join(parts)


DEFAULT_SPEED = SolveSpeed()
"""fp32, uncompiled: what a planner does without speed options."""


def compile_backend(backend: str | None = None) -> str:
    """``backend``, else ``$WMBENCH_COMPILE_BACKEND``, else ``inductor``."""
    return backend or os.environ.get(BACKEND_ENV) or "inductor"


def compile_mode(device: torch.device, backend: str) -> str | None:
    """``reduce-overhead`` (CUDA graphs) for inductor on CUDA; the default mode otherwise."""
    return "reduce-overhead" if device.type == "cuda" and backend == "inductor" else None


def compile_fn(fn: Callable[..., Any], backend: str | None = None) -> Callable[..., Any]:
    """``torch.compile`` with fixed shapes and the default mode (training's loss).

    ``.item()`` (a loss's logged terms) is captured in the graph: a graph break there would
    guard the rest of the loss on the logged value and recompile at every step.
    """
    compiled = torch.compile(fn, backend=compile_backend(backend), dynamic=False)

    def call(*args: Any, **kwargs: Any) -> Any:
        import torch._dynamo

        with torch._dynamo.config.patch(capture_scalar_outputs=True):
            return compiled(*args, **kwargs)

    return call


def model_pass(speed: SolveSpeed, device: torch.device) -> AbstractContextManager[Any]:
    """The autocast context of one model pass: bf16 autocast, or nothing."""
    if speed.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


@contextmanager
def tf32_matmuls() -> Iterator[None]:
    """TF32 for CUDA matmuls and cuDNN convolutions inside the block; the flags are restored."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn


@contextmanager
def solve_context(model: Any, speed: SolveSpeed, device: torch.device) -> Iterator[None]:
    """What holds for a whole solve: TF32 flags (CUDA only) and the compiled one-step function."""
    with ExitStack() as stack:
        if speed.precision == "tf32" and device.type == "cuda":
            stack.enter_context(tf32_matmuls())
        if speed.compile:
            stack.enter_context(compiled_step(model, device, speed.backend))
        yield


def _compiled(fn: Callable[..., Any], backend: str, mode: str | None) -> Callable[..., Any]:
    """One compiled wrapper per (function, backend, mode), shared by every model instance."""
    key = (fn, backend, mode)
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(fn, backend=backend, mode=mode, dynamic=False)
    return _COMPILED[key]


def _clone(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.clone()
    return type(out)(_clone(x) for x in out)


@contextmanager
def compiled_step(model: Any, device: torch.device, backend: str | None = None) -> Iterator[None]:
    """Inside the block, ``model.<compile_step>`` is the compiled function.

    The class's function is compiled once (not the bound method, so no model is kept alive)
    and bound to ``model`` as an instance attribute, which the model's own ``rollout`` and
    ``step`` then call; the attribute is removed afterwards (training never sees it).
    """
    name = getattr(type(model), "compile_step", "step")
    fn = getattr(type(model), name, None)
    if not callable(fn):
        warnings.warn(
            f"{type(model).__name__} has no {name!r} function to compile; running it uncompiled",
            stacklevel=3,
        )
        yield
        return
    backend = compile_backend(backend)
    mode = compile_mode(device, backend)
    compiled = _compiled(fn, backend, mode)

    def call(*args: Any) -> Any:
        out = compiled(model, *args)
        return _clone(out) if mode == "reduce-overhead" else out

    import torch._dynamo

    # torch < 2.7 names dynamo's recompile limit ``cache_size_limit``
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    previous = model.__dict__.get(name, _MISSING)
    object.__setattr__(model, name, call)
    try:
        with config.patch(**{limit: RECOMPILE_LIMIT}):
            yield
    finally:
        if previous is _MISSING:
            object.__delattr__(model, name)
        else:
            object.__setattr__(model, name, previous)
