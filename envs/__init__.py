"""wmbench environments: goal-conditioned pixel tasks behind one contract (``envs/base.py``).

Importing this package registers every id with gymnasium under ``wmbench/``; the simulators
themselves (MuJoCo, pymunk, dm_control) are imported only when an env is made.

Example:
    >>> import envs
    >>> "wmbench/TwoRoom-v0" in envs.ids()
    True
    >>> env = envs.make("wmbench/TwoRoom-v0", image_size=64)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

# MuJoCo picks its GL backend at import; headless machines need EGL.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

import gymnasium as gym  # noqa: E402

try:  # gymnasium-robotics 1.4.2 prints a notice about Adroit-hand rewards to stderr on import,
    # in every worker process; wmbench uses no Adroit env, so the notice is dropped.
    from farama_notifications import notifications as _notices

    _notices.pop("gymnasium_robotics", None)
except ImportError:  # pragma: no cover
    pass

from envs.base import GoalEnv, check_image_size  # noqa: E402


@dataclass(frozen=True)
class Spec:
    """One benchmark environment: where its class lives and its episode length."""

    entry_point: str
    max_episode_steps: int
    kwargs: dict[str, Any] = field(default_factory=dict)


# Adding an environment: one file under envs/ and one line here.
REGISTRY: dict[str, Spec] = {
    "wmbench/TwoRoom-v0": Spec("envs.two_room:TwoRoom", 100),
    "wmbench/PointMaze-v0": Spec("envs.point_maze:PointMaze", 200, {"maze": "umaze"}),
    "wmbench/PointMazeMedium-v0": Spec("envs.point_maze:PointMaze", 300, {"maze": "medium"}),
    "wmbench/PushT-v0": Spec("envs.push_t:PushT", 200),
    "wmbench/Reacher-v0": Spec("envs.reacher:Reacher", 200),
    "wmbench/Cube-v0": Spec("envs.cube:Cube", 200),
    "wmbench/FetchPush-v0": Spec("envs.fetch_push:FetchPush", 100),
}


def ids() -> list[str]:
    """The benchmark environment ids, in registry order."""
    return list(REGISTRY)


def spec(env_id: str) -> Spec:
    """The registry entry of ``env_id``; an unknown id raises a ``ValueError`` listing valid ids.

    >>> s = spec("wmbench/PointMaze-v0")
    >>> s.entry_point, s.max_episode_steps, s.kwargs
    ('envs.point_maze:PointMaze', 200, {'maze': 'umaze'})
    """
    if env_id not in REGISTRY:
        import difflib

        # compare without namespace, version and case: "tworoom" -> wmbench/TwoRoom-v0
        short = {i.split("/")[-1].split("-v")[0].lower(): i for i in REGISTRY}
        typed = str(env_id).split("/")[-1].split("-v")[0].lower()
        hit = difflib.get_close_matches(typed, short, n=1)
        hint = f" (did you mean {short[hit[0]]!r}?)" if hit else ""
        raise ValueError(f"unknown env id {env_id!r}{hint}; valid ids: {', '.join(REGISTRY)}")
    return REGISTRY[env_id]


def env_class(env_id: str) -> type:
    """The class that implements ``env_id`` (imported on demand)."""
    import importlib

    module, name = spec(env_id).entry_point.split(":")
    return getattr(importlib.import_module(module), name)


def make(env_id: str, image_size: int = 64, **kwargs: Any) -> gym.Env:
    """Makes a registered wmbench env (with gymnasium's time limit and checks).

    Args:
        env_id: one of :func:`ids`.
        image_size: side of the square pixel observation.
        **kwargs: forwarded to the env's constructor.
    """
    spec(env_id)
    check_image_size(image_size)
    return gym.make(env_id, image_size=image_size, **kwargs)


def register(env_id: str, entry_point: str, max_episode_steps: int, **kwargs: Any) -> None:
    """Adds an environment at run time (a plugin, a test); permanent ones get a REGISTRY line.

    Args:
        env_id: ``wmbench/<Name>-v<k>``.
        entry_point: ``"module:Class"`` of a :class:`GoalEnv` subclass.
        max_episode_steps: the time limit of ``envs.make``.
        **kwargs: default constructor arguments.
    """
    REGISTRY[env_id] = Spec(entry_point, max_episode_steps, kwargs)
    _register_all()


def _register_all() -> None:
    for env_id, s in REGISTRY.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=s.entry_point,
                max_episode_steps=s.max_episode_steps,
                kwargs=dict(s.kwargs),
            )


_register_all()

__all__ = ["GoalEnv", "REGISTRY", "Spec", "ids", "make", "register", "spec"]
