"""Top-down pose estimation: native HRNet with mmpose's test pipeline, and an optional mmpose backend.

Main entry points (imported lazily so that ``import kprtrack.pose`` stays cheap):

* :class:`HRNetPoseEstimator` - the pose stage (:class:`kprtrack.stages.PoseEstimator`).
* :class:`TinyPoseEstimator` - PP-TinyPose (real-data weights shipped in ``weights/``) as a pose stage.
* :func:`load_pose_model` / :func:`save_mmpose_checkpoint` - mmpose checkpoint I/O.
* :data:`VARIANTS`, :func:`get_variant`, :func:`build_pose_model` - named architectures.
* :class:`HeatmapCodec` - MSRA / DARK / UDP heatmap encoding and decoding.
"""

from __future__ import annotations

from kprtrack.lazy import lazy_getattr

_EXPORTS: dict[str, str] = {
    "HRNetPoseEstimator": "kprtrack.pose.estimator",
    "TopdownPrediction": "kprtrack.pose.estimator",
    "TinyPoseEstimator": "kprtrack.pose.tinypose_estimator",
    "TinyPoseNet": "kprtrack.pose.tinypose",
    "load_tinypose": "kprtrack.pose.tinypose",
    "load_pose_model": "kprtrack.pose.checkpoint",
    "save_mmpose_checkpoint": "kprtrack.pose.checkpoint",
    "VARIANTS": "kprtrack.pose.variants",
    "get_variant": "kprtrack.pose.variants",
    "build_pose_model": "kprtrack.pose.variants",
    "hrnet_config": "kprtrack.pose.variants",
    "HeatmapCodec": "kprtrack.pose.codecs",
    "PoseModelConfig": "kprtrack.pose.config",
    "TopdownHeatmapNet": "kprtrack.pose.model",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("kprtrack.pose", _EXPORTS)
