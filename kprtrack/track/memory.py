"""Per-track part-appearance memory: a moving average of part features, updated part by part.

Rules for a matched detection (entry 0 is the foreground, entries 1..K the parts):

* part visible in the track and in the detection: ``ema_alpha * track + (1 - ema_alpha) * detection``;
* part visible only in the detection: copy the detection's feature;
* part not visible in the detection: keep the track's feature;
* visibility becomes ``track OR detection``;
* the foreground entry is always updated, as if it were visible in the detection.

Detection features are L2-normalised before they enter the memory (the KPR distance normalises both
sides anyway, so only directions matter and every detection weighs the same).
"""

from __future__ import annotations

import numpy as np

FOREGROUND = 0


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """L2-normalise the last axis like ``torch.nn.functional.normalize`` (``x / max(|x|, eps)``)."""
    x = np.asarray(x, np.float32)
    norm = np.sqrt(np.einsum("...d,...d->...", x, x))[..., None]
    return x / np.maximum(norm, np.float32(eps))


def ema_update(
    embeddings: np.ndarray,
    visibility: np.ndarray,
    det_embeddings: np.ndarray,
    det_visibility: np.ndarray,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the memory rules to one track, or to a batch of tracks (pure function).

    Args:
        embeddings: ``(..., P, D)`` track features.
        visibility: ``(..., P)`` bool track visibility.
        det_embeddings: ``(..., P, D)`` (normalised) features of the matched detections.
        det_visibility: ``(..., P)`` bool detection visibility.
        alpha: EMA momentum (weight of the track's old feature).

    Returns:
        New ``(..., P, D)`` float32 features and ``(..., P)`` bool visibility.
    """
    det_vis = np.array(det_visibility, dtype=bool, copy=True)
    det_vis[..., FOREGROUND] = True
    both = det_vis & visibility
    # per entry: new = keep * track + take * detection, with (keep, take) = (alpha, 1 - alpha) where visible in
    # both, (0, 1) where visible only in the detection, (1, 0) where not visible in the detection
    keep = np.where(both, np.float32(alpha), np.where(det_vis, np.float32(0), np.float32(1)))[..., None]
    take = np.where(both, np.float32(1.0 - alpha), np.where(det_vis, np.float32(1), np.float32(0)))[..., None]
    out = keep * np.asarray(embeddings, np.float32) + take * np.asarray(det_embeddings, np.float32)
    return out, visibility | det_vis


def update_memories(memories: list[PartMemory], det_embeddings: np.ndarray, det_visibility: np.ndarray) -> None:
    """:meth:`PartMemory.update` for many tracks at once (vectorised, in place; same results).

    Args:
        memories: ``M`` track memories (same ``alpha``).
        det_embeddings: ``(M, P, D)`` (normalised) features of the matched detections, in order. Used as
            scratch space: pass a copy you do not need afterwards.
        det_visibility: ``(M, P)`` bool.
    """
    if not memories:
        return
    alpha = memories[0].alpha
    if any(m.alpha != alpha for m in memories):
        raise ValueError("update_memories: all memories must share the same alpha")
    visibility = np.stack([m.visibility for m in memories])
    det_vis = np.array(det_visibility, dtype=bool, copy=True)
    det_vis[:, FOREGROUND] = True
    both = det_vis & visibility
    keep = np.where(both, np.float32(alpha), np.where(det_vis, np.float32(0), np.float32(1)))[..., None]
    take = np.where(both, np.float32(1.0 - alpha), np.where(det_vis, np.float32(1), np.float32(0)))[..., None]
    # the same arithmetic as ema_update, with two large buffers instead of six (no fresh pages per frame)
    emb = np.stack([m.embeddings for m in memories])
    emb *= keep
    det = np.asarray(det_embeddings, np.float32)
    det *= take
    emb += det
    norm = np.sqrt(np.einsum("mpd,mpd->mp", emb, emb))[..., None]
    normalized = np.divide(emb, np.maximum(norm, np.float32(1e-12)), out=det)
    visibility |= det_vis
    for i, m in enumerate(memories):  # copies: a track must not keep the whole batch alive
        m.embeddings = emb[i].copy()
        m.visibility = visibility[i].copy()
        m.normalized = normalized[i].copy()


class PartMemory:
    """The appearance memory of one track.

    Args:
        embeddings: ``(P, D)`` (normalised) features of the detection that created the track.
        visibility: ``(P,)`` bool visibility of that detection.
        alpha: EMA momentum.

    Attributes:
        embeddings: ``(P, D)`` float32 current features.
        visibility: ``(P,)`` bool: entries seen at least once (the foreground always).
        normalized: ``(P, D)`` float32 L2-normalised ``embeddings`` (what the distance compares).
    """

    __slots__ = ("alpha", "embeddings", "normalized", "visibility")

    def __init__(self, embeddings: np.ndarray, visibility: np.ndarray, alpha: float) -> None:
        self.alpha = float(alpha)
        self.embeddings = np.array(embeddings, dtype=np.float32, copy=True)
        self.normalized = l2_normalize(self.embeddings)
        self.visibility = np.array(visibility, dtype=bool, copy=True)
        self.visibility[FOREGROUND] = True

    def update(self, det_embeddings: np.ndarray, det_visibility: np.ndarray) -> None:
        """Blend in a matched detection's ``(P, D)`` features and ``(P,)`` visibility."""
        self.embeddings, self.visibility = ema_update(
            self.embeddings, self.visibility, det_embeddings, det_visibility, self.alpha
        )
        self.normalized = l2_normalize(self.embeddings)
