"""Heatmap codecs: keypoints <-> Gaussian heatmaps, as mmpose's ``MSRAHeatmap`` and ``UDPHeatmap``.

Decoding (heatmaps -> keypoints in crop pixels, scores), per keypoint channel:

* ``msra``: first argmax of the flattened map, score = its value; a map whose maximum is ``<= 0``
  gives location ``(-1, -1)``. Then the quarter-pixel refinement: ``x += 0.25 * sign(h[y, x+1] -
  h[y, x-1])`` only when ``1 < x < W-1`` and ``0 < y < H``, ``y += 0.25 * sign(h[y+1, x] - h[y-1, x])``
  only when ``1 < y < H-1`` and ``0 < x < W`` (mmpose's asymmetric bounds), then ``* input/heatmap``.
* ``dark`` (MSRA ``unbiased=True``): the argmax is refined by a second-order Taylor step on the
  log of the Gaussian-blurred heatmap.
* ``udp``: argmax, DARK-UDP refinement on the edge-padded log heatmap, then
  ``* input_size / (heatmap_size - 1)`` (mmpose's decode; its encode uses ``(input_size - 1) /
  (heatmap_size - 1)``, so a UDP round trip in crop pixels scales by ``input / (input - 1)``; mapped
  back to the image with mmpose's formula the factor cancels against the UDP warp).

Encoding (the inverse, for training targets) draws an unnormalised Gaussian (peak 1) of ``sigma``
heatmap pixels around each visible keypoint: ``msra`` at the rounded position (3-sigma window),
``dark`` at the exact sub-pixel position (whole map), ``udp`` at the sub-pixel position on the
``(input - 1) / (heatmap - 1)`` grid. A keypoint whose window misses the map gets weight 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from kprtrack.pose.config import CodecConfig


def heatmap_maximum(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax location and value of each map.

    Args:
        heatmaps: ``(N, K, H, W)`` float32.

    Returns:
        ``locs (N, K, 2)`` float32 ``x, y`` (``-1, -1`` where the maximum is ``<= 0``) and ``vals (N, K)``.
    """
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n * k, h * w)
    idx = np.argmax(flat, axis=1) if flat.size else np.zeros(n * k, dtype=np.int64)
    ys, xs = np.unravel_index(idx, (h, w))
    locs = np.stack((xs, ys), axis=-1).astype(np.float32)
    vals = flat[np.arange(n * k), idx] if flat.size else np.zeros(n * k, dtype=heatmaps.dtype)
    locs[vals <= 0] = -1
    return locs.reshape(n, k, 2), vals.reshape(n, k)


