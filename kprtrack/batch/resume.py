"""Resuming a batch: which outputs are already complete, and the sidecar manifest that says so.

An input counts as complete when

1. its prediction file ``<out>/<name>.json`` exists and is a valid PoseTrack21 prediction file
   (:func:`kprtrack.io.posetrack21.read_predictions`), and
2. its manifest ``<out>/.kprtrack-batch/<name>.json`` (written by the worker right after the
   prediction file) names the same input path and the same *settings fingerprint*: a hash of the
   resolved pipeline configuration (without ``threads``, which does not change results), the frame
   range and the kprtrack version.

So a rerun skips finished work, redoes anything interrupted, and never silently keeps results made
with another configuration. The manifest folder is hidden, so ``kprtrack eval --pred <out>`` sees
only prediction files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprtrack.batch.inputs import BatchInput
from kprtrack.io.atomic import atomic_write_text

MANIFEST_DIR = ".kprtrack-batch"


def settings_fingerprint(
    config: str | Path | None, overrides: list[str], start: int, end: int | None, max_frames: int | None
) -> str:
    """Hash of everything that changes a video's predictions: the resolved config, frame range and version.

    Raises:
        ConfigError: the config cannot be loaded (unknown key or kind, missing file).
    """
    from kprtrack import __version__
    from kprtrack.config import dataclass_to_dict
    from kprtrack.pipeline_config import load_pipeline_config

    resolved = dataclass_to_dict(load_pipeline_config(config, list(overrides)))
    resolved.pop("threads", None)  # speed only
    doc = {"config": resolved, "frames": [start, end, max_frames], "kprtrack": __version__}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prediction_path(out_dir: Path, item: BatchInput) -> Path:
    """``<out>/<name>.json``."""
    return out_dir / f"{item.name}.json"


def manifest_path(out_dir: Path, item: BatchInput) -> Path:
    """``<out>/.kprtrack-batch/<name>.json``."""
    return out_dir / MANIFEST_DIR / f"{item.name}.json"


def write_manifest(out_dir: Path, item: BatchInput, fingerprint: str, frames: int, seconds: float) -> None:
    """Record (atomically) that ``item``'s prediction file is complete for ``fingerprint``."""
    doc = {
        "input": str(item.path),
        "fingerprint": fingerprint,
        "frames": frames,
        "seconds": round(seconds, 3),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(manifest_path(out_dir, item), json.dumps(doc, indent=1) + "\n")


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def completion_state(out_dir: Path, item: BatchInput, fingerprint: str) -> str:
    """Why ``item`` must run (``missing``, ``invalid``, ``no manifest``, ``other input``,
    ``settings changed``), or ``complete``."""
    from kprtrack.io.posetrack21 import PoseTrackFormatError, read_predictions

    pred = prediction_path(out_dir, item)
    if not pred.is_file():
        return "missing"
    manifest = _read_manifest(manifest_path(out_dir, item))
    if manifest is None:
        return "no manifest"
    if manifest.get("input") != str(item.path):
        return "other input"
    if manifest.get("fingerprint") != fingerprint:
        return "settings changed"
    try:
        read_predictions(pred)
    except (OSError, PoseTrackFormatError):
        return "invalid"
    return "complete"


def forget(out_dir: Path, item: BatchInput) -> int:
    """Before ``item`` runs again: delete its manifest (until the new run completes, its old prediction
    file does not count as complete) and the temporary files a killed worker left (``.<name>.json.*.tmp``).

    Returns:
        The number of temporary files removed.
    """
    with contextlib.suppress(FileNotFoundError):
        manifest_path(out_dir, item).unlink()
    removed = 0
    for folder in (out_dir, out_dir / MANIFEST_DIR):
        if folder.is_dir():
            for tmp in folder.glob(f".{item.name}.json.*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                    removed += 1
    return removed


@dataclass
class ResumePlan:
    """Inputs to run and inputs already complete.

    Attributes:
        todo: inputs to run, in input order.
        complete: inputs whose outputs are complete (skipped).
        reasons: name -> why an input of ``todo`` runs (``missing``, ``settings changed``, ``forced``...).
    """

    todo: list[BatchInput] = field(default_factory=list)
    complete: list[BatchInput] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)


def plan_resume(out_dir: Path, inputs: list[BatchInput], fingerprint: str, force: bool = False) -> ResumePlan:
    """Split ``inputs`` into those to run and those already complete (all run with ``force``).

    The inputs to run are :func:`forget`-ed: manifest and stale temporary files removed.
    """
    plan = ResumePlan()
    for item in inputs:
        state = "forced" if force else completion_state(out_dir, item, fingerprint)
        if state == "complete":
            plan.complete.append(item)
            continue
        forget(out_dir, item)
        plan.todo.append(item)
        plan.reasons[item.name] = state
    return plan
