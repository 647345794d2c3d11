"""Top-down training samples with mmpose's augmentation semantics.

The training pipeline mirrors mmpose's ``train_pipeline`` for heatmap models: ``GetBBoxCenterScale``
(padding 1.25) -> ``RandomFlip`` (horizontal: ``x -> W - 1 - x`` for the image, the box centre and
the keypoints, left/right joints swapped) -> ``RandomBBoxTransform`` (shift / scale / rotation drawn
from a normal truncated to [-1, 1]) -> ``TopdownAffine`` (aspect fix, rotated warp; keypoints
follow the same matrix) -> ``GenerateTarget`` (the codec's encode). ``RandomHalfBody`` is not
implemented. Frames are RGB (the project convention); the network's channel order is handled
when crops are normalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kprtrack.pose.codecs import HeatmapCodec
from kprtrack.pose.config import PoseModelConfig
from kprtrack.pose.transforms import (
    bbox_xyxy_to_center_scale,
    fix_aspect_ratio,
    get_udp_warp_matrix,
    get_warp_matrix,
    warp_keypoints,
)


@dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation settings (defaults: mmpose's ``RandomFlip`` and ``RandomBBoxTransform``).

    Attributes:
        flip_prob: probability of a horizontal flip.
        shift_factor: box centre shift, as a fraction of the box size (times a truncated normal).
        shift_prob: probability of shifting.
        scale_factor: ``(min, max)`` box scaling; the factor is ``mid + half_range * truncnorm``.
        scale_prob: probability of scaling.
        rotate_factor: rotation in degrees (times a truncated normal).
        rotate_prob: probability of rotating.
    """

    flip_prob: float = 0.5
    shift_factor: float = 0.16
    shift_prob: float = 0.3
    scale_factor: tuple[float, float] = (0.5, 1.5)
    scale_prob: float = 1.0
    rotate_factor: float = 80.0
    rotate_prob: float = 0.6


@dataclass
class TrainingSample:
    """One person, ready for the loss.

    Attributes:
        crop: ``(h, w, 3)`` uint8 crop in the frame's channel order.
        keypoints: ``(K, 2)`` float32 keypoints in crop pixels.
        heatmaps: ``(K, H, W)`` float32 target heatmaps.
        weights: ``(K,)`` float32 keypoint weights (0: unlabelled or outside the heatmap).
        center: ``(2,)`` float32 crop centre in (possibly flipped) image pixels.
        scale: ``(2,)`` float32 aspect-fixed crop size in image pixels.
        rotation: degrees.
        flipped: whether the sample was mirrored.
    """

    crop: np.ndarray
    keypoints: np.ndarray
    heatmaps: np.ndarray
    weights: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    rotation: float = 0.0
    flipped: bool = False


