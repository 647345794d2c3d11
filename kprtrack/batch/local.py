"""The local backend (``kprtrack batch --local``): a :class:`concurrent.futures.ProcessPoolExecutor`.

Each pool process holds one :class:`~kprtrack.batch.worker.BatchWorker` (models loaded on its first
video, kept for the next). Processes are started with ``spawn``: a fork of a parent that has already
run torch can deadlock in its thread pools. When a worker process dies, the executor fails every
submission in flight with ``BrokenProcessPool``; they all come back as crashes (the scheduler
resubmits them) and a fresh pool is started for the next submission. A worker whose parent is gone
(the batch was killed) exits within a second instead of finishing its video as an orphan.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool

from kprtrack.batch.inputs import BatchInput
from kprtrack.batch.scheduler import Completion
from kprtrack.batch.worker import BatchWorker, TaskResult, WorkerSettings, one_line

_WORKER: BatchWorker | None = None

#: How often a worker checks that the batch process is still alive, in seconds.
PARENT_POLL_S = 1.0


def _exit_with_parent(parent: int) -> None:
    """Exit this worker process as soon as its parent ``parent`` has died (it was killed, e.g. by SIGTERM)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _init_worker(settings: WorkerSettings) -> None:
    global _WORKER
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="kprtrack-parent-watch", daemon=True).start()
    _WORKER = BatchWorker(settings)


def _run(item: BatchInput) -> TaskResult:
    if _WORKER is None:  # pragma: no cover - the pool's initializer always ran
        raise RuntimeError("batch worker not initialised")
    return _WORKER.run(item)


class LocalBackend:
    """Batch tasks on ``workers`` processes of this machine.

    Args:
        settings: the batch's settings.
        workers: number of processes.

    Raises:
        ValueError: ``workers`` < 1.
    """

    name = "local"

    def __init__(self, settings: WorkerSettings, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.settings = settings
        self.workers = workers
        self._pool: cf.ProcessPoolExecutor | None = None
        self._futures: dict[cf.Future, tuple[int, cf.ProcessPoolExecutor]] = {}
        self.pools_started = 0

    def _ensure_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.settings,),
            )
            self.pools_started += 1
        return self._pool

    def submit(self, ticket: int, item: BatchInput) -> None:
        """Queue ``item`` in the pool (a broken pool is replaced first)."""
        try:
            pool = self._ensure_pool()
            future = pool.submit(_run, item)
        except BrokenProcessPool:
            self._drop_pool(self._pool)
            pool = self._ensure_pool()
            future = pool.submit(_run, item)
        self._futures[future] = (ticket, pool)

    def _drop_pool(self, pool: cf.ProcessPoolExecutor | None) -> None:
        """Shut ``pool`` down and forget it if it is the current one (an older broken pool is already gone)."""
        if pool is not None and pool is self._pool:
            pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def wait(self, timeout: float | None) -> list[Completion]:
        """Every finished submission, after waiting for at least one (or ``timeout`` seconds)."""
        if not self._futures:
            return []
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out = []
        for future in done:
            ticket, pool = self._futures.pop(future)
            try:
                out.append(Completion(ticket, result=future.result()))
            except BrokenProcessPool as exc:
                self._drop_pool(pool)
                out.append(Completion(ticket, crash=one_line(exc)))
            except Exception as exc:  # the task could not be sent or its result not received
                out.append(Completion(ticket, crash=one_line(exc)))
        return out

    def close(self) -> None:
        """Cancel what has not started and stop the processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures.clear()
