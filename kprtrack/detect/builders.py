"""Detector builders registered with :data:`kprtrack.registry.DETECTORS` (heavy imports inside each builder)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kprtrack.errors import naming_checkpoint
from kprtrack.registry import BuildContext, register_detector
from kprtrack.weights import checkpoint_path, random_variant

if TYPE_CHECKING:
    from kprtrack.detect.ultralytics_backend import UltralyticsDetector
    from kprtrack.pipeline_config import DetectorSection
    from kprtrack.stages import Detector


@register_detector("yolox")
def build_yolox_detector(section: DetectorSection, context: BuildContext) -> Detector:
    """Native YOLOX from a Megvii/mmdet checkpoint, or a random variant (``weights: random:yolox_x``)."""
    from kprtrack.detect.detector import YOLOXDetector

    config = context.config
    options = {
        "input_size": tuple(section.input_size) if section.input_size else None,
        "conf_threshold": section.score_threshold,
        "nms_threshold": section.nms_threshold,
        "device": config.device,
        "fp16": config.dtype == "float16",
        "backend": section.backend,
    }
    variant = random_variant(section.weights)
    if variant is not None:
        return YOLOXDetector.from_variant(variant, **options)
    path = checkpoint_path(section.weights)
    with naming_checkpoint(path, "detector.weights"):
        return YOLOXDetector.from_checkpoint(path, **options)


def ultralytics_model(context: BuildContext) -> UltralyticsDetector:
    """The one ultralytics model of a pipeline (it gives boxes, and keypoints for a YOLO-pose model)."""

    def make() -> UltralyticsDetector:
        from kprtrack.detect.ultralytics_backend import UltralyticsDetector

        section = context.config.detector
        options = {"conf_threshold": section.score_threshold, "iou_threshold": section.nms_threshold}
        if section.input_size is not None:
            options["imgsz"] = max(section.input_size)
        return UltralyticsDetector(
            checkpoint_path(section.weights, must_exist=False),
            device=context.config.device,
            half=context.config.dtype == "float16",
            **{k: v for k, v in options.items() if v is not None},
        )

    return context.shared_object("ultralytics", make)


@register_detector("ultralytics")
def build_ultralytics_detector(section: DetectorSection, context: BuildContext) -> Detector:
    """Any ultralytics model (``weights``: its ``.pt`` file or model YAML)."""
    return ultralytics_model(context)
