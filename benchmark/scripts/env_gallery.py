"""A picture of every registered env: start frame, a mid-episode frame and the goal frame.

Each row rolls the env's noisy scripted expert from ``reset(seed)``; the goal column is the
frame of the goal state the env sampled (``render_state(goal_state)``), the image the planners
are given. Saved as one PNG (default ``results/figures/envs.png``).

Usage:
    python -m benchmark.scripts.env_gallery [--image-size 64] [--out results/figures/envs.png]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tyro  # noqa: E402

import envs  # noqa: E402


def frames(env_id: str, image_size: int, seed: int = 0, steps: int = 40) -> list[np.ndarray]:
    """[start, after ``steps`` expert steps, goal] frames of ``env_id``."""
    env = envs.make(env_id, image_size=image_size)
    base = env.unwrapped
    obs, info = env.reset(seed=seed)
    start = obs["pixels"]
    policy = base.make_policy("expert", np.random.default_rng(seed))
    policy.reset(info)
    for _ in range(steps):
        obs, _, _, _, info = env.step(policy(obs, info))
    goal = base.render_state(base.goal_state)
    env.close()
    return [start, obs["pixels"], goal]


def gallery(env_ids: list[str], image_size: int, out: Path) -> Path:
    fig, axes = plt.subplots(
        len(env_ids), 3, figsize=(4.2, 1.45 * len(env_ids)), squeeze=False, dpi=120
    )
    for row, env_id in enumerate(env_ids):
        for col, img in enumerate(frames(env_id, image_size)):
            ax = axes[row, col]
            ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(["start", "40 expert steps", "goal"][col], fontsize=8)
            if col == 0:
                ax.set_ylabel(env_id.split("/")[-1], fontsize=7)
    fig.suptitle(f"wmbench envs at {image_size} px", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


@dataclass
class GalleryConfig:
    """Which envs, at what size, and where the PNG goes."""

    envs: list[str] | None = None
    """Env ids (default: every registered env)."""
    image_size: int = 64
    """Image size of the frames."""
    out: Path = Path("results/figures/envs.png")
    """The PNG written."""


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(GalleryConfig, args=argv, description=__doc__.splitlines()[0])
    print(gallery(args.envs or envs.ids(), args.image_size, args.out))


if __name__ == "__main__":
    main()
