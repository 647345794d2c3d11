"""MOTChallenge text output: one row ``frame,id,x,y,w,h,conf,-1,-1,-1`` per tracked box."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from kprtrack.io.atomic import atomic_open
from kprtrack.structures import FrameRecord


def mot_rows(record: FrameRecord) -> list[str]:
    """MOT rows of one frame: tracked rows only, frame number 1-based (``frame_index + 1``)."""
    if record.track_ids is None:
        return []
    rows = []
    for box, score, tid in zip(record.boxes, record.scores, record.track_ids):
        if tid < 0:
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        values = [f"{v:.2f}" for v in (x1, y1, x2 - x1, y2 - y1)]
        rows.append(",".join([str(record.frame_index + 1), str(int(tid)), *values, f"{float(score):.4f}", "-1,-1,-1"]))
    return rows


def write_mot(path: str | os.PathLike[str], records: Iterable[FrameRecord]) -> int:
    """Write MOTChallenge rows for ``records`` atomically; returns the number of rows."""
    n = 0
    with atomic_open(path, "w") as f:
        for record in records:
            for row in mot_rows(record):
                f.write(row + "\n")
                n += 1
    return n


def read_mot(path: str | os.PathLike[str]) -> np.ndarray:
    """Read MOT rows as an ``(R, 10)`` float64 array (empty file -> ``(0, 10)``)."""
    text = Path(path).read_text()
    if not text.strip():
        return np.zeros((0, 10))
    return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2).reshape(-1, 10)
