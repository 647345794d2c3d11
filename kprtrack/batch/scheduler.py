"""Backend-agnostic scheduling: bounded submission, retries, and one outcome per input.

A :class:`Backend` runs :class:`~kprtrack.batch.worker.BatchWorker` tasks somewhere (Ray actors,
a local process pool). :func:`schedule` keeps at most ``max_in_flight`` tasks submitted (so memory
stays bounded with thousands of inputs), and tells two kinds of failure apart:

* a **crash**: the worker died (killed, out of memory, node lost). The task did nothing wrong and
  is submitted again, up to ``max_retries`` times;
* an **error**: the task raised (a corrupt video, a missing weights file). It is retried only
  ``error_retries`` times (default 0) and then reported as failed with its one-line reason.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kprtrack.batch.inputs import BatchInput
from kprtrack.batch.report import Outcome
from kprtrack.batch.worker import TaskResult


@dataclass(frozen=True)
class Completion:
    """A finished submission: the worker's result, or why the worker was lost.

    Attributes:
        ticket: what :meth:`Backend.submit` returned for it.
        result: the worker's result (``None`` when the worker crashed).
        crash: one-line description of the worker's death (empty when ``result`` is set).
    """

    ticket: int
    result: TaskResult | None = None
    crash: str = ""


class Backend(Protocol):
    """Where batch tasks run.

    Attributes:
        name: ``ray`` or ``local``, for reports.
        workers: number of workers (tasks that run at the same time).
    """

    name: str
    workers: int

    def submit(self, ticket: int, item: BatchInput) -> None:
        """Start ``item`` on some worker; its :class:`Completion` will carry ``ticket``."""

    def wait(self, timeout: float | None) -> list[Completion]:
        """Block until at least one submission finished (or ``timeout`` seconds passed); return all finished."""

    def close(self) -> None:
        """Stop the workers (and anything the backend started)."""


@dataclass(frozen=True)
class BatchEvent:
    """A change the scheduler reports (for progress bars and logs).

    Attributes:
        kind: ``done``, ``failed`` (final), or ``retry`` (the input is submitted again).
        outcome: the input's outcome so far.
    """

    kind: str
    outcome: Outcome


def schedule(
    backend: Backend,
    items: list[BatchInput],
    max_retries: int = 2,
    error_retries: int = 0,
    max_in_flight: int | None = None,
    on_event: Callable[[BatchEvent], None] | None = None,
) -> list[Outcome]:
    """Run every item on ``backend`` and return one final outcome per item, in input order.

    Args:
        backend: where tasks run.
        items: the inputs to run.
        max_retries: resubmissions of a task whose worker died.
        error_retries: resubmissions of a task that failed with an error.
        max_in_flight: tasks submitted at once (default: twice the backend's workers).
        on_event: called with every :class:`BatchEvent`.

    Raises:
        ValueError: a negative retry count or a non-positive ``max_in_flight``.
    """
    if max_retries < 0 or error_retries < 0:
        raise ValueError(f"retry counts must be >= 0, got max_retries={max_retries}, error_retries={error_retries}")
    limit = max_in_flight if max_in_flight is not None else 2 * max(backend.workers, 1)
    if limit < 1:
        raise ValueError(f"max_in_flight must be >= 1, got {limit}")
    outcomes = [Outcome(item.name, item.path, "pending") for item in items]
    crashes = [0] * len(items)
    errors = [0] * len(items)
    pending: deque[int] = deque(range(len(items)))
    in_flight: set[int] = set()

    def emit(kind: str, index: int) -> None:
        if on_event is not None:
            on_event(BatchEvent(kind, outcomes[index]))

    while pending or in_flight:
        while pending and len(in_flight) < limit:
            index = pending.popleft()
            outcomes[index].attempts += 1
            backend.submit(index, items[index])
            in_flight.add(index)
        for done in backend.wait(timeout=None):
            index = done.ticket
            in_flight.discard(index)
            outcome = outcomes[index]
            result = done.result
            if result is not None and result.ok:
                outcome.finish("done", "", result)
                emit("done", index)
                continue
            if result is None:
                crashes[index] += 1
                retry = crashes[index] <= max_retries
                reason = f"worker died {crashes[index]} time(s): {done.crash}"
            else:
                errors[index] += 1
                retry = errors[index] <= error_retries
                reason = result.error
            outcome.reason = reason
            if retry:
                pending.appendleft(index)  # retried first, so a retry does not wait behind thousands of inputs
                emit("retry", index)
            else:
                outcome.finish("failed", reason, result)
                emit("failed", index)
    return outcomes

