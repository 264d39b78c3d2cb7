"""Where grid stages run: this machine (processes) or a Ray cluster, with the same results.

An executor maps ``(key, fn, args)`` jobs and yields ``(key, result)`` as jobs finish, where
a job that raised yields its exception instead of stopping the grid.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

Job = tuple[Any, Callable[..., Any], tuple]


class LocalExecutor:
    """Runs jobs in this process (``workers == 1``) or in a pool of spawned processes.

    torch already uses every core for one job, so the default is one worker per 4 cores.
    """

    def __init__(self, workers: int = 0):
        cores = os.cpu_count() or 1
        self.workers = workers if workers > 0 else max(1, cores // 4)
        self._pool = None
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_limit_threads,
                initargs=(max(1, cores // self.workers),),
            )

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Any, Any]]:
        jobs = list(jobs)
        if self._pool is None:
            for key, fn, args in jobs:
                try:
                    yield key, fn(*args)
                except KeyboardInterrupt:
                    raise
                except Exception as err:  # recorded as a failed cell; the grid goes on
                    yield key, err
            return
        futures = {self._pool.submit(fn, *args): key for key, fn, args in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                err = fut.exception()
                yield futures[fut], err if err is not None else fut.result()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _limit_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


class RayExecutor:
    """Runs every job as a Ray task (``num_cpus`` each); datasets and checkpoints are paths,
    so ``--data`` must be on a filesystem every node sees (or the cluster is one machine)."""

    def __init__(self, address: str | None = None, num_cpus_per_job: int = 1):
        try:
            import ray
        except ImportError as err:
            raise ImportError(
                "the ray executor needs Ray: pip install 'ray[default]' (or .[ray])"
            ) from err
        self.ray = ray
        if not ray.is_initialized():
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}},
            )
        self.num_cpus = num_cpus_per_job

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Any, Any]]:
        remote = self.ray.remote(num_cpus=self.num_cpus)(_call)
        refs = {remote.remote(fn, *args): key for key, fn, args in jobs}
        pending = list(refs)
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield refs[ref], self.ray.get(ref)
                except Exception as err:  # a RayTaskError wraps the job's exception
                    yield refs[ref], getattr(err, "cause", None) or err

    def shutdown(self) -> None:
        pass


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def make_executor(name: str, workers: int = 0, address: str | None = None):
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(address)
    raise ValueError(f"unknown executor {name!r}; valid: local, ray")
