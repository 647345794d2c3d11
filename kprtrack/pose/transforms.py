"""mmpose's top-down geometry: box -> (center, scale) -> affine crop, and crop keypoints -> image pixels.

The arithmetic follows mmpose 1.x step by step (float32 boxes, the aspect-ratio fix, float32 point
pairs handed to ``cv2.getAffineTransform``, ``cv2.warpAffine`` with bilinear interpolation and a
constant-0 border), so crops are bit-identical to mmpose's ``TopdownAffine`` output.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch


def bbox_xyxy_to_center_scale(boxes: np.ndarray, padding: float) -> tuple[np.ndarray, np.ndarray]:
    """``GetBBoxCenterScale``: box centre and padded size.

    Args:
        boxes: ``(N, 4)`` ``x1, y1, x2, y2``.
        padding: size multiplier (mmpose: 1.25).

    Returns:
        ``center (N, 2)`` and ``scale (N, 2)`` (w, h), float32.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scale = (boxes[:, 2:] - boxes[:, :2]) * padding
    center = (boxes[:, 2:] + boxes[:, :2]) * 0.5
    return center.astype(np.float32), scale.astype(np.float32)


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow the shorter side so that ``w / h == aspect_ratio`` (``TopdownAffine._fix_aspect_ratio``).

    Args:
        scale: ``(N, 2)`` float32 ``w, h``.
        aspect_ratio: target ``w / h``.

    Returns:
        ``(N, 2)`` float32.
    """
    w, h = scale[:, :1], scale[:, 1:]
    return np.where(w > h * aspect_ratio, np.hstack([w, w / aspect_ratio]), np.hstack([h * aspect_ratio, h]))


def _rotate(pt: np.ndarray, angle_rad: float) -> np.ndarray:
    sn, cs = np.sin(angle_rad), np.cos(angle_rad)
    return np.array([[cs, -sn], [sn, cs]]) @ pt


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.r_[-d[1], d[0]]


def get_warp_matrix(
    center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], rot: float = 0.0, inv: bool = False
) -> np.ndarray:
    """Affine matrix mapping the box region onto the crop (mmpose ``get_warp_matrix``).

    Args:
        center: ``(2,)`` box centre.
        scale: ``(2,)`` box ``w, h`` (aspect already fixed).
        output_size: crop ``(w, h)``.
        rot: rotation in degrees (counter-clockwise in the crop).
        inv: return the crop -> image matrix instead.

    Returns:
        ``(2, 3)`` float64 matrix.
    """
    center = np.asarray(center, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    dst_w, dst_h = output_size
    rot_rad = np.deg2rad(rot)
    src_dir = _rotate(np.array([scale[0] * -0.5, 0.0]), rot_rad)
    src = np.zeros((3, 2), dtype=np.float32)
    src[0] = center
    src[1] = center + src_dir
    src[2] = _third_point(src[0], src[1])
    dst = np.zeros((3, 2), dtype=np.float32)
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5]) + np.array([dst_w * -0.5, 0.0])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def get_udp_warp_matrix(
    center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], rot: float = 0.0
) -> np.ndarray:
    """Unbiased (UDP) affine matrix: maps pixel centres ``0..size-1`` consistently (mmpose ``get_udp_warp_matrix``).

    Args:
        center: ``(2,)`` box centre.
        scale: ``(2,)`` box ``w, h``.
        output_size: crop ``(w, h)``.
        rot: rotation in degrees.

    Returns:
        ``(2, 3)`` float32 matrix.
    """
    center = np.asarray(center, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    input_size = center * 2
    rot_rad = np.deg2rad(rot)
    cs, sn = math.cos(rot_rad), math.sin(rot_rad)
    scale_x = (output_size[0] - 1) / scale[0]
    scale_y = (output_size[1] - 1) / scale[1]
    mat = np.zeros((2, 3), dtype=np.float32)
    mat[0, 0] = cs * scale_x
    mat[0, 1] = -sn * scale_x
    mat[0, 2] = scale_x * (-0.5 * input_size[0] * cs + 0.5 * input_size[1] * sn + 0.5 * scale[0])
    mat[1, 0] = sn * scale_y
    mat[1, 1] = cs * scale_y
    mat[1, 2] = scale_y * (-0.5 * input_size[0] * sn - 0.5 * input_size[1] * cs + 0.5 * scale[1])
    return mat


def crop_boxes(
    image: np.ndarray,
    boxes: np.ndarray,
    input_size: tuple[int, int],
    padding: float,
    use_udp: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``GetBBoxCenterScale`` + ``TopdownAffine`` for every box of one image.

    Args:
        image: ``(H, W, C)`` uint8 image (any channel order; channels are warped independently).
        boxes: ``(N, 4)`` xyxy.
        input_size: crop ``(w, h)``.
        padding: box padding.
        use_udp: UDP warp matrix.

    Returns:
        ``crops (N, h, w, C)`` uint8, ``centers (N, 2)`` and ``scales (N, 2)`` float32 (aspect-fixed).
    """
    w, h = input_size
    centers, scales = bbox_xyxy_to_center_scale(boxes, padding)
    scales = fix_aspect_ratio(scales, aspect_ratio=w / h)
    crops = np.zeros((len(centers), h, w, image.shape[2]), dtype=np.uint8)
    for i, (c, s) in enumerate(zip(centers, scales)):
        mat = get_udp_warp_matrix(c, s, (w, h)) if use_udp else get_warp_matrix(c, s, (w, h))
        crops[i] = cv2.warpAffine(image, mat, (int(w), int(h)), flags=cv2.INTER_LINEAR).reshape(h, w, -1)
    return crops, centers, scales


def normalize_crops(
    crops: np.ndarray,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    swap_channels: bool,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """mmpose ``PoseDataPreprocessor``: optional channel swap, float32, ``(x - mean) / std``.

    Args:
        crops: ``(N, h, w, 3)`` uint8.
        mean: per-channel mean in the network's channel order.
        std: per-channel std in the network's channel order.
        swap_channels: reverse the channel order first (RGB <-> BGR).
        device: where the tensor goes (the uint8 crops are moved, then converted).

    Returns:
        ``(N, 3, h, w)`` float32 tensor.
    """
    x = torch.from_numpy(np.ascontiguousarray(crops)).to(device).permute(0, 3, 1, 2)
    if swap_channels:
        x = x.flip(1)
    x = x.float()
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def keypoints_to_image(
    keypoints: np.ndarray, centers: np.ndarray, scales: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Crop pixels -> image pixels (``TopdownPoseEstimator.add_pred_to_datasample``).

    Args:
        keypoints: ``(N, K, 2)`` in crop pixels.
        centers: ``(N, 2)`` float32.
        scales: ``(N, 2)`` float32 (aspect-fixed).
        input_size: crop ``(w, h)``.

    Returns:
        ``(N, K, 2)`` float32.
    """
    scales = np.asarray(scales, dtype=np.float32)[:, None]
    centers = np.asarray(centers, dtype=np.float32)[:, None]
    out = keypoints / np.asarray(input_size, dtype=np.int64) * scales + centers - 0.5 * scales
    return out.astype(np.float32)


def warp_keypoints(keypoints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine matrix to ``(..., 2)`` points (``cv2.transform`` semantics)."""
    pts = np.asarray(keypoints, dtype=np.float64)
    return (pts @ np.asarray(matrix, dtype=np.float64)[:, :2].T + matrix[:, 2]).astype(np.float32)
