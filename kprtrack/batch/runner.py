"""Run a batch: plan the resume, start a backend, schedule, and write the report (``kprtrack batch``)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kprtrack.batch.inputs import BatchInput
from kprtrack.batch.report import BatchReport, Outcome
from kprtrack.batch.resume import MANIFEST_DIR, plan_resume, settings_fingerprint
from kprtrack.batch.scheduler import Backend, BatchEvent, schedule
from kprtrack.batch.worker import WorkerSettings

BACKENDS = ("ray", "local")


@dataclass
class BatchOptions:
    """How to run a batch.

    Attributes:
        out_dir: output folder: ``<name>.json`` per input, manifests and ``report.json`` in ``.kprtrack-batch/``.
        config: config file or name in ``configs/`` (``None``: defaults).
        overrides: ``key=value`` config overrides.
        start, end, max_frames: frame range of every input.
        backend: ``ray`` (an actor pool) or ``local`` (a process pool on this machine).
        address: Ray address (``auto``, ``ray://host:10001``); ``None`` starts a private local instance.
        workers: number of workers; ``None``: this machine's cores (or the cluster's CPUs) / ``num_cpus``.
        num_cpus: CPUs per worker, also its torch threads.
        num_gpus: GPUs per worker (Ray only).
        max_retries: resubmissions of a task whose worker died.
        error_retries: resubmissions of a task that raised an error.
        max_in_flight: tasks submitted at once (default twice the workers).
        force: redo inputs whose outputs are complete.
    """

    out_dir: Path
    config: str | Path | None = None
    overrides: list[str] = field(default_factory=list)
    start: int = 0
    end: int | None = None
    max_frames: int | None = None
    backend: str = "ray"
    address: str | None = None
    workers: int | None = None
    num_cpus: int = 1
    num_gpus: float = 0.0
    max_retries: int = 2
    error_retries: int = 0
    max_in_flight: int | None = None
    force: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "local" and (self.address is not None or self.num_gpus > 0):
            raise ValueError("--address and --num-gpus need the Ray backend (not --local)")
        if self.num_cpus < 1 or (self.workers is not None and self.workers < 1):
            raise ValueError(f"num_cpus and workers must be >= 1, got {self.num_cpus} and {self.workers}")


def _config_for_workers(config: str | Path | None) -> str | None:
    """A config file as an absolute path (workers may run elsewhere); a config name unchanged."""
    if config is None:
        return None
    path = Path(config)
    return str(path.resolve()) if path.is_file() else str(config)


def make_backend(options: BatchOptions, settings: WorkerSettings) -> Backend:
    """The backend ``options`` ask for (Ray is imported only here).

    Raises:
        RayNotInstalledError: the Ray backend is asked for and Ray is missing.
        RayClusterError: the Ray cluster cannot be reached or cannot hold one worker.
    """
    if options.backend == "local":
        from kprtrack.batch.local import LocalBackend

        return LocalBackend(settings, options.workers or max(1, (os.cpu_count() or 1) // options.num_cpus))
    from kprtrack.batch.ray_backend import RayBackend

    return RayBackend(settings, options.workers, options.address, options.num_cpus, options.num_gpus)


def run_batch(
    inputs: list[BatchInput], options: BatchOptions, on_event: Callable[[BatchEvent], None] | None = None
) -> BatchReport:
    """Track every input not already complete and write ``<out>/.kprtrack-batch/report.json``.

    Args:
        inputs: from :func:`kprtrack.batch.inputs.discover_inputs`.
        options: how to run.
        on_event: called with a ``skipped`` event per complete input, then the scheduler's events.

    Returns:
        The report; failed inputs are in it (this function raises only for problems of the whole batch).

    Raises:
        ConfigError: the config cannot be loaded.
        OSError: the output folder cannot be written.
        RayNotInstalledError: the Ray backend is asked for and Ray is missing.
        RayClusterError: the Ray cluster cannot be reached or cannot hold one worker.
    """
    from kprtrack.io.atomic import atomic_write_text, check_writable

    out_dir = options.out_dir.expanduser().resolve()
    check_writable(out_dir / MANIFEST_DIR / "report.json")
    fingerprint = settings_fingerprint(
        options.config, options.overrides, options.start, options.end, options.max_frames
    )
    settings = WorkerSettings(
        out_dir=out_dir,
        config=_config_for_workers(options.config),
        overrides=tuple(options.overrides),
        threads=options.num_cpus,
        start=options.start,
        end=options.end,
        max_frames=options.max_frames,
        fingerprint=fingerprint,
    )
    t0 = time.perf_counter()
    plan = plan_resume(out_dir, inputs, fingerprint, options.force)
    outcomes: dict[str, Outcome] = {}
    for item in plan.complete:
        outcomes[item.name] = Outcome(item.name, item.path, "skipped", "complete")
        if on_event is not None:
            on_event(BatchEvent("skipped", outcomes[item.name]))
    backend_name, workers = options.backend, 0
    if plan.todo:
        backend = make_backend(options, settings)
        backend_name, workers = backend.name, backend.workers
        try:
            ran = schedule(
                backend, plan.todo, options.max_retries, options.error_retries, options.max_in_flight, on_event
            )
        finally:
            backend.close()
        outcomes.update((o.name, o) for o in ran)
    report = BatchReport([outcomes[item.name] for item in inputs], time.perf_counter() - t0, backend_name, workers)
    atomic_write_text(out_dir / MANIFEST_DIR / "report.json", json.dumps(report.to_json(), indent=1) + "\n")
    return report
