"""What each preset's datasets cost on this machine: collection time and disk size.

For every env it collects a short expert dataset at each image size a preset uses (in one
process), measures
steps per second and bytes per frame (the lossless Minari files and the decoded cache), and
extrapolates to each preset's episodes x steps. Workers multiply the speed by up to the core
count for long jobs.

Usage:
    python -m benchmark.scripts.collection_cost [--envs ...] [--episodes 2]
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import tyro
from tabulate import tabulate

import envs
from benchmark.collect import CollectConfig, collect
from benchmark.datasets import Recording
from benchmark.provenance import banner
from benchmark.suites import COLLECTION, SUITES


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(env_id: str, image_size: int, episodes: int, root: Path) -> dict:
    steps = min(100, COLLECTION["quick"][env_id].steps if env_id in COLLECTION["quick"] else 100)
    cfg = CollectConfig(
        env_id=env_id, episodes=episodes, steps=steps, image_size=image_size, workers=1, root=root
    )
    t0 = time.perf_counter()
    path = collect(cfg, progress=False)
    seconds = time.perf_counter() - t0
    frames = episodes * (steps + 1)
    minari_bytes = _size(path / "data")
    Recording.open(path, progress=False)
    cache_bytes = _size(path / "cache")
    shutil.rmtree(path)
    return {
        "steps_per_s": episodes * steps / seconds,
        "minari_kb_per_frame": minari_bytes / frames / 1e3,
        "cache_kb_per_frame": cache_bytes / frames / 1e3,
    }


@dataclass
class CollectionCostConfig:
    """Which envs to time, and on how many episodes."""

    envs: list[str] = field(default_factory=envs.ids)
    """Env ids (default: every registered env)."""
    episodes: int = 2
    """Episodes timed per env and image size."""


def run(cfg: CollectionCostConfig) -> list[dict]:
    """One row per env, preset and image size; prints the table."""
    print(banner(), flush=True)
    root = Path(tempfile.mkdtemp(prefix="wmbench-cost-"))
    rows = []
    try:
        for env_id in cfg.envs:
            sizes = sorted({SUITES[p].image_size for p in COLLECTION if env_id in COLLECTION[p]})
            for size in sizes:
                m = measure(env_id, size, cfg.episodes, root)
                for preset in ("smoke", "quick", "paper"):
                    suite = SUITES[preset]
                    if env_id not in COLLECTION[preset] or suite.image_size != size:
                        continue
                    episodes, steps = (
                        COLLECTION[preset][env_id].episodes,
                        COLLECTION[preset][env_id].steps,
                    )
                    frames = episodes * (steps + 1)
                    rows.append(
                        {
                            "env": env_id.split("/")[-1],
                            "preset": preset,
                            "px": size,
                            "episodes x steps": f"{episodes} x {steps}",
                            "steps/s (1 proc)": round(m["steps_per_s"]),
                            "collect min (1 proc)": round(
                                episodes * steps / m["steps_per_s"] / 60, 1
                            ),
                            "Minari GB": round(frames * m["minari_kb_per_frame"] / 1e6, 2),
                            "+ cache GB": round(frames * m["cache_kb_per_frame"] / 1e6, 2),
                            "kB/frame": round(m["minari_kb_per_frame"], 1),
                        }
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(tabulate(rows, headers="keys", tablefmt="github"))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    return run(tyro.cli(CollectionCostConfig, args=argv, description=__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
