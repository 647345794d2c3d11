"""Scene geometry on the world canvas, and the slowly panning/zooming camera.

The world is a canvas larger than the frame. Its top band (``band_bottom``) holds stands, boards
or facades, where crowd zones live; people walk on the ground below. A person at depth ``d``
(0 = far, 1 = near) stands with the feet at canvas row :meth:`Layout.foot_y` and is
:meth:`Layout.height_px` pixels tall per unit of body height. The far edge of the ground is placed
so that even a tall person with raised arms stays below the band, so crowd zones (ignore regions)
never contain an annotated person.

The camera maps canvas to frame by ``frame = zoom * (canvas - center) + frame_center``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest extent above the feet of any pose, in body heights times the largest height multiplier
#: (raised hands of a 1.1-tall person reach about 1.27).
MAX_REACH = 1.35 * 1.1


@dataclass(frozen=True)
class Layout:
    """Where things are on the canvas (all in canvas pixels).

    Attributes:
        width, height: canvas size.
        band_bottom: bottom row of the background band (stands, facades).
        y_far, y_near: foot rows at depth 0 and 1.
        s_far, s_near: pixels per body height at depth 0 and 1.
    """

    width: int
    height: int
    band_bottom: float
    y_far: float
    y_near: float
    s_far: float
    s_near: float

    @staticmethod
    def for_frame(frame_w: int, frame_h: int, pan: float) -> Layout:
        """Canvas layout for a frame size and a pan amplitude (fraction of the width)."""
        cw = int(round(frame_w * (1.25 + 2.0 * pan)))
        ch = int(round(frame_h * 1.2))
        band = 0.17 * ch
        s_far, s_near = 0.30 * frame_h, 0.62 * frame_h
        y_far = band + MAX_REACH * s_far + 0.02 * frame_h
        y_near = ch - 0.04 * frame_h
        return Layout(cw, ch, band, y_far, y_near, s_far, s_near)

    def foot_y(self, d: np.ndarray | float) -> np.ndarray | float:
        """Canvas row of the feet at depth ``d``."""
        return self.y_far + d * (self.y_near - self.y_far)

    def height_px(self, d: np.ndarray | float) -> np.ndarray | float:
        """Canvas pixels per body height at depth ``d``."""
        return self.s_far + d * (self.s_near - self.s_far)


@dataclass(frozen=True)
class CameraPath:
    """Per-frame camera: ``center`` ``(T, 2)`` canvas point at the frame centre, ``zoom`` ``(T,)``.

    Attributes:
        frame_w, frame_h: frame size.
        center: ``(T, 2)`` canvas coordinates shown at the frame centre.
        zoom: ``(T,)`` frame pixels per canvas pixel (>= 1).
    """

    frame_w: int
    frame_h: int
    center: np.ndarray
    zoom: np.ndarray

    @staticmethod
    def smooth(
        layout: Layout, frame_w: int, frame_h: int, num_frames: int, fps: float, pan: float, zoom: float, rng
    ) -> CameraPath:
        """A slow pan/zoom: sums of sinusoids with random periods (6-16 s) and phases, kept inside the canvas."""
        t = np.arange(num_frames) / fps
        periods = rng.uniform(6.0, 16.0, 3)
        phases = rng.uniform(0, 2 * np.pi, 3)
        z = 1.0 + zoom * (0.5 + 0.5 * np.sin(2 * np.pi * t / periods[0] + phases[0]))
        cx = layout.width / 2 + pan * frame_w * np.sin(2 * np.pi * t / periods[1] + phases[1])
        cy = layout.height / 2 + 0.04 * frame_h * np.sin(2 * np.pi * t / periods[2] + phases[2])
        half_w, half_h = frame_w / (2 * z), frame_h / (2 * z)
        cx = np.clip(cx, half_w, layout.width - half_w)
        cy = np.clip(cy, half_h, layout.height - half_h)
        return CameraPath(frame_w, frame_h, np.stack([cx, cy], -1), z)

    def view(self, t: int) -> tuple[float, float, float, float]:
        """Canvas rectangle ``x1, y1, x2, y2`` seen in frame ``t``."""
        cx, cy = self.center[t]
        hw, hh = self.frame_w / (2 * self.zoom[t]), self.frame_h / (2 * self.zoom[t])
        return float(cx - hw), float(cy - hh), float(cx + hw), float(cy + hh)

    def affine(self, t: int) -> np.ndarray:
        """``(2, 3)`` canvas-to-frame affine matrix of frame ``t``."""
        z = self.zoom[t]
        cx, cy = self.center[t]
        return np.array([[z, 0.0, self.frame_w / 2 - z * cx], [0.0, z, self.frame_h / 2 - z * cy]])

    def to_frame(self, xy: np.ndarray, t: np.ndarray | int) -> np.ndarray:
        """Map canvas points ``(..., 2)`` (one row per frame in ``t``) to frame coordinates."""
        z = np.asarray(self.zoom[t])[..., None]
        c = np.asarray(self.center[t])
        return z * (xy - c) + np.array([self.frame_w / 2, self.frame_h / 2])
