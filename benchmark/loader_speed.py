"""Data-loader throughput: training windows per second at 64 and 224 px.

Collects (or reuses) a TwoRoom dataset per image size, then times: the one-off decode of the
Minari files into the memory-mapped cache, and shuffled batches of windows served by
``make_loader`` (LeWM's window: history 3 + 1 prediction, frameskip 5).

Usage:
    python -m benchmark.loader_speed [--sizes 64 224] [--batch-size 128] [--batches 50]

Datasets go under --root (default data/bench_datasets) and are reused on later runs.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from tabulate import tabulate

from benchmark.collect import CollectConfig, collect
from benchmark.datasets import Recording, WindowDataset, make_loader
from benchmark.provenance import banner


def measure(image_size: int, batch_size: int, batches: int, root: Path, episodes: int) -> dict:
    cfg = CollectConfig(episodes=episodes, steps=100, image_size=image_size, root=root)
    t0 = time.perf_counter()
    path = collect(cfg, progress=False)
    collect_s = time.perf_counter() - t0
    shutil.rmtree(path / "cache", ignore_errors=True)
    t0 = time.perf_counter()
    rec = Recording.open(path, progress=False)
    decode_s = time.perf_counter() - t0
    ds = WindowDataset(rec, "train", history=3, num_preds=1, frameskip=5)
    loader = iter(make_loader(ds, batch_size=batch_size, seed=0))
    next(loader)
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            batch = next(loader)
        except StopIteration:
            loader = iter(make_loader(ds, batch_size=batch_size, seed=n))
            batch = next(loader)
        n += batch["pixels"].shape[0]
    load_s = time.perf_counter() - t0
    frames = rec.info["total_steps"] + episodes
    return {
        "px": image_size,
        "frames": frames,
        "collect s": round(collect_s, 1),
        "decode frames/s": round(frames / decode_s),
        "windows/s": round(n / load_s),
        "frames/s": round(4 * n / load_s),
        "MB/s": round(4 * n * image_size**2 * 3 / load_s / 1e6),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 224])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--episodes", type=int, default=40, help="episodes of 100 steps")
    parser.add_argument("--root", type=Path, default=Path("data/bench_datasets"))
    args = parser.parse_args(argv)
    print(banner(), flush=True)
    rows = [measure(s, args.batch_size, args.batches, args.root, args.episodes) for s in args.sizes]
    print(tabulate(rows, headers="keys", tablefmt="github"))
    return rows


if __name__ == "__main__":
    main()