def truncated_normal(rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    """Standard normal samples truncated to ``[-1, 1]`` (rejection sampling), float32."""
    out = rng.standard_normal(size)
    bad = np.abs(out) > 1
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 1
    return out.astype(np.float32)


def flip_horizontal(
    image: np.ndarray,
    keypoints: np.ndarray,
    visible: np.ndarray,
    center: np.ndarray,
    flip_indices: tuple[int, ...] | list[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mirror an image and its annotations (mmpose ``RandomFlip``, horizontal).

    Args:
        image: ``(H, W, C)``.
        keypoints: ``(K, 2)`` image pixels.
        visible: ``(K,)``.
        center: ``(2,)`` box centre.
        flip_indices: left/right permutation.

    Returns:
        Flipped ``image``, ``keypoints`` (joints swapped), ``visible`` and ``center``.
    """
    w = image.shape[1]
    idx = list(flip_indices)
    kp = np.asarray(keypoints, dtype=np.float32)[idx].copy()
    kp[:, 0] = w - 1 - kp[:, 0]
    c = np.asarray(center, dtype=np.float32).copy()
    c[0] = w - 1 - c[0]
    return np.ascontiguousarray(image[:, ::-1]), kp, np.asarray(visible, dtype=np.float32)[idx].copy(), c


def random_bbox_transform(
    center: np.ndarray, scale: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[np.ndarray, np.ndarray, float]:
    """Random shift / scale / rotation of one box (mmpose ``RandomBBoxTransform``).

    Args:
        center: ``(2,)`` box centre.
        scale: ``(2,)`` box size.
        rng: random generator.
        cfg: factors and probabilities.

    Returns:
        New ``center``, ``scale`` (float32) and the rotation in degrees.
    """
    v = truncated_normal(rng, (4,))
    offset = v[:2] * cfg.shift_factor if rng.random() < cfg.shift_prob else np.zeros(2, np.float32)
    lo, hi = cfg.scale_factor
    factor = v[2] * (hi - lo) * 0.5 + (hi + lo) * 0.5 if rng.random() < cfg.scale_prob else 1.0
    rot = float(v[3] * cfg.rotate_factor) if rng.random() < cfg.rotate_prob else 0.0
    center = (np.asarray(center, np.float32) + offset * np.asarray(scale, np.float32)).astype(np.float32)
    return center, (np.asarray(scale, np.float32) * factor).astype(np.float32), rot


def topdown_affine(
    image: np.ndarray,
    keypoints: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    rot: float,
    input_size: tuple[int, int],
    use_udp: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop one (possibly rotated) box and move its keypoints into crop pixels (``TopdownAffine``).

    Args:
        image: ``(H, W, C)`` uint8.
        keypoints: ``(K, 2)`` image pixels.
        center: ``(2,)``.
        scale: ``(2,)`` box size before the aspect fix.
        rot: degrees.
        input_size: crop ``(w, h)``.
        use_udp: UDP warp matrix.

    Returns:
        ``crop (h, w, C)``, ``keypoints (K, 2)`` in crop pixels and the aspect-fixed ``scale``.
    """
    w, h = input_size
    scale = fix_aspect_ratio(np.asarray(scale, np.float32).reshape(1, 2), w / h)[0]
    mat = get_udp_warp_matrix(center, scale, (w, h), rot) if use_udp else get_warp_matrix(center, scale, (w, h), rot)
    crop = cv2.warpAffine(image, mat, (int(w), int(h)), flags=cv2.INTER_LINEAR)
    return crop.reshape(h, w, -1), warp_keypoints(keypoints, mat), scale


def make_training_sample(
    image: np.ndarray,
    box: np.ndarray,
    keypoints: np.ndarray,
    cfg: PoseModelConfig,
    rng: np.random.Generator | None = None,
    augment: AugmentConfig | None = None,
) -> TrainingSample:
    """Build the network input and targets for one annotated person.

    Args:
        image: ``(H, W, 3)`` uint8 frame (RGB).
        box: ``(4,)`` xyxy.
        keypoints: ``(K, 3)`` ``x, y, visibility`` in image pixels (visibility > 0: labelled).
        cfg: model config (pipeline input size, padding, UDP, flip indices; codec).
        rng: random generator; required with ``augment``.
        augment: augmentation settings; ``None`` = the plain test-time crop.

    Returns:
        The :class:`TrainingSample`.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 2 or kp.shape[1] != 3 or kp.shape[0] != cfg.head.out_channels:
        raise ValueError(f"keypoints must be ({cfg.head.out_channels}, 3) x, y, visibility; got shape {kp.shape}")
    if augment is not None and rng is None:
        raise ValueError("augmentation needs a random generator (rng)")
    p = cfg.pipeline
    center, scale = bbox_xyxy_to_center_scale(np.asarray(box, np.float32).reshape(1, 4), p.bbox_padding)
    center, scale = center[0], scale[0]
    xy, vis = kp[:, :2], (kp[:, 2] > 0).astype(np.float32)
    rot, flipped = 0.0, False
    if augment is not None:
        if rng.random() < augment.flip_prob:
            image, xy, vis, center = flip_horizontal(image, xy, vis, center, p.flip_indices)
            flipped = True
        center, scale, rot = random_bbox_transform(center, scale, rng, augment)
    crop, crop_kp, scale = topdown_affine(image, xy, center, scale, rot, p.input_size, p.use_udp)
    heatmaps, weights = HeatmapCodec(cfg.codec).encode(crop_kp, vis)
    return TrainingSample(
        crop=crop,
        keypoints=crop_kp,
        heatmaps=heatmaps,
        weights=weights,
        center=np.asarray(center, np.float32),
        scale=np.asarray(scale, np.float32),
        rotation=rot,
        flipped=flipped,
    )
