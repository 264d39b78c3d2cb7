"""Checks of user-given options shared by the stage configs: clear errors before any work."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, get_args, get_type_hints

from agents.planners.base import Range


def check_options(config: Any, prefix: str = "", **ranges: Range) -> None:
    """Raises a ValueError naming the option (and its CLI flag) and its valid values unless
    each named field is an int (``int`` fields) or a number in its range; None (the preset's
    value) passes. NaN never passes and inf only where the range's upper end is inf."""
    hints = get_type_hints(type(config))
    for name, valid in ranges.items():
        value = getattr(config, name)
        if value is None:
            continue
        integer = int in (get_args(hints[name]) or (hints[name],))
        ok = not isinstance(value, bool) and isinstance(value, int if integer else (int, float))
        if ok and not integer:
            ok = not math.isnan(value) and (math.isfinite(value) or valid.high == math.inf)
        if not ok or value not in valid:
            flag = f"--{prefix}{name.replace('_', '-')}"
            noun = "an integer" if integer else "a number"
            raise ValueError(f"{name} ({flag}) must be {noun} {valid}, got {value!r}")


def check_writable(path: str | Path, option: str, folder: bool = True) -> None:
    """Raises a ValueError unless ``path`` is a writable folder (or file, ``folder=False``) or
    can be created as one. Entry points call it before any work, so that a bad output path
    does not lose the results."""
    path = Path(path)
    kind = "folder" if folder else "file"
    if path.exists():
        if path.is_dir() != folder:
            other = "file" if folder else "folder"
            raise ValueError(f"{option} {path} must be a {kind}, but it is a {other}")
        if not os.access(path, os.W_OK | (os.X_OK if folder else 0)):
            raise ValueError(f"{option} {path} is not writable")
        return
    above = path.parent
    while not above.exists():
        above = above.parent
    if not above.is_dir():
        raise ValueError(f"{option} {path} cannot be created: {above} is a file")
    if not os.access(above, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path} cannot be created: {above} is not writable")
