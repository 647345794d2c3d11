"""Person detection: native YOLOX (Megvii/mmdet checkpoints) and an optional ultralytics backend.

Heavy modules load lazily: ``from kprtrack.detect import YOLOXDetector`` imports torch only then.
"""

from __future__ import annotations

from kprtrack.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        ".model": ("YOLOX", "YOLOXArch"),
        ".detector": ("YOLOXDetector", "YOLOXDetectorConfig"),
        ".variants": (
            "VARIANTS",
            "BUILDERS",
            "build_yolox",
            "build_yolox_nano",
            "build_yolox_tiny",
            "build_yolox_s",
            "build_yolox_m",
            "build_yolox_l",
            "build_yolox_x",
        ),
        ".weights": ("load_yolox", "save_megvii_checkpoint"),
        ".ultralytics_backend": ("UltralyticsDetector",),
    },
)