def refine_quarter(locs: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Move each argmax a quarter pixel towards the higher neighbour (mmpose ``refine_keypoints``).

    Args:
        locs: ``(N, K, 2)`` float32 integer locations from :func:`heatmap_maximum`.
        heatmaps: ``(N, K, H, W)``.

    Returns:
        New ``(N, K, 2)`` float32 locations.
    """
    n, k, h, w = heatmaps.shape
    x = locs[..., 0].astype(int)
    y = locs[..., 1].astype(int)
    ni, ki = np.indices((n, k))
    ok_x = (1 < x) & (x < w - 1) & (0 < y) & (y < h)
    ok_y = (1 < y) & (y < h - 1) & (0 < x) & (x < w)
    xc, yc = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    dx = heatmaps[ni, ki, yc, np.clip(x + 1, 0, w - 1)] - heatmaps[ni, ki, yc, np.clip(x - 1, 0, w - 1)]
    dy = heatmaps[ni, ki, np.clip(y + 1, 0, h - 1), xc] - heatmaps[ni, ki, np.clip(y - 1, 0, h - 1), xc]
    step = np.stack((np.where(ok_x, np.sign(dx), 0), np.where(ok_y, np.sign(dy), 0)), axis=-1)
    return locs + step.astype(np.float32) * np.float32(0.25)


def gaussian_blur(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """Blur each ``(H, W)`` map with zero padding, keeping its maximum (mmpose ``gaussian_blur``).

    Args:
        heatmaps: ``(K, H, W)`` float32 (not modified).
        kernel: odd kernel size.

    Returns:
        The blurred ``(K, H, W)`` float32 maps.
    """
    border = (kernel - 1) // 2
    k, h, w = heatmaps.shape
    out = np.empty_like(heatmaps, dtype=np.float32)
    for c in range(k):
        origin_max = np.max(heatmaps[c])
        padded = np.zeros((h + 2 * border, w + 2 * border), dtype=np.float32)
        padded[border:-border, border:-border] = heatmaps[c]
        blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[border:-border, border:-border]
        out[c] = blurred * (origin_max / np.max(blurred))
    return out


def refine_dark(locs: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int) -> np.ndarray:
    """Distribution-aware (DARK) refinement: one Newton step on the log of the blurred map.

    Args:
        locs: ``(N, K, 2)`` float32 argmax locations.
        heatmaps: ``(N, K, H, W)`` float32.
        blur_kernel_size: modulation kernel (11 for sigma 2).

    Returns:
        New ``(N, K, 2)`` float32 locations; keypoints within 2 pixels of the border stay unrefined.
    """
    out = locs.copy()
    n_inst, _, h, w = heatmaps.shape
    for n in range(n_inst):
        hm = np.log(np.maximum(gaussian_blur(heatmaps[n], blur_kernel_size), np.float32(1e-10)))
        x = out[n, :, 0].astype(int)
        y = out[n, :, 1].astype(int)
        ok = (1 < x) & (x < w - 2) & (1 < y) & (y < h - 2)
        ks = np.nonzero(ok)[0]
        if ks.size == 0:
            continue
        x, y = x[ks], y[ks]
        half, quarter = np.float32(0.5), np.float32(0.25)
        dx = half * (hm[ks, y, x + 1] - hm[ks, y, x - 1])
        dy = half * (hm[ks, y + 1, x] - hm[ks, y - 1, x])
        dxx = quarter * (hm[ks, y, x + 2] - 2 * hm[ks, y, x] + hm[ks, y, x - 2])
        dxy = quarter * (hm[ks, y + 1, x + 1] - hm[ks, y - 1, x + 1] - hm[ks, y + 1, x - 1] + hm[ks, y - 1, x - 1])
        dyy = quarter * (hm[ks, y + 2, x] - 2 * hm[ks, y, x] + hm[ks, y - 2, x])
        invertible = dxx * dyy - dxy**2 != 0
        if not invertible.any():
            continue
        hessian = np.stack((np.stack((dxx, dxy), -1), np.stack((dxy, dyy), -1)), -2)[invertible]
        derivative = np.stack((dx, dy), -1)[invertible][..., None]
        offset = -(np.linalg.inv(hessian) @ derivative)[..., 0]
        out[n, ks[invertible]] += offset.astype(np.float32)
    return out


def refine_dark_udp(locs: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int) -> np.ndarray:
    """DARK refinement as UDP computes it (mmpose ``refine_keypoints_dark_udp``).

    Args:
        locs: ``(N, K, 2)`` float32 argmax locations.
        heatmaps: ``(N, K, H, W)`` float32.
        blur_kernel_size: modulation kernel.

    Returns:
        New ``(N, K, 2)`` float32 locations.
    """
    out = locs.copy()
    n_inst, k, h, w = heatmaps.shape
    eye_eps = np.finfo(np.float32).eps * np.eye(2)
    for n in range(n_inst):
        hm = np.log(np.clip(gaussian_blur(heatmaps[n], blur_kernel_size), np.float32(1e-3), np.float32(50.0)))
        pad = np.pad(hm, ((0, 0), (1, 1), (1, 1)), mode="edge").ravel()
        index = out[n, :, 0] + 1 + (out[n, :, 1] + 1) * (w + 2)
        index = (index + (w + 2) * (h + 2) * np.arange(k)).astype(int)
        i_ = pad[index]
        ix1, ix1_ = pad[index + 1], pad[index - 1]
        iy1, iy1_ = pad[index + w + 2], pad[index - 2 - w]
        ix1y1, ix1_y1_ = pad[index + w + 3], pad[index - w - 3]
        derivative = np.stack((0.5 * (ix1 - ix1_), 0.5 * (iy1 - iy1_)), -1)[..., None]
        dxx = ix1 - 2 * i_ + ix1_
        dyy = iy1 - 2 * i_ + iy1_
        dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
        hessian = np.stack((np.stack((dxx, dxy), -1), np.stack((dxy, dyy), -1)), -2) + eye_eps
        out[n] = (out[n] - (np.linalg.inv(hessian) @ derivative)[..., 0]).astype(np.float32)
    return out


class HeatmapCodec:
    """Encode keypoints into heatmaps and decode heatmaps into keypoints (see the module docstring).

    Args:
        cfg: codec settings; ``cfg.variant`` selects msra / dark / udp.
    """

    def __init__(self, cfg: CodecConfig) -> None:
        self.cfg = cfg
        self.variant = cfg.variant
        in_size = np.asarray(cfg.input_size, dtype=np.float64)
        hm_size = np.asarray(cfg.heatmap_size, dtype=np.float64)
        if self.variant == "udp":
            self.scale_factor = ((in_size - 1) / (hm_size - 1)).astype(np.float32)
        else:
            self.scale_factor = (in_size / hm_size).astype(np.float32)

    # ------------------------------------------------------------------ decode
    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps -> keypoints in crop (network input) pixels.

        Args:
            heatmaps: ``(N, K, H, W)`` float32 (``H, W`` = ``cfg.heatmap_size[::-1]``).

        Returns:
            ``keypoints (N, K, 2)`` (float32; float64 for udp, like mmpose) and ``scores (N, K)`` float32.
        """
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        if heatmaps.ndim != 4:
            raise ValueError(f"heatmaps must be (N, K, H, W), got shape {heatmaps.shape}")
        w, h = self.cfg.heatmap_size
        if heatmaps.shape[2:] != (h, w):
            raise ValueError(f"heatmaps are {heatmaps.shape[3]}x{heatmaps.shape[2]}, codec expects {w}x{h}")
        locs, scores = heatmap_maximum(heatmaps)
        if self.variant == "msra":
            return refine_quarter(locs, heatmaps) * self.scale_factor, scores
        if self.variant == "dark":
            return refine_dark(locs, heatmaps, self.cfg.blur_kernel_size) * self.scale_factor, scores
        locs = refine_dark_udp(locs, heatmaps, self.cfg.blur_kernel_size)
        return locs / np.array([w - 1, h - 1]) * np.array(self.cfg.input_size), scores

    # ------------------------------------------------------------------ encode
    def encode(self, keypoints: np.ndarray, visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints of one instance -> target heatmaps and keypoint weights.

        Args:
            keypoints: ``(K, 2)`` in crop (network input) pixels.
            visible: ``(K,)`` visibility / weight; a keypoint below 0.5 gets an empty map. Default all 1.

        Returns:
            ``heatmaps (K, H, W)`` float32 in ``[0, 1]`` and ``weights (K,)`` float32 (0 where the
            Gaussian lies outside the map).
        """
        kp = np.asarray(keypoints, dtype=np.float32)
        if kp.ndim != 2 or kp.shape[1] < 2:
            raise ValueError(f"keypoints must be (K, 2), got shape {kp.shape}")
        kp = kp[:, :2] / self.scale_factor
        vis = np.ones(len(kp), dtype=np.float32) if visible is None else np.asarray(visible, dtype=np.float32)
        if vis.shape != (len(kp),):
            raise ValueError(f"visible must be ({len(kp)},), got shape {vis.shape}")
        if self.variant == "dark":
            return _encode_unbiased(kp, vis, self.cfg.heatmap_size, self.cfg.sigma)
        return _encode_windowed(kp, vis, self.cfg.heatmap_size, self.cfg.sigma, subpixel=self.variant == "udp")


def _encode_windowed(
    kp: np.ndarray, vis: np.ndarray, heatmap_size: tuple[int, int], sigma: float, subpixel: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussians in a 3-sigma window around the rounded position (``subpixel``: centred on the exact one)."""
    w, h = heatmap_size
    heatmaps = np.zeros((len(kp), h, w), dtype=np.float32)
    weights = vis.copy()
    radius = sigma * 3
    size = 2 * radius + 1
    grid = np.arange(0, size, 1, dtype=np.float32)
    for k, (mu_f, v) in enumerate(zip(kp, vis)):
        if v < 0.5:
            continue
        mu = (mu_f + 0.5).astype(np.int64)
        left, top = (mu - radius).astype(np.int64)
        right, bottom = (mu + radius + 1).astype(np.int64)
        if left >= w or top >= h or right < 0 or bottom < 0:
            weights[k] = 0
            continue
        x0 = y0 = size // 2
        if subpixel:
            x0, y0 = x0 + (mu_f[0] - mu[0]), y0 + (mu_f[1] - mu[1])
        gaussian = np.exp(-((grid - x0) ** 2 + (grid[:, None] - y0) ** 2) / (2 * sigma**2))
        gx1, gx2 = max(0, -left), min(w, right) - left
        gy1, gy2 = max(0, -top), min(h, bottom) - top
        region = heatmaps[k, max(0, top) : min(h, bottom), max(0, left) : min(w, right)]
        np.maximum(region, gaussian[gy1:gy2, gx1:gx2], out=region)
    return heatmaps, weights


def _encode_unbiased(
    kp: np.ndarray, vis: np.ndarray, heatmap_size: tuple[int, int], sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """DARK targets: a Gaussian at the exact sub-pixel position over the whole map."""
    w, h = heatmap_size
    heatmaps = np.zeros((len(kp), h, w), dtype=np.float32)
    weights = vis.copy()
    radius = sigma * 3
    x = np.arange(0, w, 1, dtype=np.float32)
    y = np.arange(0, h, 1, dtype=np.float32)[:, None]
    for k, (mu, v) in enumerate(zip(kp, vis)):
        if v < 0.5:
            continue
        left, top = mu - radius
        right, bottom = mu + radius + 1
        if left >= w or top >= h or right < 0 or bottom < 0:
            weights[k] = 0
            continue
        heatmaps[k] = np.exp(-((x - mu[0]) ** 2 + (y - mu[1]) ** 2) / (2 * sigma**2))
    return heatmaps, weights


def build_codec(cfg: CodecConfig) -> HeatmapCodec:
    """The codec for ``cfg``."""
    return HeatmapCodec(cfg)
