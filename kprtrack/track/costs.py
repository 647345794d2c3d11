"""Cost and similarity matrices between tracks and detections (numpy, sized for one frame).

:func:`kpr_tracking_distance` computes exactly what :func:`kprtrack.reid.distance.tracking_distance`
computes (same formula, float32), without torch's per-call overhead on these small matrices.
"""

from __future__ import annotations

import numpy as np

from kprtrack.boxes import box_areas, iou_matrix
from kprtrack.track.memory import l2_normalize

#: COCO keypoint sigmas (used for the OKS motion cue; the PoseTrack21 head joints reuse the eye values).
OKS_SIGMAS = np.array(
    [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087]
    + [0.089, 0.089],
    np.float64,
)


def kpr_tracking_distance(
    track_embeddings: np.ndarray,
    track_visibility: np.ndarray,
    det_embeddings: np.ndarray,
    det_visibility: np.ndarray,
    normalized: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Half the KPR part-based distance, and which pairs share a visible entry.

    ``dist[i, j] = mean over entries k visible in both of |t_ik - d_jk| / 2`` on L2-normalised features.
    Pairs without a mutually visible entry get the reference fill value (see
    :func:`kprtrack.reid.distance.part_based_distance`); callers that must never match them use
    ``has_common``.

    Args:
        track_embeddings: ``(M, P, D)``.
        track_visibility: ``(M, P)`` bool.
        det_embeddings: ``(N, P, D)``.
        det_visibility: ``(N, P)`` bool.
        normalized: the embeddings are already L2-normalised (skips that step).

    Returns:
        ``dist`` ``(M, N)`` float32 and ``has_common`` ``(M, N)`` bool.
    """
    m, n = len(track_embeddings), len(det_embeddings)
    if m == 0 or n == 0:
        return np.zeros((m, n), np.float32), np.zeros((m, n), bool)
    q = np.asarray(track_embeddings, np.float32)
    g = np.asarray(det_embeddings, np.float32)
    if q.ndim != 3 or g.ndim != 3 or q.shape[1:] != g.shape[1:]:
        raise ValueError(f"expected (M, P, D) and (N, P, D) embeddings, got {q.shape} and {g.shape}")
    if not normalized:
        q = l2_normalize(q)
        g = l2_normalize(g)
    qt = q.transpose(1, 0, 2)  # (P, M, D) view; matmul takes strided operands without copying them first
    gt = g.transpose(1, 2, 0)  # (P, D, N) view
    qq = np.einsum("pmd,pmd->pm", qt, qt)
    gg = np.einsum("pdn,pdn->pn", gt, gt)
    sq = qq[:, :, None] - 2 * np.matmul(qt, gt) + gg[:, None, :]
    d = np.sqrt(np.maximum(sq, 0, out=sq), out=sq)  # (P, M, N)
    valid = np.asarray(track_visibility, bool).T[:, :, None] & np.asarray(det_visibility, bool).T[:, None, :]
    count = valid.sum(0)
    summed = np.where(valid, d, np.float32(0)).sum(0, dtype=np.float32)
    has_common = count > 0
    dist = summed / np.maximum(count, 1).astype(np.float32)
    fill = (d[valid].max() if has_common.any() else np.float32(-1)) + np.float32(1)
    dist = np.where(has_common, dist, fill).astype(np.float32)
    return dist / np.float32(2), has_common


def oks_matrix(
    keypoints_a: np.ndarray, boxes_a: np.ndarray, keypoints_b: np.ndarray, boxes_b: np.ndarray
) -> np.ndarray:
    """Pairwise object keypoint similarity; falls back to IoU for pairs without a shared joint.

    OKS uses the joints present (confidence > 0) in both poses and the mean box area of the pair as the
    object scale: ``mean_k exp(-d_k^2 / (2 s^2 (2 sigma_k)^2))`` with ``s^2 = area``.

    Args:
        keypoints_a: ``(M, 17, 3)``.
        boxes_a: ``(M, 4)`` xyxy.
        keypoints_b: ``(N, 17, 3)``.
        boxes_b: ``(N, 4)`` xyxy.

    Returns:
        ``(M, N)`` float64 in ``[0, 1]``.
    """
    ka = np.asarray(keypoints_a, np.float64).reshape(-1, 17, 3)
    kb = np.asarray(keypoints_b, np.float64).reshape(-1, 17, 3)
    if len(ka) == 0 or len(kb) == 0:
        return np.zeros((len(ka), len(kb)))
    a = np.asarray(boxes_a, np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(-1, 4)
    area_a = box_areas(a)
    area_b = box_areas(b)
    area = np.maximum((area_a[:, None] + area_b[None, :]) / 2, 1e-6)  # (M, N)
    # (M, N, 17) squared joint distances (dx^2 + dy^2: numpy reduces a size-2 axis very slowly)
    d2 = (ka[:, None, :, 0] - kb[None, :, :, 0]) ** 2 + (ka[:, None, :, 1] - kb[None, :, :, 1]) ** 2
    var = (2 * OKS_SIGMAS) ** 2
    e = np.exp(-d2 / (2 * area[:, :, None] * var))
    valid = (ka[:, None, :, 2] > 0) & (kb[None, :, :, 2] > 0)
    count = valid.sum(-1)
    oks = np.einsum("mnk,mnk->mn", e, valid.astype(np.float64)) / np.maximum(count, 1)
    return np.where(count > 0, oks, iou_matrix(a, b))
