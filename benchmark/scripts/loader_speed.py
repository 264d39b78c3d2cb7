"""Training-batch throughput: the trainer's own batch path at 64 and 224 px.

Collects (or reuses) a TwoRoom dataset per image size, then times: the one-off decode of the
Minari files into the memory-mapped cache, and the batches training draws, built the way
``benchmark.train`` builds them: ``WindowDataset.__getitems__`` (one gather per array) on the
indices of ``BatchOrder`` (a seeded shuffle per pass), for LeWM's window (history 3 + 1
prediction, frameskip 5). It times them called directly, and through ``Prefetcher`` (the
background thread that builds the next batches while a step trains; here nothing trains, so its
figure is the thread's own rate, not the overlap it buys).

Usage:
    python -m benchmark.scripts.loader_speed [--sizes 64 224] [--batch-size 128] [--batches 50]

Datasets go under --root (default data/bench_datasets) and are reused on later runs.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import tyro
from tabulate import tabulate

from benchmark.collect import CollectConfig, collect
from benchmark.datasets import Recording, WindowDataset
from benchmark.provenance import banner
from benchmark.train import BatchOrder, Prefetcher


def batches_per_s(ds: WindowDataset, batch_size: int, batches: int, prefetch: bool, pin: bool):
    """Batches per second of steps 1..``batches`` (step 0 warms up), each the window batch
    ``WindowDataset.__getitems__`` builds on ``BatchOrder``'s indices of that step, built in
    the loop or by a ``Prefetcher``."""
    order = BatchOrder(len(ds), batch_size, seed=0)

    def load(step: int):
        batch = ds.__getitems__(order.indices(step))
        return {k: v.pin_memory() for k, v in batch.items()} if pin and not prefetch else batch

    if prefetch:
        prefetcher = Prefetcher(load, batches + 1, pin=pin)
        get = prefetcher.get
    else:
        get = load
    try:
        get(0)
        t0 = time.perf_counter()
        for step in range(1, batches + 1):
            get(step)
        return batches / (time.perf_counter() - t0)
    finally:
        if prefetch:
            prefetcher.close()


def measure(
    image_size: int, batch_size: int, batches: int, root: Path, episodes: int, pin: bool = False
) -> dict:
    cfg = CollectConfig(episodes=episodes, steps=100, image_size=image_size, root=root)
    t0 = time.perf_counter()
    path = collect(cfg, progress=False)
    collect_s = time.perf_counter() - t0
    shutil.rmtree(path / "cache", ignore_errors=True)
    t0 = time.perf_counter()
    rec = Recording.open(path, progress=False)
    decode_s = time.perf_counter() - t0
    ds = WindowDataset(rec, "train", history=3, num_preds=1, frameskip=5)
    direct = batches_per_s(ds, batch_size, batches, prefetch=False, pin=pin)
    prefetched = batches_per_s(ds, batch_size, batches, prefetch=True, pin=pin)
    frames = rec.info["total_steps"] + episodes
    return {
        "px": image_size,
        "frames": frames,
        "collect s": round(collect_s, 1),
        "decode frames/s": round(frames / decode_s),
        "batches/s": round(direct, 1),
        "windows/s": round(batch_size * direct),
        "frames/s": round(ds.length * batch_size * direct),
        "MB/s": round(ds.length * batch_size * direct * image_size**2 * 3 / 1e6),
        "prefetched batches/s": round(prefetched, 1),
    }


@dataclass
class LoaderSpeedConfig:
    """Image sizes, batch shape and the dataset to time training batches on."""

    sizes: tuple[int, ...] = (64, 224)
    """Image sizes (one TwoRoom dataset each)."""
    batch_size: int = 128
    """Windows per batch."""
    batches: int = 50
    """Timed batches per measurement."""
    episodes: int = 40
    """Episodes of 100 steps in each dataset."""
    root: Path = Path("data/bench_datasets")
    """Where the datasets are collected (and reused on later runs)."""
    pin: bool = False
    """Pin the batches in page-locked memory, as training does on CUDA."""


def run(cfg: LoaderSpeedConfig) -> list[dict]:
    """One row per image size; prints the table."""
    print(banner(), flush=True)
    rows = [
        measure(s, cfg.batch_size, cfg.batches, cfg.root, cfg.episodes, cfg.pin) for s in cfg.sizes
    ]
    print(tabulate(rows, headers="keys", tablefmt="github"))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    return run(tyro.cli(LoaderSpeedConfig, args=argv, description=__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
