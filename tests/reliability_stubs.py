"""Cheap stand-in stages for the reliability matrix, registered under the kind ``reliability_stub``.

The detector puts ``people`` boxes side by side over every frame (scaled to its size, so any frame
size works) and can sleep ``delay`` seconds a frame, which makes a run slow enough to interrupt.
Both come from the environment (``RELIABILITY_STUB_PEOPLE``, ``RELIABILITY_STUB_DELAY``) so a
``kprtrack`` subprocess started with :data:`CLI_CODE` uses them too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from kprtrack.registry import DETECTORS, POSE_ESTIMATORS

KIND = "reliability_stub"

#: a pipeline config using the stubs and the IoU tracker (no model weights at all).
STUB_CONFIG = f"""detector: {{kind: {KIND}, weights: none}}
pose: {{kind: {KIND}, weights: none}}
reid: {{kind: none}}
tracker: {{kind: bytetrack_iou}}
threads: 1
"""

REPO = Path(__file__).resolve().parents[1]

#: ``python -c CLI_CODE run ...`` is ``kprtrack run ...`` with the stubs registered, started as from a
#: terminal: Ctrl-C raises KeyboardInterrupt even if the test runner was started with SIGINT ignored.
CLI_CODE = (
    f"import signal, sys; sys.path.insert(0, {str(REPO)!r}); "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from tests.reliability_stubs import register; register(); "
    "from kprtrack.cli import main; main(prog_name='kprtrack')"
)


class StubDetector:
    """``people`` boxes side by side, scores falling from 0.9 to 0.5."""

    def __init__(self, people: int = 2, delay: float = 0.0) -> None:
        self.people = people
        self.delay = delay

    def detect(self, frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for frame in frames:
            if self.delay:
                time.sleep(self.delay)
            h, w = frame.shape[:2]
            n = self.people
            x1 = np.arange(n) * w / max(n, 1)
            boxes = np.stack([x1, np.full(n, 0.1 * h), x1 + 0.8 * w / max(n, 1), np.full(n, 0.9 * h)], axis=1)
            out.append((boxes.astype(np.float32), np.linspace(0.9, 0.5, n).astype(np.float32)))
        return out


class StubPose:
    """17 joints down the middle of each box, confidence 0.9."""

    keypoint_format = "posetrack21"

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        kps = np.zeros((len(boxes), 17, 3), np.float32)
        kps[:, :, 0] = ((boxes[:, 0] + boxes[:, 2]) / 2)[:, None]
        kps[:, :, 1] = boxes[:, 1:2] + (boxes[:, 3:4] - boxes[:, 1:2]) * np.linspace(0.05, 0.95, 17)[None]
        kps[:, :, 2] = 0.9
        return kps


def build_stub_detector(section: object, context: object) -> StubDetector:
    return StubDetector(
        int(os.environ.get("RELIABILITY_STUB_PEOPLE", "2")), float(os.environ.get("RELIABILITY_STUB_DELAY", "0"))
    )


def build_stub_pose(section: object, context: object) -> StubPose:
    return StubPose()


def register() -> None:
    """Register the stub detector and pose estimator (idempotent)."""
    DETECTORS.register(KIND)(build_stub_detector)
    POSE_ESTIMATORS.register(KIND)(build_stub_pose)


def unregister() -> None:
    """Remove them again."""
    DETECTORS._builders.pop(KIND, None)
    POSE_ESTIMATORS._builders.pop(KIND, None)
