"""Build the pipeline's stages from a :class:`PipelineConfig` (imports each backend only when used)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kprtrack.config import ConfigError
from kprtrack.pipeline import Pipeline
from kprtrack.pipeline_config import PipelineConfig


def _oracle(gt_path: str | Path | None, cache: dict[str, Any]) -> Any:
    from kprtrack.oracle import GroundTruthOracle

    if gt_path is None:
        raise ConfigError(
            "oracle stages need the sequence's ground truth (--gt FILE, or a PoseTrack21 sequence folder)"
        )
    if "oracle" not in cache:
        cache["oracle"] = GroundTruthOracle(gt_path)
    return cache["oracle"]


def build_detector(config: PipelineConfig, gt_path: str | Path | None = None, cache: dict | None = None) -> Any:
    """The configured person detector."""
    cache = {} if cache is None else cache
    section = config.detector
    if section.kind == "oracle":
        return _oracle(gt_path, cache)
    raise ConfigError(f"detector.kind {section.kind!r} is not available in this build")


def build_pose(config: PipelineConfig, gt_path: str | Path | None = None, cache: dict | None = None) -> Any:
    """The configured pose estimator."""
    cache = {} if cache is None else cache
    section = config.pose
    if section.kind == "oracle":
        return _oracle(gt_path, cache)
    raise ConfigError(f"pose.kind {section.kind!r} is not available in this build")


def build_embedder(config: PipelineConfig) -> Any | None:
    """The configured re-identification embedder, or ``None`` for ``reid.kind: none``."""
    if config.reid.kind == "none":
        if config.tracker.kind == "kprtrack":
            raise ConfigError("tracker.kind kprtrack needs appearance: set reid.kind to kpr (or use bytetrack_iou)")
        return None
    from kprtrack.reid import KPREmbedder
    from kprtrack.weights import resolve

    path = resolve(config.reid.weights)
    return KPREmbedder.from_checkpoint(
        path,
        device=config.device,
        dtype=config.dtype,
        use_prompts=config.reid.use_prompts,
        max_batch=config.reid.batch_size,
        keypoint_format=_pose_keypoint_format(config),
    )


def _pose_keypoint_format(config: PipelineConfig) -> str:
    """Keypoint convention the configured pose stage produces (what KPR receives as prompts)."""
    if config.pose.kind == "oracle":
        return "posetrack21"
    if config.pose.kind in ("hrnet", "mmpose"):
        from kprtrack.weights import load_manifest

        entry = load_manifest().get(config.pose.weights)
        if entry is not None and entry.keypoint_format:
            return entry.keypoint_format
    return "coco17"


def build_tracker(config: PipelineConfig, frame_rate: float = 30.0) -> Any:
    """The configured tracker for a video of ``frame_rate`` fps."""
    from kprtrack.track import build_tracker as _build

    return _build(config.tracker.build_config(), frame_rate=frame_rate)


def build_pipeline(config: PipelineConfig, frame_rate: float = 30.0, gt_path: str | Path | None = None) -> Pipeline:
    """All stages of ``config`` assembled into a :class:`Pipeline`.

    Args:
        config: the pipeline configuration.
        frame_rate: the video's frame rate (scales the tracker's lost-track buffer).
        gt_path: ground truth for oracle stages.
    """
    cache: dict[str, Any] = {}
    return Pipeline(
        detector=build_detector(config, gt_path, cache),
        pose=build_pose(config, gt_path, cache),
        embedder=build_embedder(config),
        tracker=build_tracker(config, frame_rate),
        max_people=config.max_people,
    )
