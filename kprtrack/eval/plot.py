"""Per-alpha HOTA/DetA/AssA curve as a PNG, drawn with OpenCV (no matplotlib needed)."""

from __future__ import annotations

import os

import numpy as np

from kprtrack.eval.hota_keypoints import KeypointHota
from kprtrack.eval.options import ALPHAS
from kprtrack.io.atomic import atomic_open

#: Curve -> BGR colour.
CURVES: dict[str, tuple[int, int, int]] = {"HOTA": (40, 40, 220), "DetA": (200, 110, 30), "AssA": (40, 160, 40)}


def render_alpha_curve(hota: KeypointHota, title: str = "COMBINED", size: tuple[int, int] = (820, 520)) -> np.ndarray:
    """Draw HOTA, DetA and AssA (Total column, percent) against alpha.

    Returns:
        (H, W, 3) uint8 BGR image.
    """
    import cv2

    w, h = size
    left, right, top, bottom = 70, 150, 50, 60
    img = np.full((h, w, 3), 255, np.uint8)
    pw, ph = w - left - right, h - top - bottom

    def xy(alpha: float, value: float) -> tuple[int, int]:
        return int(round(left + alpha * pw)), int(round(top + (1 - value) * ph))

    font = cv2.FONT_HERSHEY_SIMPLEX
    for k in range(11):
        v = k / 10
        cv2.line(img, xy(0, v), xy(1, v), (225, 225, 225), 1, cv2.LINE_AA)
        cv2.line(img, xy(v, 0), xy(v, 1), (225, 225, 225), 1, cv2.LINE_AA)
        x, y = xy(0, v)
        cv2.putText(img, f"{100 * v:.0f}", (x - 40, y + 5), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
        x, y = xy(v, 0)
        cv2.putText(img, f"{v:.1f}", (x - 12, y + 20), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    cv2.rectangle(img, xy(0, 1), xy(1, 0), (90, 90, 90), 1)
    cv2.putText(img, "alpha", (left + pw // 2 - 20, h - 15), font, 0.55, (30, 30, 30), 1, cv2.LINE_AA)
    cv2.putText(img, "%", (15, top + ph // 2), font, 0.55, (30, 30, 30), 1, cv2.LINE_AA)
    cv2.putText(img, f"Keypoint HOTA per alpha - {title}", (left, 30), font, 0.6, (30, 30, 30), 1, cv2.LINE_AA)
    for n, (name, colour) in enumerate(CURVES.items()):
        values = hota.arrays[name][:, -1]
        pts = np.array([xy(float(a), float(v)) for a, v in zip(ALPHAS, values)], np.int32)
        cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, (int(p[0]), int(p[1])), 3, colour, -1, cv2.LINE_AA)
        ly = top + 20 + 28 * n
        cv2.line(img, (w - right + 15, ly), (w - right + 45, ly), colour, 2, cv2.LINE_AA)
        label = f"{name} {100 * float(values.mean()):.1f}"
        cv2.putText(img, label, (w - right + 52, ly + 5), font, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
    return img


def save_alpha_curve(hota: KeypointHota, path: str | os.PathLike[str], title: str = "COMBINED") -> None:
    """Render :func:`render_alpha_curve` and write it as a PNG (atomically)."""
    import cv2

    ok, buf = cv2.imencode(".png", render_alpha_curve(hota, title))
    if not ok:
        raise RuntimeError("could not encode the PNG")
    with atomic_open(path, "wb") as fh:
        fh.write(buf.tobytes())
