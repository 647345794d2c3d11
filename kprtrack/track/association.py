"""Optimal one-to-one matching under a cost limit, and the names of the association passes."""

from __future__ import annotations

from enum import Enum

import lap
import numpy as np

#: Cost given to pairs that must never be matched (gated out); any finite value above every threshold works.
FORBIDDEN = 1e6


class Pass(Enum):
    """ByteTrack's association passes, in the order they run.

    ``HIGH``: high-confidence detections vs tracked and lost tracks.
    ``LOW``: low-confidence detections vs the tracked tracks still unmatched.
    ``UNCONFIRMED``: unconfirmed (new) tracks vs the remaining high-confidence detections.
    ``NEW``: remaining high-confidence detections above ``new_track_thresh`` start new tracks.
    """

    HIGH = "high"
    LOW = "low"
    UNCONFIRMED = "unconfirmed"
    NEW = "new"


def linear_assignment(cost: np.ndarray, thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching in which no matched pair costs more than ``thresh``.

    Uses ``lap.lapjv(cost, extend_cost=True, cost_limit=thresh)`` (Jonker-Volgenant on the matrix padded
    so that leaving a row and a column unmatched costs ``thresh``).

    Args:
        cost: ``(M, N)`` cost matrix (rows: tracks, columns: detections).
        thresh: the largest cost a match may have.

    Returns:
        ``matches`` ``(K, 2)`` int64 ``(row, column)`` pairs sorted by row, and the unmatched row and column
        indices (sorted int64 arrays).
    """
    cost = np.asarray(cost, np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be an (M, N) matrix, got shape {cost.shape}")
    m, n = cost.shape
    if m == 0 or n == 0:
        return np.zeros((0, 2), np.int64), np.arange(m, dtype=np.int64), np.arange(n, dtype=np.int64)
    cost = np.where(np.isfinite(cost), np.minimum(cost, FORBIDDEN), FORBIDDEN)
    _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=float(thresh))
    rows = np.flatnonzero(row_to_col >= 0)
    cols = row_to_col[rows].astype(np.int64)
    keep = cost[rows, cols] <= thresh  # the padding makes this hold; keep the contract explicit
    rows, cols = rows[keep], cols[keep]
    matched_cols = np.zeros(n, bool)
    matched_cols[cols] = True
    matched_rows = np.zeros(m, bool)
    matched_rows[rows] = True
    matches = np.stack([rows.astype(np.int64), cols], axis=1)
    return matches, np.flatnonzero(~matched_rows), np.flatnonzero(~matched_cols)
