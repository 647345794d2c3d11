"""Hand-made scenes for the tracker tests: people with fixed part embeddings, boxes and poses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kprtrack.structures import FrameRecord
from kprtrack.track import (
    BaseTracker,
    ByteTrackIoU,
    ByteTrackIoUConfig,
    IdCounter,
    KPRTracker,
    KPRTrackerConfig,
)

P, D = 9, 32  # foreground + 8 parts, small feature size for fast tests

#: Every tracker variant the contract tests run on: name -> (tracker class, config overrides).
VARIANTS: dict[str, tuple[type[BaseTracker], dict]] = {
    "kpr": (KPRTracker, {}),
    "kpr_motion_iou": (KPRTracker, {"motion": "iou"}),
    "kpr_motion_oks": (KPRTracker, {"motion": "oks"}),
    "bytetrack_iou": (ByteTrackIoU, {}),
}
APPEARANCE_VARIANTS = [name for name, (cls, _) in VARIANTS.items() if cls is KPRTracker]


def make_tracker(
    variant: str, frame_rate: float = 30.0, id_counter: IdCounter | None = None, **overrides
) -> BaseTracker:
    """A tracker of ``variant`` with its default config plus ``overrides``."""
    cls, base = VARIANTS[variant]
    config_cls = KPRTrackerConfig if cls is KPRTracker else ByteTrackIoUConfig
    return cls(config_cls(**{**base, **overrides}), frame_rate=frame_rate, id_counter=id_counter)


def identity(rng: np.random.Generator, d: int = D) -> np.ndarray:
    """``(P, d)`` unit part features of a new person."""
    x = rng.normal(size=(P, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


_U = np.linspace(0.2, 0.8, 17)
_V = np.linspace(0.05, 0.95, 17)


def pose_in_box(box: Sequence[float], conf: float = 0.9) -> np.ndarray:
    """``(17, 3)`` keypoints spread over ``box`` on a fixed layout (enough for OKS)."""
    x1, y1, x2, y2 = box
    return np.stack([x1 + _U * (x2 - x1), y1 + _V * (y2 - y1), np.full(17, conf)], axis=1).astype(np.float32)


def box_at(cx: float, cy: float = 200.0, w: float = 60.0, h: float = 160.0) -> list[float]:
    """An xyxy box centred at ``(cx, cy)``."""
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


@dataclass
class Det:
    """One detection to put in a frame."""

    features: np.ndarray  # (P, D) identity features (noise is added when the frame is built)
    box: Sequence[float]
    score: float = 0.9
    visibility: np.ndarray = field(default_factory=lambda: np.ones(P, bool))


def frame(
    dets: Sequence[Det],
    frame_index: int = 0,
    rng: np.random.Generator | None = None,
    noise: float = 0.1,
    noise_bank: np.ndarray | None = None,
) -> FrameRecord:
    """A FrameRecord of ``dets`` in the given order, with embedding noise of norm about ``noise`` per part.

    ``noise_bank``: optional ``(B, P, D)`` unit-variance noise to draw rows from (cheaper than sampling).
    """
    if not dets:
        return FrameRecord.empty(frame_index)
    rng = rng or np.random.default_rng(frame_index)
    emb = np.stack([d.features for d in dets]).astype(np.float32)
    if noise_bank is None:
        unit = rng.standard_normal(emb.shape, dtype=np.float32)
    else:
        unit = noise_bank[rng.integers(0, len(noise_bank), len(dets))]
    emb += np.float32(noise / np.sqrt(emb.shape[-1])) * unit
    boxes = np.array([d.box for d in dets], np.float32)
    return FrameRecord(
        boxes=boxes,
        scores=np.array([d.score for d in dets], np.float32),
        keypoints=np.stack([pose_in_box(d.box) for d in dets]),
        embeddings=emb,
        visibility=np.stack([d.visibility for d in dets]),
        frame_index=frame_index,
    )


def exact_frame(features: np.ndarray, visibility: np.ndarray, frame_index: int) -> FrameRecord:
    """One detection at ``box_at(100)`` with exactly these ``(P, D)`` features and ``(P,)`` visibility (no noise)."""
    return FrameRecord(
        boxes=np.array([box_at(100)], np.float32),
        scores=np.array([0.9], np.float32),
        keypoints=np.zeros((1, 17, 3), np.float32),
        embeddings=features[None],
        visibility=visibility[None],
        frame_index=frame_index,
    )


def run(tracker: BaseTracker, frames: Sequence[Sequence[Det]], seed: int = 0, start: int = 0) -> list[np.ndarray]:
    """Feed ``frames`` to ``tracker``; returns the ``(N,)`` track ids of each frame."""
    rng = np.random.default_rng(seed)
    out = []
    for i, dets in enumerate(frames):
        out.append(tracker.update(frame(dets, start + i, rng)).track_ids)
    return out
