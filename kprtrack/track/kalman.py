"""A constant-velocity Kalman filter on boxes (ByteTrack/DeepSORT's ``x, y, a, h`` state).

The state is ``(cx, cy, a, h, vcx, vcy, va, vh)`` with ``a = w / h``; the noise scales with the box height.
Predictions are batched over tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_STD_POSITION = 1.0 / 20
_STD_VELOCITY = 1.0 / 160
_DIM = 4

_MOTION = np.eye(2 * _DIM)
_MOTION[:_DIM, _DIM:] = np.eye(_DIM)


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """``(..., 4)`` xyxy -> ``(..., 4)`` center x, center y, aspect w/h, height (float64)."""
    b = np.asarray(boxes, np.float64)
    w = b[..., 2] - b[..., 0]
    h = np.maximum(b[..., 3] - b[..., 1], 1e-6)
    return np.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2, w / h, h], axis=-1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """``(..., 4)`` center x, center y, aspect, height -> ``(..., 4)`` float32 xyxy."""
    x = np.asarray(xyah, np.float64)
    h = np.maximum(x[..., 3], 0.0)
    w = np.maximum(x[..., 2] * h, 0.0)
    return np.stack([x[..., 0] - w / 2, x[..., 1] - h / 2, x[..., 0] + w / 2, x[..., 1] + h / 2], -1).astype(np.float32)


@dataclass
class BoxKalmanState:
    """Mean ``(8,)`` and covariance ``(8, 8)`` of one track's box state."""

    mean: np.ndarray
    covariance: np.ndarray

    @property
    def box(self) -> np.ndarray:
        """``(4,)`` float32 xyxy box of the current mean."""
        return xyah_to_xyxy(self.mean[:_DIM])


def initiate(box: np.ndarray) -> BoxKalmanState:
    """New state from an ``(4,)`` xyxy box, with zero velocity and height-scaled uncertainty."""
    z = xyxy_to_xyah(box)
    h = z[3]
    mean = np.concatenate([z, np.zeros(_DIM)])
    std = np.array(
        [
            2 * _STD_POSITION * h,
            2 * _STD_POSITION * h,
            1e-2,
            2 * _STD_POSITION * h,
            10 * _STD_VELOCITY * h,
            10 * _STD_VELOCITY * h,
            1e-5,
            10 * _STD_VELOCITY * h,
        ]
    )
    return BoxKalmanState(mean, np.diag(std**2))


def predict(states: list[BoxKalmanState], freeze_height: list[bool] | None = None) -> None:
    """Advance every state by one frame, in place (batched).

    Args:
        states: the tracks' states.
        freeze_height: per state, zero the height velocity first (ByteTrack does this for tracks that are
            not currently tracked, so a lost box does not grow or shrink without bound).
    """
    if not states:
        return
    means = np.stack([s.mean for s in states])  # (M, 8)
    covs = np.stack([s.covariance for s in states])  # (M, 8, 8)
    if freeze_height is not None:
        means[np.asarray(freeze_height, bool), 7] = 0.0
    h = means[:, 3]
    std = np.stack(
        [
            _STD_POSITION * h,
            _STD_POSITION * h,
            np.full_like(h, 1e-2),
            _STD_POSITION * h,
            _STD_VELOCITY * h,
            _STD_VELOCITY * h,
            np.full_like(h, 1e-5),
            _STD_VELOCITY * h,
        ],
        axis=1,
    )
    noise = np.einsum("mi,ij->mij", std**2, np.eye(2 * _DIM))
    means = means @ _MOTION.T
    covs = _MOTION @ covs @ _MOTION.T + noise
    for s, m, c in zip(states, means, covs):
        s.mean = m
        s.covariance = c


def update(states: list[BoxKalmanState], boxes: np.ndarray) -> None:
    """Correct each state with its measured box, in place (batched).

    Args:
        states: ``M`` track states.
        boxes: ``(M, 4)`` xyxy measured boxes, one per state.
    """
    if not states:
        return
    means = np.stack([s.mean for s in states])  # (M, 8)
    covs = np.stack([s.covariance for s in states])  # (M, 8, 8)
    z = xyxy_to_xyah(np.asarray(boxes).reshape(len(states), 4))
    h = means[:, 3]
    std = np.stack([_STD_POSITION * h, _STD_POSITION * h, np.full_like(h, 1e-1), _STD_POSITION * h], axis=1)
    projected_cov = covs[:, :_DIM, :_DIM] + np.einsum("mi,ij->mij", std**2, np.eye(_DIM))  # H P H^T + R
    cov_ht = covs[:, :, :_DIM]  # P H^T, (M, 8, 4)
    gain = np.linalg.solve(projected_cov, cov_ht.transpose(0, 2, 1)).transpose(0, 2, 1)  # (M, 8, 4)
    means = means + np.einsum("mij,mj->mi", gain, z - means[:, :_DIM])
    covs = covs - gain @ projected_cov @ gain.transpose(0, 2, 1)
    for s, m, c in zip(states, means, covs):
        s.mean = m
        s.covariance = c


def boxes(states: list[BoxKalmanState]) -> np.ndarray:
    """``(M, 4)`` float32 xyxy boxes of the states' means."""
    if not states:
        return np.zeros((0, 4), np.float32)
    return xyah_to_xyxy(np.stack([s.mean[:_DIM] for s in states]))
