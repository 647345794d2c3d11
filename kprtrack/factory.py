"""Build the pipeline's stages from a :class:`PipelineConfig` (imports each backend only when used)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kprtrack.config import ConfigError, dataclass_from_dict
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
    if section.kind == "ultralytics":
        from kprtrack.detect.ultralytics_backend import UltralyticsDetector

        if "ultralytics" not in cache:
            options = {"conf_threshold": section.score_threshold, "iou_threshold": section.nms_threshold}
            if section.input_size is not None:
                options["imgsz"] = max(section.input_size)
            cache["ultralytics"] = UltralyticsDetector(
                _weights_path(section.weights, must_exist=False),
                device=config.device,
                half=config.dtype == "float16",
                **{k: v for k, v in options.items() if v is not None},
            )
        return cache["ultralytics"]
    from kprtrack.detect import YOLOXDetector

    return YOLOXDetector.from_checkpoint(
        _weights_path(section.weights),
        input_size=tuple(section.input_size) if section.input_size else None,
        conf_threshold=section.score_threshold,
        nms_threshold=section.nms_threshold,
        device=config.device,
        fp16=config.dtype == "float16",
    )


def _weights_path(name: str, must_exist: bool = True) -> str:
    """Resolve a manifest name or path (downloading a missing official file unless offline, checking its
    checksum); with ``must_exist=False`` unknown names pass through (model YAMLs)."""
    from kprtrack.weights import WeightsNotFoundError, WeightsUnavailableError, ensure

    try:
        return str(ensure(name))
    except WeightsNotFoundError as exc:
        if must_exist or isinstance(exc, WeightsUnavailableError):
            raise
        return name


def build_pose(config: PipelineConfig, gt_path: str | Path | None = None, cache: dict | None = None) -> Any:
    """The configured pose estimator."""
    cache = {} if cache is None else cache
    section = config.pose
    if section.kind == "oracle":
        return _oracle(gt_path, cache)
    keypoint_format = _manifest_keypoint_format(section.weights)
    if section.kind == "ultralytics":
        if config.detector.kind != "ultralytics":
            raise ConfigError("pose.kind ultralytics needs detector.kind ultralytics with a YOLO-pose model")
        return build_detector(config, gt_path, cache)  # one pass gives boxes and keypoints
    if section.kind == "mmpose":
        from kprtrack.pose.mmpose_backend import MMPosePoseEstimator

        if section.config is None:
            raise ConfigError("pose.kind mmpose needs pose.config (an mmpose config file)")
        return MMPosePoseEstimator(
            section.config, _weights_path(section.weights), device=config.device, keypoint_format=keypoint_format
        )
    from kprtrack.pose import HRNetPoseEstimator

    return HRNetPoseEstimator.from_checkpoint(
        _weights_path(section.weights),
        config=section.config,
        keypoint_format=keypoint_format,
        device=config.device,
        dtype=config.dtype,
        flip_test=section.flip_test,
    )


def _manifest_keypoint_format(name: str) -> str | None:
    """The keypoint convention the manifest records for weights ``name`` (``None`` if unknown)."""
    from kprtrack.weights import load_manifest

    entry = load_manifest().get(name)
    return entry.keypoint_format if entry is not None else None


def build_embedder(config: PipelineConfig, keypoint_format: str | None = None) -> Any | None:
    """The configured re-identification embedder, or ``None`` for ``reid.kind: none``.

    Args:
        config: the pipeline configuration.
        keypoint_format: convention of the pose stage's keypoints (the prompts); ``None`` guesses it
            from the config.
    """
    if config.reid.kind == "none":
        if config.tracker.kind == "kprtrack":
            raise ConfigError("tracker.kind kprtrack needs appearance: set reid.kind to kpr (or use bytetrack_iou)")
        return None
    from kprtrack.reid import KPREmbedder

    return KPREmbedder.from_checkpoint(
        _weights_path(config.reid.weights),
        device=config.device,
        dtype=config.dtype,
        use_prompts=config.reid.use_prompts,
        max_batch=config.reid.batch_size,
        keypoint_format=keypoint_format or _pose_keypoint_format(config),
    )


def _pose_keypoint_format(config: PipelineConfig) -> str:
    """Keypoint convention the configured pose stage produces (what KPR receives as prompts)."""
    if config.pose.kind == "oracle":
        return "posetrack21"
    if config.pose.kind in ("hrnet", "mmpose"):
        return _manifest_keypoint_format(config.pose.weights) or "coco17"
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
    if config.threads is not None:
        import torch

        torch.set_num_threads(config.threads)
    cache: dict[str, Any] = {}
    detector = build_detector(config, gt_path, cache)
    pose = build_pose(config, gt_path, cache)
    return Pipeline(
        detector=detector,
        pose=pose,
        embedder=build_embedder(config, pose.keypoint_format),
        tracker=build_tracker(config, frame_rate),
        max_people=config.max_people,
    )


def build_random_pipeline(
    detector: str = "yolox_x",
    pose: str = "hrnet_w32_256x192",
    reid: str = "kpr_swin_base_k8",
    tracker: str = "kprtrack",
    device: str = "cpu",
    dtype: str = "float32",
    max_people: int = 10,
    frame_rate: float = 30.0,
    seed: int = 0,
    tracker_params: dict[str, Any] | None = None,
) -> Pipeline:
    """Full pipeline with randomly initialised architectures (wiring tests and speed benchmarks).

    The random detector's scores are tiny, so its threshold is set to zero and ``max_people``
    caps the number of (random) detections per frame.

    Args:
        detector: YOLOX variant (``kprtrack.detect.variants.VARIANTS``).
        pose: HRNet variant (``kprtrack.pose.variants.VARIANTS``).
        reid: KPR variant (``kprtrack.reid.build.KPR_REGISTRY``), or ``none``.
        tracker: ``kprtrack`` or ``bytetrack_iou``.
        device: torch device.
        dtype: ``float32``, ``float16`` or ``bfloat16`` (reduced precision on CUDA).
        max_people: detections kept per frame.
        frame_rate: video frame rate for the tracker.
        seed: torch seed of the random weights.
        tracker_params: overrides of the tracker's config (e.g. zero thresholds, since random scores are tiny).
    """
    import torch

    from kprtrack.detect import YOLOXDetector
    from kprtrack.pose import HRNetPoseEstimator
    from kprtrack.pose.variants import build_pose_model
    from kprtrack.track import TRACKERS

    torch.manual_seed(seed)
    det = YOLOXDetector.from_variant(
        detector, conf_threshold=0.0, device=device, fp16=dtype == "float16" and device != "cpu"
    )
    pose_stage = HRNetPoseEstimator(build_pose_model(pose), device=device, dtype=dtype)
    embedder = None
    if reid != "none":
        from kprtrack.reid import KPREmbedder
        from kprtrack.reid.build import build_kpr

        embedder = KPREmbedder(build_kpr(reid), device=device, dtype=dtype, keypoint_format=pose_stage.keypoint_format)
    return Pipeline(
        detector=det,
        pose=pose_stage,
        embedder=embedder,
        tracker=TRACKERS[tracker](
            dataclass_from_dict(TRACKERS[tracker].config_class, tracker_params or {}), frame_rate=frame_rate
        ),
        max_people=max_people,
    )
