"""The one way a pipeline is put together: each config section's ``kind`` looked up in its stage registry.

::

    PipelineConfig ──► detector ─► pose ─► embedder ─► tracker ──► Pipeline
                       (DETECTORS) (POSE_ESTIMATORS) (EMBEDDERS) (TRACKERS)   kprtrack.registry

Random-weight pipelines (wiring tests, speed benchmarks) go the same way, with ``random:<variant>``
weights in their config (``configs/bench/full_random.yaml``).
"""

from __future__ import annotations

from pathlib import Path

from kprtrack.config import ConfigError
from kprtrack.pipeline import Pipeline
from kprtrack.pipeline_config import PipelineConfig
from kprtrack.registry import DETECTORS, EMBEDDERS, POSE_ESTIMATORS, TRACKERS, BuildContext
from kprtrack.stages import Detector, Embedder, PoseEstimator, Tracker


def _context(config: PipelineConfig, context: BuildContext | None) -> BuildContext:
    return BuildContext(config) if context is None else context


def _check_backend(stage: object, section: str, config: PipelineConfig) -> None:
    """Raise :class:`ConfigError` if a section asks for a backend its kind does not run on."""
    wanted = getattr(config, section).backend
    if getattr(stage, "backend", "torch") != wanted:
        raise ConfigError(
            f"{section}.backend: {section}.kind {getattr(config, section).kind} does not support {wanted!r} "
            "(use backend: torch)"
        )


def build_detector(config: PipelineConfig, context: BuildContext | None = None) -> Detector:
    """The configured person detector (``detector.kind``, run by ``detector.backend``)."""
    detector = DETECTORS.get(config.detector.kind)(config.detector, _context(config, context))
    _check_backend(detector, "detector", config)
    return detector


def build_pose(config: PipelineConfig, context: BuildContext | None = None) -> PoseEstimator:
    """The configured pose estimator (``pose.kind``, run by ``pose.backend``)."""
    pose = POSE_ESTIMATORS.get(config.pose.kind)(config.pose, _context(config, context))
    _check_backend(pose, "pose", config)
    return pose


def build_embedder(config: PipelineConfig, context: BuildContext | None = None) -> Embedder | None:
    """The configured appearance embedder (``reid.kind``), or ``None`` for ``none``.

    The embedder's prompts use ``context.keypoint_format`` (the pose stage's convention).
    """
    return EMBEDDERS.get(config.reid.kind)(config.reid, _context(config, context))


def build_tracker(config: PipelineConfig, context: BuildContext | None = None) -> Tracker:
    """The configured tracker (``tracker.kind``) for a video of ``context.frame_rate`` fps."""
    return TRACKERS.get(config.tracker.kind)(config.tracker, _context(config, context))


def check_device(device: str) -> None:
    """Raise :class:`ConfigError` unless torch can use ``device`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``) here."""
    import torch

    kind, _, index = device.partition(":")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {device!r}: no CUDA device is available on this machine (use --device cpu)")
        if index and int(index) >= count:
            raise ConfigError(f"device {device!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r}: Apple MPS is not available on this machine (use --device cpu)")


def build_pipeline(config: PipelineConfig, frame_rate: float = 30.0, gt_path: str | Path | None = None) -> Pipeline:
    """All stages of ``config`` assembled into a :class:`Pipeline`.

    Args:
        config: the pipeline configuration.
        frame_rate: the video's frame rate (scales the tracker's lost-track buffer).
        gt_path: ground truth for oracle stages.

    Raises:
        ConfigError: a section names an unknown kind or an impossible combination, or ``device`` is
            not available on this machine.
        WeightsNotFoundError: a weights file is missing (the message says where to get it).
    """
    import torch

    check_device(config.device)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    if config.seed is not None:
        torch.manual_seed(config.seed)
    context = BuildContext(config, frame_rate=frame_rate, gt_path=gt_path)
    detector = build_detector(config, context)
    pose = build_pose(config, context)
    context.keypoint_format = pose.keypoint_format
    return Pipeline(
        detector=detector,
        pose=pose,
        embedder=build_embedder(config, context),
        tracker=build_tracker(config, context),
        max_people=config.max_people,
        overlap=config.overlap,
    )
