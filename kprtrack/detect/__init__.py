"""Person detection: native YOLOX (Megvii/mmdet checkpoints) and an optional ultralytics backend.

Heavy modules load lazily: ``from kprtrack.detect import YOLOXDetector`` imports torch only then.
"""

from __future__ import annotations

from kprtrack.lazy import lazy_getattr

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


__getattr__ = lazy_getattr("kprtrack.detect", _EXPORTS)
