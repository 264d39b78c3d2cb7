"""FLOPs of model passes (``torch.utils.flop_counter``) and achieved TFLOP/s for the speed scripts.

``FlopCounterMode`` counts matmuls, convolutions and attention (2 FLOPs per multiply-add);
elementwise work and norms are not counted, so achieved TFLOP/s is a lower bound on what the
hardware did. Count on the uncompiled model: the FLOPs of a pass do not depend on precision or
compilation, and compiled regions hide their ops from the counter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count


def _cpu_sdpa(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> int:
    return sdpa_flop_count(query, key, value)


def _cpu_sdpa_backward(
    grad_out: Any, query: Any, key: Any, value: Any, *args: Any, **kwargs: Any
) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


def _custom_mapping() -> dict[Any, Callable[..., int]]:
    """Attention kernels the counter does not know (the CPU flash attention of SDPA)."""
    aten, out = torch.ops.aten, {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        out[aten._scaled_dot_product_flash_attention_for_cpu] = _cpu_sdpa
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward"):
        out[aten._scaled_dot_product_flash_attention_for_cpu_backward] = _cpu_sdpa_backward
    return out


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of everything ``fn()`` runs (a forward, or a forward and its backward)."""
    with FlopCounterMode(display=False, custom_mapping=_custom_mapping()) as counter:
        fn()
    return int(counter.get_total_flops())


def tflops_per_s(flops: float, seconds: float) -> float:
    """Achieved TFLOP/s, to 3 significant digits (nan when nothing was timed)."""
    if seconds <= 0 or not math.isfinite(seconds):
        return math.nan
    return float(f"{flops / seconds / 1e12:.3g}")
