"""Backgrounds (field, court, street), crowd zones and photometric effects.

A background is rendered once per sequence on the world canvas (textures, lines, stands or
facades in the top band, optionally a crowd zone of small unannotated spectators together with
its mask and bounding rectangle). Per frame, the camera crops it with one affine warp; after the
people are drawn, :class:`Photometric` applies the global illumination change (a per-frame
look-up table), a mild Gaussian blur and sensor noise (a pre-drawn noise tile at a random offset).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kprtrack.synth.camera import Layout

SCENES: tuple[str, ...] = ("field", "court", "street")


def scene_kind(seed: int, index: int) -> str:
    """Scene type of sequence ``index``: the three types take turns (starting point set by the seed)."""
    return SCENES[(index + seed) % len(SCENES)]


@dataclass
class Background:
    """A sequence's canvas.

    Attributes:
        kind: scene type.
        image: ``(Hc, Wc, 3)`` uint8 BGR canvas.
        crowd_mask: ``(Hc, Wc)`` uint8, 255 on crowd pixels, or ``None`` without a crowd zone.
        crowd_rect: canvas rectangle ``x1, y1, x2, y2`` enclosing the crowd, or ``None``.
    """

    kind: str
    image: np.ndarray
    crowd_mask: np.ndarray | None
    crowd_rect: tuple[float, float, float, float] | None


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int, amp: float) -> np.ndarray:
    small = rng.normal(0.0, 1.0, (h // cell + 2, w // cell + 2)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * amp


def _texture(rng: np.random.Generator, h: int, w: int, base: tuple[int, int, int], low: float, high: float):
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    img += _smooth_noise(rng, h, w, max(8, w // 24), low)[..., None]
    img += rng.normal(0.0, high, (h, w, 1)).astype(np.float32)
    return img


def _jit(rng: np.random.Generator, color: tuple[int, int, int], amount: int) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)  # type: ignore[return-value]


def _stands(rng: np.random.Generator, img: np.ndarray, layout: Layout) -> None:
    band = int(layout.band_bottom)
    rows = max(3, band // max(4, int(layout.height * 0.03)))
    row_h = band / rows
    seat = _jit(rng, ((90, 60, 40), (40, 40, 130), (120, 120, 120), (40, 100, 40))[int(rng.integers(4))], 20)
    for r in range(rows):
        y0, y1 = int(r * row_h), int((r + 1) * row_h)
        shade = 0.75 + 0.25 * (r % 2)
        img[y0:y1] = img[y0:y1] * 0.3 + np.array(seat, np.float32) * shade * 0.7
    # advertising boards just below the band
    bh = max(3, int(0.03 * layout.height))
    x = 0
    while x < layout.width:
        wdt = int(rng.integers(layout.width // 12, layout.width // 5))
        img[band : band + bh, x : x + wdt] = _jit(rng, (200, 200, 200), 120)
        x += wdt


def _facades(rng: np.random.Generator, img: np.ndarray, layout: Layout) -> None:
    band = int(layout.band_bottom)
    x = 0
    while x < layout.width:
        wdt = int(rng.integers(layout.width // 10, layout.width // 4))
        img[:band, x : x + wdt] = _jit(rng, (150, 160, 175), 60)
        win = max(4, band // 6)
        glass = _jit(rng, (110, 90, 70), 25)
        for wy in range(win // 2, band - win, 2 * win):
            for wx in range(x + win // 2, x + wdt - win, 2 * win):
                img[wy : wy + win, wx : wx + win] = glass
        x += wdt


def _crowd(rng: np.random.Generator, img: np.ndarray, layout: Layout):
    """Spectators in the band; returns their mask and bounding rectangle."""
    band = layout.band_bottom
    mask = np.zeros((layout.height, layout.width), np.uint8)
    size = max(6.0, 0.05 * layout.height)  # figure height
    x0 = rng.uniform(0.0, 0.5) * layout.width
    x1 = min(layout.width - 1.0, x0 + rng.uniform(0.3, 0.6) * layout.width)
    xs_all, ys_all = [], []
    y = size * 0.5
    while y + size * 0.6 < band - 2:
        x = x0 + rng.uniform(0, size * 0.5)
        while x < x1:
            if rng.random() < 0.85:
                head = max(1, int(size * 0.16))
                cx, cy = int(x), int(y)
                shirt = tuple(int(v) for v in rng.integers(20, 240, 3))
                skin = _jit(rng, (130, 165, 210), 70)
                axes = (max(1, int(size * 0.22)), max(1, int(size * 0.3)))
                body_c = (cx, cy + int(size * 0.4))
                cv2.ellipse(img, body_c, axes, 0, 0, 360, shirt, -1)
                cv2.ellipse(mask, body_c, axes, 0, 0, 360, 255, -1)
                cv2.circle(img, (cx, cy), head, skin, -1)
                cv2.circle(mask, (cx, cy), head, 255, -1)
                xs_all += [cx - axes[0] - 1, cx + axes[0] + 1]
                ys_all += [cy - head - 1, body_c[1] + axes[1] + 1]
            x += size * rng.uniform(0.45, 0.7)
        y += size * 0.75
    if not xs_all:
        return None, None
    rect = (
        float(max(0, min(xs_all))),
        float(max(0, min(ys_all))),
        float(min(layout.width, max(xs_all) + 1)),
        float(min(band - 1, max(ys_all) + 1)),
    )
    return mask, rect


def make_background(kind: str, layout: Layout, rng: np.random.Generator, crowd: bool) -> Background:
    """Render the canvas of a scene.

    Args:
        kind: ``field``, ``court`` or ``street``.
        layout: canvas geometry.
        rng: random stream.
        crowd: add a crowd zone in the top band.
    """
    h, w = layout.height, layout.width
    band = int(layout.band_bottom)
    if kind == "field":
        img = _texture(rng, h, w, _jit(rng, (55, 130, 50), 15), 10.0, 5.0)
        stripe = max(8, w // 14)
        cols = (np.arange(w) // stripe) % 2
        img += (cols[None, :, None] * 12.0 - 6.0).astype(np.float32)
        _stands(rng, img, layout)
        line = (225, 230, 225)
        lt = max(1, int(0.006 * layout.height))
        y_line = int(layout.y_far - 0.02 * layout.height)
        img_u8 = np.clip(img, 0, 255).astype(np.uint8)
        cv2.line(img_u8, (0, y_line), (w, y_line), line, lt)
        cv2.line(img_u8, (w // 2, y_line), (w // 2, h), line, lt)
        cy = int((layout.y_far + layout.y_near) / 2)
        cv2.ellipse(img_u8, (w // 2, cy), (int(0.14 * w), int(0.1 * h)), 0, 0, 360, line, lt)
    elif kind == "court":
        img = _texture(rng, h, w, _jit(rng, (75, 145, 200), 15), 6.0, 3.0)
        plank = max(3, int(0.015 * h))
        rows = (np.arange(h) // plank) % 3
        img += (rows[:, None, None] * 6.0 - 6.0).astype(np.float32)
        grain = rng.normal(0.0, 1.0, (h // 2 + 1, w // 40 + 2)).astype(np.float32)
        img += cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)[..., None] * 7.0
        _stands(rng, img, layout)
        img_u8 = np.clip(img, 0, 255).astype(np.uint8)
        paint = _jit(rng, ((150, 80, 40), (40, 60, 150), (60, 120, 60))[int(rng.integers(3))], 30)
        x0 = int(rng.uniform(0.1, 0.5) * w)
        y0 = int(layout.y_far + 0.05 * h)
        zone = img_u8[y0:h, x0 : x0 + w // 4]
        zone[:] = (zone * 0.4 + np.array(paint) * 0.6).astype(np.uint8)
        line = _jit(rng, (235, 235, 235), 10)
        lt = max(1, int(0.006 * h))
        cv2.rectangle(img_u8, (x0, y0), (x0 + w // 4, h + 5), line, lt)
        cv2.line(img_u8, (0, int(layout.y_far)), (w, int(layout.y_far)), line, lt)
    else:  # street
        img = _texture(rng, h, w, _jit(rng, (88, 88, 92), 10), 8.0, 7.0)
        _facades(rng, img, layout)
        walk_y0 = band
        walk_y1 = int(layout.y_far + 0.05 * layout.height)
        img[walk_y0:walk_y1] = img[walk_y0:walk_y1] * 0.4 + np.array(_jit(rng, (150, 150, 155), 15), np.float32) * 0.6
        img_u8 = np.clip(img, 0, 255).astype(np.uint8)
        tile = max(6, int(0.04 * h))
        for x in range(0, w, tile):
            cv2.line(img_u8, (x, walk_y0), (x, walk_y1), (120, 120, 125), 1)
        cv2.line(img_u8, (0, walk_y1), (w, walk_y1), (200, 200, 200), max(1, int(0.008 * h)))
        lane_y = int((walk_y1 + h) / 2)
        dash = max(10, w // 20)
        for x in range(0, w, 2 * dash):
            cv2.line(img_u8, (x, lane_y), (x + dash, lane_y), (230, 230, 230), max(1, int(0.006 * h)))
    mask, rect = _crowd(rng, img_u8, layout) if crowd else (None, None)
    return Background(kind, img_u8, mask, rect)


@dataclass
class Photometric:
    """Per-frame illumination, blur and noise of one sequence.

    Attributes:
        luts: ``(T, 256, 1, 3)`` uint8 per-frame, per-channel gain look-up tables.
        noise_add, noise_sub: ``(H + 16, W + 16, 3)`` uint8 positive and negative noise parts.
        offsets: ``(T, 2)`` per-frame offsets into the noise tiles.
        blur_sigma: Gaussian blur sigma (0: none).
    """

    luts: np.ndarray
    noise_add: np.ndarray
    noise_sub: np.ndarray
    offsets: np.ndarray
    blur_sigma: float

    @staticmethod
    def draw(
        rng: np.random.Generator,
        width: int,
        height: int,
        num_frames: int,
        fps: float,
        illumination: float,
        noise_sigma: tuple[float, float],
        blur_sigma: tuple[float, float],
    ) -> Photometric:
        """Random slow brightness curve (sinusoid plus an optional passing cloud), colour tint, noise and blur."""
        t = np.arange(num_frames) / fps
        gain = 1.0 + illumination * np.sin(2 * np.pi * t / rng.uniform(4.0, 12.0) + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.4:
            t0, width_s = rng.uniform(0, t[-1] + 1e-6), rng.uniform(0.5, 2.0)
            gain -= illumination * np.exp(-(((t - t0) / width_s) ** 2))
        tint = 1.0 + rng.uniform(-0.06, 0.06, 3)
        levels = np.arange(256, dtype=np.float64)
        luts = np.clip(levels[None, :, None] * gain[:, None, None] * tint[None, None, :] + 0.5, 0, 255)
        luts = luts.astype(np.uint8).reshape(num_frames, 256, 1, 3)
        sigma = rng.uniform(*noise_sigma)
        noise = rng.normal(0.0, sigma, (height + 16, width + 16, 3))
        add = np.clip(noise, 0, 255).astype(np.uint8)
        sub = np.clip(-noise, 0, 255).astype(np.uint8)
        offsets = rng.integers(0, 17, (num_frames, 2))
        return Photometric(luts, add, sub, offsets, float(rng.uniform(*blur_sigma)))

    def apply(self, image: np.ndarray, t: int) -> np.ndarray:
        """Return frame ``t``'s final image (``image`` is modified or replaced)."""
        h, w = image.shape[:2]
        out = cv2.LUT(image, self.luts[t])
        if self.blur_sigma > 0.2:
            k = 3 if self.blur_sigma < 0.8 else 5
            out = cv2.GaussianBlur(out, (k, k), self.blur_sigma)
        oy, ox = self.offsets[t]
        cv2.add(out, self.noise_add[oy : oy + h, ox : ox + w], dst=out)
        cv2.subtract(out, self.noise_sub[oy : oy + h, ox : ox + w], dst=out)
        return out
