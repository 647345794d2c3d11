"""What runs inside a batch worker (a Ray actor or a pool process): one video at a time, models kept loaded.

:class:`BatchWorker` is backend-agnostic: the Ray backend wraps it in an actor, the local backend
keeps one per pool process. A failing video never raises out of :meth:`BatchWorker.run`: it comes
back as a :class:`TaskResult` with a one-line reason, so an application error (a corrupt video)
and a dead worker (killed, out of memory) are told apart by the scheduler.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from kprtrack.batch.inputs import BatchInput
from kprtrack.batch.pipeline_cache import PipelineCache


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker needs besides the input: the same for every task of a batch.

    Attributes:
        out_dir: the output folder (absolute; shared storage on a cluster).
        config: config file (absolute) or name in ``configs/``; ``None`` for the defaults.
        overrides: ``key=value`` config overrides (``threads=`` is set from ``threads``).
        threads: torch CPU threads of this worker (``--num-cpus``).
        start, end, max_frames: frame range of every input.
        fingerprint: the settings fingerprint recorded in each manifest (:mod:`kprtrack.batch.resume`).
    """

    out_dir: Path
    config: str | None
    overrides: tuple[str, ...]
    threads: int
    start: int
    end: int | None
    max_frames: int | None
    fingerprint: str


@dataclass(frozen=True)
class TaskResult:
    """What one task did.

    Attributes:
        name: the input's name.
        ok: the prediction file (and manifest) were written.
        error: ``ExceptionType: message`` (one line) when not ``ok``.
        frames: frames tracked.
        seconds: tracking time of the video in the worker (model loading not included).
        worker: ``host:pid`` of the worker process.
        builds: how often this worker has built its models so far.
    """

    name: str
    ok: bool
    error: str = ""
    frames: int = 0
    seconds: float = 0.0
    worker: str = ""
    builds: int = 0


def one_line(exc: BaseException) -> str:
    """``ExceptionType: first line of the message`` (at most 300 characters)."""
    lines = str(exc).strip().splitlines()
    return (f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__)[:300]


class BatchWorker:
    """Tracks videos one after the other with models loaded once, on ``settings.threads`` torch and OpenCV threads.

    Args:
        settings: the batch's settings.
    """

    def __init__(self, settings: WorkerSettings) -> None:
        import cv2
        import torch

        torch.set_num_threads(settings.threads)
        cv2.setNumThreads(settings.threads)  # OpenCV's resize/warp pools would otherwise use every core
        self.settings = settings
        self.cache = PipelineCache()
        self.identity = f"{socket.gethostname()}:{os.getpid()}"

    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()

    def run(self, item: BatchInput) -> TaskResult:
        """Track ``item`` and write ``<out>/<name>.json`` and its manifest (both atomically).

        Returns:
            The result; exceptions of the video's processing are caught and returned as ``error``.
        """
        from kprtrack.batch.resume import prediction_path, write_manifest
        from kprtrack.run import RunOptions, run_video

        s = self.settings
        try:
            summary = run_video(
                RunOptions(
                    video=item.path,
                    out=prediction_path(s.out_dir, item),
                    config=s.config,
                    overrides=[*s.overrides, f"threads={s.threads}"],
                    start=s.start,
                    end=s.end,
                    max_frames=s.max_frames,
                ),
                build_pipeline=self.cache,
            )
            write_manifest(s.out_dir, item, s.fingerprint, summary.frames, summary.seconds)
        except Exception as exc:  # a bad input must not take the worker down: report it
            return TaskResult(item.name, False, one_line(exc), worker=self.identity, builds=self.cache.builds)
        return TaskResult(item.name, True, "", summary.frames, summary.seconds, self.identity, self.cache.builds)
