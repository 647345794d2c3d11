"""The Ray backend: a pool of :class:`~kprtrack.batch.worker.BatchWorker` actors, local or on a cluster.

Each actor loads the models once and tracks the videos sent to it one after the other. A task is
sent to the least busy actor; :func:`kprtrack.batch.scheduler.schedule` bounds how many are in
flight. When an actor dies (killed, out of memory, its node lost) every call queued on it fails
with a Ray actor error: the backend replaces the actor with a fresh one and reports those calls as
crashes, which the scheduler resubmits. Ray's own restarts and task retries are off, so each retry
is counted once, by the scheduler.

Without an address a private Ray instance is started on this machine (``ray.init``) and shut down
at :meth:`RayBackend.close`. It listens on 127.0.0.1 only and sends no usage statistics: unless
already set, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (Ray's single-machine switch, read when ``ray``
is first imported) and ``RAY_USAGE_STATS_ENABLED=0`` are set before Ray is imported. With an
address (``ray://host:10001`` for Ray Client, ``auto`` for the cluster this machine belongs to) the
actors run on that cluster's workers, which need kprtrack installed and the inputs, output folder
and weights at the same paths (README, "Many videos").
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from kprtrack.batch.inputs import BatchInput
from kprtrack.batch.scheduler import Completion
from kprtrack.batch.worker import BatchWorker, TaskResult, WorkerSettings, one_line

INSTALL_HINT = (
    'install it with `pip install "kprtrack[ray]"` (the plain `ray` package is enough), '
    "or run the batch on this machine without Ray: `kprtrack batch --local`"
)

#: Set (unless already set) before a private local instance is started: loopback only, no usage statistics.
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


class RayNotInstalledError(ImportError):
    """Ray is needed but cannot be imported."""


class RayClusterError(RuntimeError):
    """The Ray cluster cannot be reached, or cannot hold a single worker."""


def import_ray(local: bool = False) -> Any:
    """The ``ray`` module.

    Args:
        local: a private instance on this machine will be started: set :data:`LOCAL_ENV` first.

    Raises:
        RayNotInstalledError: with how to install it or run without it.
    """
    if local and "ray" not in sys.modules:
        for key, value in LOCAL_ENV.items():
            os.environ.setdefault(key, value)
    try:
        import ray
    except ImportError as exc:
        raise RayNotInstalledError(f"Ray is not installed ({exc}): {INSTALL_HINT}") from exc
    return ray


class RayBackend:
    """Batch tasks on Ray actors.

    Args:
        settings: the batch's settings.
        workers: number of actors; ``None``: as many as the cluster's CPUs (and GPUs) allow.
        address: ``None`` to start a private local instance, else a ``ray.init`` address
            (``auto``, ``ray://host:10001``).
        num_cpus: CPUs reserved by each actor (also its torch threads).
        num_gpus: GPUs reserved by each actor (fractions allowed).

    Raises:
        RayNotInstalledError: Ray is not installed.
        RayClusterError: the address cannot be reached, or the cluster has too few CPUs or GPUs for one worker.
        ValueError: a non-positive ``workers`` or ``num_cpus``, or a negative ``num_gpus``.

    Actors that do not fit the cluster's free resources wait until they do (Ray's scheduling).
    """

    name = "ray"

    def __init__(
        self,
        settings: WorkerSettings,
        workers: int | None = None,
        address: str | None = None,
        num_cpus: int = 1,
        num_gpus: float = 0.0,
    ) -> None:
        if (workers is not None and workers < 1) or num_cpus < 1 or num_gpus < 0:
            raise ValueError(f"need workers >= 1, num_cpus >= 1, num_gpus >= 0; got {workers}, {num_cpus}, {num_gpus}")
        ray = import_ray(local=address is None)
        self._ray = ray
        self._owns = False
        self._actors: list[Any] = []
        if not ray.is_initialized():
            if address is None:
                local_workers = workers or max(1, (os.cpu_count() or 1) // num_cpus)
                ray.init(
                    num_cpus=local_workers * num_cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="WARNING",
                )
            else:
                try:
                    ray.init(address=address, log_to_driver=False, logging_level="WARNING")
                except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
                    raise RayClusterError(f"cannot connect to the Ray cluster at {address}: {one_line(exc)}") from exc
            self._owns = True
        try:
            self.workers = workers or self._fitting_workers(num_cpus, num_gpus)
        except RayClusterError:
            self.close()
            raise
        self._actor_class = ray.remote(BatchWorker).options(
            num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=0, max_task_retries=0
        )
        self.settings = settings
        self._actors = [self._actor_class.remote(settings) for _ in range(self.workers)]
        self._pids = [actor.pid.remote() for actor in self._actors]
        self._load = [0] * self.workers
        self._refs: dict[Any, tuple[int, str, int, Any]] = {}  # ref -> (ticket, input name, slot, actor)
        self.replaced = 0

    def _fitting_workers(self, num_cpus: int, num_gpus: float) -> int:
        resources = self._ray.cluster_resources()
        n = int(resources.get("CPU", 1) // num_cpus)
        if num_gpus > 0:
            n = min(n, int(resources.get("GPU", 0) // num_gpus))
        if n < 1:
            raise RayClusterError(
                f"the Ray cluster has {resources.get('CPU', 0)} CPUs and {resources.get('GPU', 0)} GPUs: "
                f"not enough for one worker with --num-cpus {num_cpus} --num-gpus {num_gpus}"
            )
        return n

    def submit(self, ticket: int, item: BatchInput) -> None:
        """Send ``item`` to the least busy actor."""
        slot = min(range(self.workers), key=lambda i: self._load[i])
        actor = self._actors[slot]
        self._refs[actor.run.remote(item)] = (ticket, item.name, slot, actor)
        self._load[slot] += 1

    def _replace(self, slot: int, dead: Any) -> None:
        if self._actors[slot] is not dead:
            return  # already replaced after an earlier failed call
        with contextlib.suppress(Exception):  # the actor is gone already
            self._ray.kill(dead, no_restart=True)
        self._actors[slot] = self._actor_class.remote(self.settings)
        self._load[slot] = 0
        self._pids[slot] = self._actors[slot].pid.remote()
        self.replaced += 1

    def wait(self, timeout: float | None) -> list[Completion]:
        """Every finished call, after waiting for at least one (or ``timeout`` seconds)."""
        ray = self._ray
        if not self._refs:
            return []
        refs = list(self._refs)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        out = []
        for ref in ready:
            ticket, name, slot, actor = self._refs.pop(ref)
            if self._actors[slot] is actor:
                self._load[slot] -= 1
            try:
                out.append(Completion(ticket, result=ray.get(ref)))
            except ray.exceptions.RayTaskError as exc:  # the call raised inside a live worker
                out.append(Completion(ticket, result=TaskResult(name, False, one_line(exc))))
            except ray.exceptions.RayError as exc:  # the actor or its node died
                self._replace(slot, actor)
                out.append(Completion(ticket, crash=one_line(exc)))
        return out

    def worker_pids(self) -> list[int]:
        """Process ids of the current actors (waits until each has started)."""
        return [int(p) for p in self._ray.get(self._pids)]

    def close(self) -> None:
        """Kill the actors, and shut down the Ray instance this backend started."""
        for actor in self._actors:
            with contextlib.suppress(Exception):  # already dead
                self._ray.kill(actor, no_restart=True)
        self._actors = []
        self._refs.clear()
        if self._owns:
            self._ray.shutdown()
            self._owns = False
