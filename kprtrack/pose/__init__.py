"""Top-down pose estimation: native HRNet with mmpose's test pipeline, and an optional mmpose backend.

Main entry points (imported lazily so that ``import kprtrack.pose`` stays cheap):

* :class:`HRNetPoseEstimator` - the pose stage (:class:`kprtrack.stages.PoseEstimator`).
* :class:`TinyPoseEstimator` - PP-TinyPose (real-data weights shipped in ``weights/``) as a pose stage.
* :func:`load_pose_model` / :func:`save_mmpose_checkpoint` - mmpose checkpoint I/O.
* :data:`VARIANTS`, :func:`get_variant`, :func:`build_pose_model` - named architectures.
* :class:`HeatmapCodec` - MSRA / DARK / UDP heatmap encoding and decoding.
"""

from __future__ import annotations

from kprtrack.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        ".estimator": ("HRNetPoseEstimator", "TopdownPrediction"),
        ".tinypose_estimator": ("TinyPoseEstimator",),
        ".tinypose": ("TinyPoseNet", "load_tinypose"),
        ".checkpoint": ("load_pose_model", "save_mmpose_checkpoint"),
        ".variants": ("VARIANTS", "get_variant", "build_pose_model", "hrnet_config"),
        ".codecs": ("HeatmapCodec",),
        ".config": ("PoseModelConfig",),
        ".model": ("TopdownHeatmapNet",),
    },
)
