"""The KPR part-based distance, exactly as the reference implementation computes it.

Each person is described by ``P`` embeddings (for KPR: the foreground then the K parts) and a
boolean visibility per entry. The distance between two people is the mean, over the entries
visible in *both*, of the Euclidean distance between L2-normalised embeddings. Trackers use
half of it (:func:`tracking_distance`), so that it lies in ``[0, 1]``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

ArrayLike = np.ndarray | torch.Tensor


def _tensor(x: ArrayLike, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x
    else:
        arr = np.asarray(x)
        t = torch.from_numpy(arr if arr.flags.writeable and arr.flags.c_contiguous else np.array(arr))
    return t.to(dtype) if dtype is not None else t


def part_distances(query: ArrayLike, gallery: ArrayLike, normalize: bool = True) -> torch.Tensor:
    """Euclidean distance per embedding entry.

    Args:
        query: ``(M, P, D)`` embeddings.
        gallery: ``(N, P, D)`` embeddings.
        normalize: L2-normalise each ``D`` vector first (the reference does; pass ``False`` if the
            inputs are already the normalised test embeddings).

    Returns:
        ``(P, M, N)`` float32 tensor ``sqrt(relu(|a|^2 + |b|^2 - 2 a.b))``.
    """
    q = _tensor(query, torch.float32)
    g = _tensor(gallery, torch.float32)
    if q.ndim != 3 or g.ndim != 3 or q.shape[1:] != g.shape[1:]:
        raise ValueError(f"expected (M, P, D) and (N, P, D) embeddings, got {tuple(q.shape)} and {tuple(g.shape)}")
    if normalize:
        q = F.normalize(q, p=2, dim=-1)
        g = F.normalize(g, p=2, dim=-1)
    q = q.transpose(0, 1)  # (P, M, D)
    g = g.transpose(0, 1)  # (P, N, D)
    sq = (q * q).sum(-1).unsqueeze(2) - 2 * torch.matmul(q, g.transpose(1, 2)) + (g * g).sum(-1).unsqueeze(1)
    return torch.sqrt(F.relu(sq))


def part_based_distance(
    query: ArrayLike,
    query_visibility: ArrayLike,
    gallery: ArrayLike,
    gallery_visibility: ArrayLike,
    normalize: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference KPR test distance between every query and gallery person.

    ``dist[i, j] = sum_k valid_k * d_k / sum_k valid_k`` with ``valid_k = vis_i[k] & vis_j[k]``.
    Pairs without any mutually visible entry get ``max(valid d_k over the whole matrix) + 1``,
    and so do the invalid entries of the per-part matrix (reference behaviour: the fill value
    depends on the matrix being computed).

    Args:
        query: ``(M, P, D)`` embeddings.
        query_visibility: ``(M, P)`` bool.
        gallery: ``(N, P, D)`` embeddings.
        gallery_visibility: ``(N, P)`` bool.
        normalize: L2-normalise the embeddings first.

    Returns:
        ``dist`` ``(M, N)`` and ``per_part`` ``(P, M, N)`` float32 tensors.
    """
    d = part_distances(query, gallery, normalize)
    qv = _tensor(query_visibility).to(torch.bool)
    gv = _tensor(gallery_visibility).to(torch.bool)
    if qv.shape != (d.shape[1], d.shape[0]):
        raise ValueError(f"query_visibility must be (M, P) = {(d.shape[1], d.shape[0])}, got {tuple(qv.shape)}")
    if gv.shape != (d.shape[2], d.shape[0]):
        raise ValueError(f"gallery_visibility must be (N, P) = {(d.shape[2], d.shape[0])}, got {tuple(gv.shape)}")
    valid = qv.t().unsqueeze(2) & gv.t().unsqueeze(1)  # (P, M, N)
    count = valid.sum(0)
    summed = torch.where(valid, d, torch.zeros((), dtype=d.dtype)).sum(0)
    has_valid = count > 0
    dist = summed / count.clamp(min=1).to(d.dtype)
    fill = (d[valid].max() if bool(valid.any()) else torch.tensor(-1.0)) + 1
    dist = torch.where(has_valid, dist, fill)
    per_part = torch.where(valid, d, fill)
    return dist, per_part


def tracking_distance(
    track_embeddings: ArrayLike,
    track_visibility: ArrayLike,
    det_embeddings: ArrayLike,
    det_visibility: ArrayLike,
) -> np.ndarray:
    """Half the reference distance (what the KPR demo and trackers threshold), as numpy.

    Args:
        track_embeddings: ``(M, P, D)``.
        track_visibility: ``(M, P)`` bool.
        det_embeddings: ``(N, P, D)``.
        det_visibility: ``(N, P)`` bool.

    Returns:
        ``(M, N)`` float32 array in ``[0, 1]`` for normalised embeddings (pairs with no mutually
        visible entry can exceed 1, see :func:`part_based_distance`).
    """
    m, n = len(track_embeddings), len(det_embeddings)
    if m == 0 or n == 0:
        return np.zeros((m, n), np.float32)
    dist, _ = part_based_distance(track_embeddings, track_visibility, det_embeddings, det_visibility)
    return (dist / 2).numpy()


def cosine_to_tracking_distance(cosine_distance: ArrayLike | float) -> np.ndarray:
    """The tracking distance of one visible entry from its cosine distance ``1 - cos``.

    For L2-normalised vectors ``|a - b| = sqrt(2 - 2 cos)``, so with a single (global) entry
    :func:`tracking_distance` is ``d = sqrt(2 - 2 cos) / 2 = sqrt((1 - cos) / 2)``, a monotone
    function of the cosine distance: thresholds translate exactly (cosine distance 0.53 is
    ``d = 0.515``).
    """
    c = np.asarray(cosine_distance, dtype=np.float64)
    return np.sqrt(np.clip(c, 0.0, 2.0) / 2.0)


def tracking_to_cosine_distance(tracking_dist: ArrayLike | float) -> np.ndarray:
    """Inverse of :func:`cosine_to_tracking_distance`: ``1 - cos = 2 d^2`` for ``d`` in ``[0, 1]``."""
    d = np.asarray(tracking_dist, dtype=np.float64)
    return 2.0 * np.clip(d, 0.0, 1.0) ** 2
