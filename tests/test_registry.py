"""Stage registries: kinds register themselves, one assembly path builds every pipeline, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.assembly import build_pipeline
from kprtrack.config import ConfigError
from kprtrack.pipeline_config import PipelineConfig, load_pipeline_config
from kprtrack.registry import DETECTORS, EMBEDDERS, POSE_ESTIMATORS, TRACKERS, BuildContext, Registry
from kprtrack.stages import Detector, PoseEstimator, Tracker


def test_every_stage_lists_its_kinds():
    assert {"yolox", "ultralytics", "oracle"} <= set(DETECTORS.kinds())
    assert {"hrnet", "mmpose", "ultralytics", "oracle"} <= set(POSE_ESTIMATORS.kinds())
    assert {"kpr", "omz", "none"} <= set(EMBEDDERS.kinds())
    assert {"kprtrack", "bytetrack_iou"} <= set(TRACKERS.kinds())


def test_unknown_kind_names_the_section_and_the_known_kinds():
    with pytest.raises(ConfigError, match=r"detector\.kind: 'yolov9' is not one of .*yolox"):
        load_pipeline_config(None, ["detector.kind=yolov9"])
    with pytest.raises(ConfigError, match=r"reid\.kind: 'osnet'"):
        load_pipeline_config("demo", ["reid.kind=osnet"])
    with pytest.raises(ConfigError, match=r"pose\.kind: 'vitpose'"):
        POSE_ESTIMATORS.get("vitpose")  # what build_pipeline asks for a PipelineConfig built in Python


def test_a_kind_cannot_be_registered_twice():
    registry: Registry = Registry("detector")
    registry.register("a")(lambda section, context: None)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a")(lambda section, context: None)


def test_impossible_combinations_are_config_errors():
    with pytest.raises(ConfigError, match="needs appearance"):
        load_pipeline_config("demo", ["reid.kind=none"])
    with pytest.raises(ConfigError, match="pose.kind ultralytics needs detector.kind ultralytics"):
        load_pipeline_config("demo", ["pose.kind=ultralytics"])


class _StaticDetector:
    """Two fixed people in every frame."""

    def detect(self, frames):
        boxes = np.array([[10, 10, 60, 150], [100, 20, 150, 160]], np.float32)
        return [(boxes, np.array([0.9, 0.8], np.float32)) for _ in frames]


def test_a_new_detector_registers_itself_and_the_one_assembly_path_builds_it():
    @DETECTORS.register("test_static")
    def build_static(section, context: BuildContext) -> Detector:
        assert context.config.detector is section
        return _StaticDetector()

    try:
        config = load_pipeline_config("demo", ["detector.kind=test_static"])
        pipeline = build_pipeline(config, frame_rate=10)
        assert isinstance(pipeline.detector, _StaticDetector)
        assert isinstance(pipeline.pose, PoseEstimator) and isinstance(pipeline.tracker, Tracker)
        frame = np.zeros((200, 200, 3), np.uint8)
        records = [pipeline.process(frame, t) for t in range(3)]
        assert [len(r) for r in records] == [2, 2, 2]
        assert records[-1].embeddings is not None
    finally:
        DETECTORS._builders.pop("test_static")


def test_shared_objects_are_built_once():
    context = BuildContext(PipelineConfig())
    made = []
    first = context.shared_object("model", lambda: made.append(1) or object())
    assert context.shared_object("model", lambda: made.append(1) or object()) is first
    assert made == [1]
