"""Person detection: native YOLOX (Megvii/mmdet checkpoints) and an optional ultralytics backend.

Heavy modules load lazily: ``from kprtrack.detect import YOLOXDetector`` imports torch only then.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "YOLOX": "kprtrack.detect.model",
    "YOLOXArch": "kprtrack.detect.model",
    "YOLOXDetector": "kprtrack.detect.detector",
    "YOLOXDetectorConfig": "kprtrack.detect.detector",
    "VARIANTS": "kprtrack.detect.variants",
    "BUILDERS": "kprtrack.detect.variants",
    "build_yolox": "kprtrack.detect.variants",
    "build_yolox_nano": "kprtrack.detect.variants",
    "build_yolox_tiny": "kprtrack.detect.variants",
    "build_yolox_s": "kprtrack.detect.variants",
    "build_yolox_m": "kprtrack.detect.variants",
    "build_yolox_l": "kprtrack.detect.variants",
    "build_yolox_x": "kprtrack.detect.variants",
    "load_yolox": "kprtrack.detect.weights",
    "save_megvii_checkpoint": "kprtrack.detect.weights",
    "UltralyticsDetector": "kprtrack.detect.ultralytics_backend",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kprtrack.detect' has no attribute {name!r}")
