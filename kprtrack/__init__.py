"""kprtrack: online multi-person pose tracking with Keypoint Promptable Re-Identification.

The pipeline, per frame and online: a YOLOX person detector, an HRNet top-down pose
estimator, the KPR part-based re-identification encoder, and a ByteTrack-style tracker
that associates detections on the visibility-weighted KPR part distance.

Heavy modules (torch models) are imported lazily so that ``import kprtrack`` and
``kprtrack --help`` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["FrameRecord", "Pipeline", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "FrameRecord":
        from kprtrack.structures import FrameRecord

        return FrameRecord
    if name == "Pipeline":
        from kprtrack.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'kprtrack' has no attribute {name!r}")
