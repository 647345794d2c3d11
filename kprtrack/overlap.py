"""Run a chain of per-item steps in worker threads linked by small bounded queues.

::

    items ──► [thread 1: step 0] ─queue─► [thread 2: step 1] ─queue─► ... ─queue─► caller (in order)

Every step sees the items one at a time and in their order, so a stateful step behaves exactly as
in a plain loop, while step ``k`` of item ``t + 1`` runs at the same time as step ``k + 1`` of item
``t``. This pays off when the steps release the GIL for most of their time (torch, OpenCV and
ONNX Runtime operators do). Each queue holds at most ``queue_size`` items, so memory stays bounded
whatever the number of items.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

#: how long a blocked queue operation waits before checking whether it should stop (seconds).
POLL_S = 0.05

_END = object()


@dataclass
class _Failure:
    """An exception raised by the items' iterator or by a step, travelling down the chain in order."""

    error: BaseException


def run_in_threads(
    items: Iterable[Any],
    steps: Sequence[Callable[[Any], Any]],
    queue_size: int = 2,
    name: str = "kprtrack-stage",
) -> Iterator[Any]:
    """Yield ``steps[-1](... steps[0](item))`` for every item, in order, each step in its own thread.

    Args:
        items: the inputs; iterated by the first step's thread only.
        steps: one callable per thread (at least one).
        queue_size: items waiting between two steps at most.
        name: thread name prefix (``name-0``, ``name-1``, ...).

    Yields:
        The last step's result of each item, in the items' order.

    Raises:
        ValueError: no step, or ``queue_size < 1``.
        BaseException: whatever iterating ``items`` or a step raised, re-raised here after the
            results of all earlier items were yielded (the later items are dropped).

    Closing the generator (or an exception in the caller's loop) stops the threads: each finishes
    the item in hand and exits; the generator returns once all have, so ``items`` may be closed
    afterwards.
    """
    if not steps:
        raise ValueError("run_in_threads: at least one step is needed")
    if queue_size < 1:
        raise ValueError(f"run_in_threads: queue_size must be >= 1, got {queue_size}")
    stop = threading.Event()
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=queue_size) for _ in steps]

    def put(q: queue.Queue[Any], value: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(value, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def get(q: queue.Queue[Any]) -> Any:
        while not stop.is_set():
            try:
                return q.get(timeout=POLL_S)
            except queue.Empty:
                continue
        return _END

    def feed(step: Callable[[Any], Any], out: queue.Queue[Any]) -> None:
        try:
            for item in items:
                if stop.is_set() or not put(out, step(item)):
                    return
        except BaseException as exc:  # handed to the caller, in order
            put(out, _Failure(exc))
            return
        put(out, _END)

    def relay(step: Callable[[Any], Any], inbox: queue.Queue[Any], out: queue.Queue[Any]) -> None:
        while True:
            item = get(inbox)
            if item is _END or isinstance(item, _Failure):
                put(out, item)
                return
            try:
                result = step(item)
            except BaseException as exc:  # handed to the caller, in order
                put(out, _Failure(exc))
                return
            if not put(out, result):
                return

    threads = [threading.Thread(target=feed, args=(steps[0], queues[0]), name=f"{name}-0", daemon=True)]
    threads += [
        threading.Thread(target=relay, args=(steps[i], queues[i - 1], queues[i]), name=f"{name}-{i}", daemon=True)
        for i in range(1, len(steps))
    ]
    for thread in threads:
        thread.start()
    try:
        while True:
            try:
                item = queues[-1].get(timeout=POLL_S)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()
