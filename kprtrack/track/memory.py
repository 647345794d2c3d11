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
    """Apply the memory rules to one track (pure function).

    Args:
        embeddings: ``(P, D)`` track features.
        visibility: ``(P,)`` bool track visibility.
        det_embeddings: ``(P, D)`` (normalised) features of the matched detection.
        det_visibility: ``(P,)`` bool detection visibility.
        alpha: EMA momentum (weight of the track's old feature).

    Returns:
        New ``(P, D)`` float32 features and ``(P,)`` bool visibility.
    """
    det_vis = np.array(det_visibility, dtype=bool, copy=True)
    det_vis[FOREGROUND] = True
    both = det_vis & visibility
    only_det = det_vis & ~visibility
    out = np.array(embeddings, dtype=np.float32, copy=True)
    out[both] = alpha * out[both] + (1.0 - alpha) * det_embeddings[both]
    out[only_det] = det_embeddings[only_det]
    return out, visibility | det_vis


class PartMemory:
    """The appearance memory of one track.

    Args:
        embeddings: ``(P, D)`` (normalised) features of the detection that created the track.
        visibility: ``(P,)`` bool visibility of that detection.
        alpha: EMA momentum.

    Attributes:
        embeddings: ``(P, D)`` float32 current features.
        visibility: ``(P,)`` bool: entries seen at least once (the foreground always).
    """

    __slots__ = ("alpha", "embeddings", "visibility")

    def __init__(self, embeddings: np.ndarray, visibility: np.ndarray, alpha: float) -> None:
        self.alpha = float(alpha)
        self.embeddings = np.array(embeddings, dtype=np.float32, copy=True)
        self.visibility = np.array(visibility, dtype=bool, copy=True)
        self.visibility[FOREGROUND] = True

    def update(self, det_embeddings: np.ndarray, det_visibility: np.ndarray) -> None:
        """Blend in a matched detection's ``(P, D)`` features and ``(P,)`` visibility."""
        self.embeddings, self.visibility = ema_update(
            self.embeddings, self.visibility, det_embeddings, det_visibility, self.alpha
        )
