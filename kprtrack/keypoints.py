"""Keypoint conventions and conversions between them.

Two 17-joint conventions are used by kprtrack, and every keypoint array declares which one
it follows (``FrameRecord.keypoint_format``):

* ``coco17``: the COCO order used by COCO-trained pose models and by the KPR prompt grouping.
* ``posetrack21``: the PoseTrack21 order. It equals COCO except joints 1 and 2, which are
  ``head_bottom`` (neck) and ``head_top`` instead of the eyes. PoseTrack21's ears (3, 4) are
  unannotated placeholders: ground truth always holds ``0, 0, 0`` there and the official
  evaluation drops them.

Keypoint arrays are ``(..., 17, 3)`` with ``x, y, confidence`` in image pixels; a joint with
confidence 0 is absent.
"""

from __future__ import annotations

import numpy as np

COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

POSETRACK21_NAMES: tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

CONVENTIONS: dict[str, tuple[str, ...]] = {
    "coco17": COCO17_NAMES,
    "posetrack21": POSETRACK21_NAMES,
}

#: Skeleton edges (0-based joint indices) valid for both conventions, for drawing.
SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
    (5, 7), (6, 8), (7, 9), (8, 10), (0, 1), (1, 2), (0, 3), (0, 4), (3, 5), (4, 6),
)  # fmt: skip

#: Left/right swap permutation of ``coco17`` (the eyes swap), e.g. for flip test and flip augmentation.
FLIP_INDEX: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)

#: Left/right swap permutation per convention: in ``posetrack21`` head_bottom and head_top stay in place
#: (PoseTrack18's flip pairs), only ears and limbs swap.
FLIP_INDICES: dict[str, tuple[int, ...]] = {
    "coco17": FLIP_INDEX,
    "posetrack21": (0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15),
}

#: Same index in both conventions.
_SHARED = (0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)


def check_convention(name: str) -> str:
    """Return ``name`` if it is a known keypoint convention, else raise ``ValueError``."""
    if name not in CONVENTIONS:
        raise ValueError(f"unknown keypoint convention {name!r}; expected one of {sorted(CONVENTIONS)}")
    return name


def convert_keypoints(keypoints: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert keypoints between conventions.

    Joints that exist in both conventions (nose, ears, all limbs) are copied; joints without a
    counterpart (COCO eyes <-> PoseTrack21 head_bottom/head_top) become ``0, 0, 0`` (absent).
    No joint position is invented.

    Args:
        keypoints: ``(..., 17, 3)`` array in convention ``src``.
        src: source convention name.
        dst: destination convention name.

    Returns:
        A new ``(..., 17, 3)`` array in convention ``dst`` with the input's dtype.
    """
    check_convention(src)
    check_convention(dst)
    kp = np.asarray(keypoints)
    if kp.ndim < 2 or kp.shape[-2:] != (17, 3):
        raise ValueError(f"keypoints must have shape (..., 17, 3), got {kp.shape}")
    if src == dst:
        return kp.copy()
    out = np.zeros_like(kp)
    out[..., _SHARED, :] = kp[..., _SHARED, :]
    return out
