"""Summarise a collected dataset and save a contact sheet of its frames.

Usage:
    wmbench inspect data/datasets/<name> [--sheet sheet.png]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro
from tabulate import tabulate

from benchmark.datasets import Recording


def summary(rec: Recording) -> dict[str, Any]:
    """Episodes, steps, split sizes, action statistics and success / moving fractions."""
    a = rec.arrays
    starts = rec.episode_start
    lengths = np.diff(starts) - 1
    last = starts[1:] - 1  # the padded row after each episode's last frame
    step_rows = np.setdiff1d(np.arange(len(a["actions"])), last)
    moved = a["moved"][np.setdiff1d(np.arange(len(a["moved"])), starts[:-1])]
    cfg = rec.info["config"]
    return {
        "path": str(rec.path),
        "env_id": cfg["env_id"],
        "policy": cfg["policy"],
        "image_size": cfg["image_size"],
        "episodes": len(lengths),
        "steps": int(lengths.sum()),
        "steps_per_episode": f"{lengths.min()}-{lengths.max()}",
        "train_episodes": len(rec.episodes("train")),
        "test_episodes": len(rec.episodes("test")),
        "action_mean": np.round(a["actions"][step_rows].mean(0), 3).tolist(),
        "action_std": np.round(a["actions"][step_rows].std(0), 3).tolist(),
        "success_fraction": float(a["success"].mean()),
        "episodes_with_success": float(
            np.mean([a["success"][s:e].any() for s, e in zip(starts[:-1], starts[1:])])
        ),
        "moving_fraction": float(moved.mean()),
        "git_commit": rec.info.get("git_commit", "?"),
    }


def contact_sheet(rec: Recording, rows: int = 6, cols: int = 8, min_side: int = 96) -> np.ndarray:
    """A (rows x cols) grid of frames: one episode per row, evenly spaced steps per column."""
    starts = rec.episode_start
    n_ep = len(starts) - 1
    episodes = np.linspace(0, n_ep - 1, min(rows, n_ep)).round().astype(int)
    s = rec.image_size
    scale = max(1, -(-min_side // s))
    pad = 2
    tile = s * scale + pad
    sheet = np.full((len(episodes) * tile + pad, cols * tile + pad, 3), 255, np.uint8)
    for r, e in enumerate(episodes):
        frames = np.linspace(starts[e], starts[e + 1] - 1, cols).round().astype(int)
        for c, f in enumerate(frames):
            img = rec.arrays["pixels"][f]
            if scale > 1:
                img = img.repeat(scale, 0).repeat(scale, 1)
            y, x = pad + r * tile, pad + c * tile
            sheet[y : y + s * scale, x : x + s * scale] = img
    return sheet


@dataclass
class InspectCommand:
    """Print a dataset's summary and save a contact sheet of its frames."""

    dataset: tyro.conf.Positional[Path]
    """Dataset directory (data/datasets/<name>)."""
    sheet: Path | None = None
    """Contact sheet PNG (default: <dataset>/contact_sheet.png)."""

    def run(self) -> dict[str, Any]:
        return inspect(self.dataset, self.sheet)


def inspect(path: str | Path, sheet: str | Path | None = None) -> dict[str, Any]:
    """Prints the summary table of a dataset and writes its contact sheet PNG."""
    import imageio.v3 as iio

    rec = Recording.open(path)
    info = summary(rec)
    print(
        tabulate([(k, v) for k, v in info.items()], tablefmt="github", headers=["field", "value"])
    )
    sheet = Path(sheet) if sheet else Path(path) / "contact_sheet.png"
    iio.imwrite(sheet, contact_sheet(rec))
    print(f"contact sheet: {sheet}")
    info["sheet"] = str(sheet)
    return info
