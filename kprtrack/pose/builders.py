"""Pose-estimator builders registered with :data:`kprtrack.registry.POSE_ESTIMATORS` (heavy imports inside)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kprtrack.config import ConfigError
from kprtrack.errors import naming_checkpoint
from kprtrack.registry import BuildContext, register_pose
from kprtrack.weights import checkpoint_path, manifest_keypoint_format, random_variant

if TYPE_CHECKING:
    from kprtrack.pipeline_config import PoseSection
    from kprtrack.stages import PoseEstimator


@register_pose("hrnet")
def build_hrnet(section: PoseSection, context: BuildContext) -> PoseEstimator:
    """Native HRNet from an mmpose checkpoint, or a random variant (``weights: random:hrnet_w32_256x192``)."""
    from kprtrack.pose.estimator import HRNetPoseEstimator

    options = {
        "device": context.config.device,
        "dtype": context.config.dtype,
        "flip_test": section.flip_test,
        "backend": section.backend,
    }
    variant = random_variant(section.weights)
    if variant is not None:
        from kprtrack.pose.variants import build_pose_model

        return HRNetPoseEstimator(build_pose_model(variant), **options)
    path = checkpoint_path(section.weights)
    with naming_checkpoint(path, "pose.weights"):
        return HRNetPoseEstimator.from_checkpoint(
            path, config=section.config, keypoint_format=manifest_keypoint_format(section.weights), **options
        )


@register_pose("mmpose")
def build_mmpose(section: PoseSection, context: BuildContext) -> PoseEstimator:
    """mmpose's own inference (optional extra ``.[mmpose]``); ``config`` is the mmpose config file."""
    from kprtrack.pose.mmpose_backend import MMPosePoseEstimator

    if section.config is None:
        raise ConfigError("pose.kind mmpose needs pose.config (an mmpose config file)")
    return MMPosePoseEstimator(
        section.config,
        checkpoint_path(section.weights),
        device=context.config.device,
        keypoint_format=manifest_keypoint_format(section.weights),
    )


@register_pose("ultralytics")
def build_ultralytics_pose(section: PoseSection, context: BuildContext) -> PoseEstimator:
    """The detector's YOLO-pose model: one pass gives boxes and keypoints (needs ``detector.kind: ultralytics``)."""
    from kprtrack.detect.builders import ultralytics_model

    return ultralytics_model(context)


@register_pose("tinypose")
def build_tinypose(section: PoseSection, context: BuildContext) -> PoseEstimator:
    """PP-TinyPose (COCO-17, real people), ported natively from PaddleDetection's release."""
    from kprtrack.pose.tinypose_estimator import TinyPoseEstimator

    return TinyPoseEstimator.from_checkpoint(
        checkpoint_path(section.weights),
        device=context.config.device,
        dtype=context.config.dtype,
        backend=section.backend,
    )
