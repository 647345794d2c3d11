"""What a batch did: one :class:`Outcome` per input and the :class:`BatchReport` table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kprtrack.batch.worker import TaskResult

STATUSES = ("done", "failed", "skipped")


@dataclass
class Outcome:
    """The fate of one input.

    Attributes:
        name: the input's name (its prediction file is ``<out>/<name>.json``).
        path: the input.
        status: ``done``, ``failed``, ``skipped`` (already complete), or ``pending`` while scheduled.
        reason: why it failed (one line), or why it was skipped.
        attempts: submissions made (1 without retries).
        frames: frames tracked.
        seconds: wall time of the successful (or last) attempt in its worker.
        worker: ``host:pid`` of the worker of the last attempt.
    """

    name: str
    path: Path
    status: str
    reason: str = ""
    attempts: int = 0
    frames: int = 0
    seconds: float = 0.0
    worker: str = ""

    def finish(self, status: str, reason: str, result: TaskResult | None) -> None:
        """Set the final status, taking frames, time and worker from ``result`` when there is one."""
        self.status, self.reason = status, reason
        if result is not None:
            self.frames, self.seconds, self.worker = result.frames, result.seconds, result.worker


@dataclass
class BatchReport:
    """The whole batch.

    Attributes:
        outcomes: one per input, in input order.
        seconds: wall time of the batch (worker start-up included).
        backend: ``ray`` or ``local``.
        workers: workers used.
    """

    outcomes: list[Outcome]
    seconds: float
    backend: str
    workers: int

    def count(self, status: str) -> int:
        """Inputs with this status."""
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        """The failed inputs."""
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def frames(self) -> int:
        """Frames tracked in this run (skipped inputs not counted)."""
        return sum(o.frames for o in self.outcomes if o.status == "done")

    def frames_per_second(self) -> float:
        """Frames tracked per wall-clock second over the whole batch."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def sequences_per_minute(self) -> float:
        """Inputs done per wall-clock minute."""
        return 60.0 * self.count("done") / self.seconds if self.seconds > 0 else 0.0

    def format(self, max_rows: int = 40) -> str:
        """The final table (every failed input; all rows when there are at most ``max_rows``) and a summary."""
        rows = self.outcomes if len(self.outcomes) <= max_rows else self.failed
        header = ("input", "status", "frames", "frames/s", "tries", "reason")
        cells = [header] + [
            (
                o.name,
                o.status,
                str(o.frames) if o.status == "done" else "-",
                f"{o.frames / o.seconds:.1f}" if o.status == "done" and o.seconds > 0 else "-",
                str(o.attempts) if o.attempts else "-",
                o.reason,
            )
            for o in rows
        ]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in cells]
        if len(rows) < len(self.outcomes):
            lines.append(f"({len(self.outcomes) - len(rows)} rows not shown: done or skipped)")
        lines.append(
            f"done {self.count('done')}, failed {self.count('failed')}, skipped {self.count('skipped')} "
            f"in {self.seconds:.1f} s on {self.workers} {self.backend} worker(s): {self.frames} frames, "
            f"{self.frames_per_second():.2f} frames/s, {self.sequences_per_minute():.2f} sequences/min"
        )
        return "\n".join(line.rstrip() for line in lines)

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly form (written to ``<out>/.kprtrack-batch/report.json``)."""
        return {
            "backend": self.backend,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "counts": {s: self.count(s) for s in STATUSES},
            "frames": self.frames,
            "frames_per_second": round(self.frames_per_second(), 3),
            "sequences_per_minute": round(self.sequences_per_minute(), 3),
            "inputs": [
                {
                    "name": o.name,
                    "path": str(o.path),
                    "status": o.status,
                    "reason": o.reason,
                    "attempts": o.attempts,
                    "frames": o.frames,
                    "seconds": round(o.seconds, 3),
                    "worker": o.worker,
                }
                for o in self.outcomes
            ],
        }
