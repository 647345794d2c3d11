"""Follow runs in one background thread (one at a time: the models use the CPU fully), with progress.

A job goes ``queued`` -> ``running`` -> ``done`` (``follow.json`` and ``overlay.webm`` in its folder) or
``error`` (a one-line message: no person at the clicks, an undecodable frame...).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprtrack.follow.api import FollowRequest, RenderOptions, follow_video
from kprtrack.follow.web.storage import WorkDir, new_id

#: Files a finished job holds (the only names the server serves from a job folder).
RESULT_FILES = {"follow.json": "application/json", "overlay.webm": "video/webm"}


@dataclass
class Job:
    """One follow run.

    Attributes:
        id: 32 hex digits.
        video_id: the followed video.
        state: ``queued``, ``running``, ``done`` or ``error``.
        done, total: frames processed so far, frames of the video.
        error: the error message of a failed job.
        created: ``time.time()`` when submitted.
    """

    id: str
    video_id: str
    request: FollowRequest
    state: str = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    created: float = field(default_factory=time.time)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Status as shown to the page."""
        out: dict[str, Any] = {
            "id": self.id,
            "video_id": self.video_id,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "error": self.error,
            "summary": self.summary,
        }
        if self.state == "done":
            out["files"] = {name: f"/api/jobs/{self.id}/{name}" for name in RESULT_FILES}
        return out


class JobRunner:
    """Runs follow jobs one after the other in a daemon thread.

    Args:
        work: the work dir (job outputs go to ``work.job_dir(id)``).
        max_pending: most jobs queued or running at once; :meth:`submit` refuses more.
    """

    def __init__(self, work: WorkDir, max_pending: int = 4) -> None:
        self.work = work
        self.max_pending = max_pending
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="kprtrack-follow-jobs", daemon=True)
        self._thread.start()

    def submit(self, video_id: str, request: FollowRequest) -> Job:
        """Queue a job (its overlay goes to its folder).

        Raises:
            RuntimeError: ``max_pending`` jobs are already queued or running.
        """
        with self._lock:
            pending = sum(j.state in ("queued", "running") for j in self._jobs.values())
            if pending >= self.max_pending:
                raise RuntimeError(f"{pending} jobs are already waiting; try again when one has finished")
            job = Job(new_id(), video_id, request)
            folder = self.work.job_dir(job.id)
            request.render = RenderOptions(video=folder / "overlay.webm", heatmaps=request.render.heatmaps)
            self._jobs[job.id] = job
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job:
        """A job by id (``KeyError`` if unknown)."""
        with self._lock:
            return self._jobs[job_id]

    def result_path(self, job_id: str, name: str) -> Path:
        """A finished job's result file (``KeyError`` if unknown, unfinished or not a result name)."""
        job = self.get(job_id)
        if job.state != "done" or name not in RESULT_FILES:
            raise KeyError(name)
        return self.work.inside(self.work.job_dir(job.id) / name)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the running job."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        from kprtrack.config import ConfigError
        from kprtrack.follow.clicks import FollowError
        from kprtrack.io.atomic import atomic_write_text
        from kprtrack.video import VideoSourceError
        from kprtrack.weights import WeightsNotFoundError

        job.state = "running"

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            result = follow_video(job.request, progress)
            atomic_write_text(self.work.job_dir(job.id) / "follow.json", result.dumps())
            job.summary = result.to_json()["summary"] | {"prompts_used": result.query["prompts_used"]}
            job.state = "done"
        except (FollowError, ConfigError, VideoSourceError, WeightsNotFoundError, OSError, ValueError) as exc:
            job.error = str(exc)
            job.state = "error"
        except Exception as exc:  # a bug: report it on the page rather than killing the worker
            job.error = f"internal error: {type(exc).__name__}: {exc}"
            job.state = "error"
