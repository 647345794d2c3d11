"""Letterbox preprocessing of YOLOX, in Megvii's and in mmdet's conventions.

Both keep OpenCV's BGR order and 0..255 values (no normalisation) and paste the resized image at the
top-left of a canvas filled with 114. They differ in the resized size and in the factors used to map
boxes back to the image:

* **megvii** (``yolox/data/data_augment.py preproc``): ``r = min(H / h, W / w)``, size
  ``(int(h * r), int(w * r))`` -- *truncated*, so a 720-pixel side at 416 can become 415; boxes are
  divided by the single ``r``.
* **mmdet** (``Resize(keep_ratio=True)`` + ``Pad(pad_to_square=True)``): mmcv's ``rescale_size`` with
  ``s = min(max(S) / max(h, w), min(S) / min(h, w))`` and size ``int(x * s + 0.5)`` -- *rounded*; boxes are
  divided by the per-axis factors ``(new_w / w, new_h / h)``; the canvas is the square of the long side,
  padded to a multiple of 32 with zeros (``DetDataPreprocessor(pad_size_divisor=32)``).

``legacy=True`` reproduces Megvii's ``ValTransform(legacy=True)`` (and ByteTrack's ``preproc``): after the
letterbox, BGR -> RGB, ``/ 255`` and ImageNet mean/std.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from kprtrack.structures import check_image

PAD_VALUE = 114
LEGACY_MEAN = (0.485, 0.456, 0.406)
LEGACY_STD = (0.229, 0.224, 0.225)
CONVENTIONS = ("megvii", "mmdet")


@dataclass(frozen=True)
class Letterbox:
    """How one image was letterboxed.

    Attributes:
        orig_hw: original image size.
        resized_hw: size of the resized image inside the canvas.
        canvas_hw: size of the network input.
        ratio: the single scale factor (Megvii ``r``; mmcv's ``scale_factor`` before rounding).
        box_scale_xy: factors boxes are divided by to return to the image: ``(r, r)`` (megvii) or
            ``(new_w / w, new_h / h)`` (mmdet).
        convention: ``megvii`` or ``mmdet``.
    """

    orig_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    canvas_hw: tuple[int, int]
    ratio: float
    box_scale_xy: tuple[float, float]
    convention: str


def _check_image(img: np.ndarray) -> None:
    check_image(img, "image")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"image is empty: shape {img.shape}")


def letterbox(img: np.ndarray, size_hw: tuple[int, int], convention: str = "megvii") -> tuple[np.ndarray, Letterbox]:
    """Resize ``img`` keeping its aspect ratio and pad it as the reference does.

    Args:
        img: ``(h, w, 3)`` uint8 image (channel order is kept).
        size_hw: network input size ``(H, W)`` (megvii) or the mmdet ``scale`` as ``(H, W)``.
        convention: ``megvii`` or ``mmdet``.

    Returns:
        ``canvas (H', W', 3) uint8`` and its :class:`Letterbox`.
    """
    _check_image(img)
    h, w = int(img.shape[0]), int(img.shape[1])
    th, tw = int(size_hw[0]), int(size_hw[1])
    if convention == "megvii":
        r = min(th / h, tw / w)
        nh, nw = max(int(h * r), 1), max(int(w * r), 1)
        canvas = np.full((th, tw, 3), PAD_VALUE, dtype=np.uint8)
        box_scale = (r, r)
    elif convention == "mmdet":
        r = min(max(th, tw) / max(h, w), min(th, tw) / min(h, w))
        nh, nw = max(int(h * r + 0.5), 1), max(int(w * r + 0.5), 1)
        side = max(nh, nw)
        padded = -(-side // 32) * 32
        canvas = np.zeros((padded, padded, 3), dtype=np.uint8)
        canvas[:side, :side] = PAD_VALUE
        box_scale = (nw / w, nh / h)
    else:
        raise ValueError(f"unknown letterbox convention {convention!r}; expected one of {CONVENTIONS}")
    canvas[:nh, :nw] = cv2.resize(np.ascontiguousarray(img), (nw, nh), interpolation=cv2.INTER_LINEAR)
    info = Letterbox((h, w), (nh, nw), (int(canvas.shape[0]), int(canvas.shape[1])), r, box_scale, convention)
    return canvas, info


def to_input_tensor(
    canvases: list[np.ndarray],
    legacy: bool = False,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Stack letterboxed canvases into the network input.

    Canvases of different sizes (possible with the mmdet convention) are padded bottom/right with zeros
    to the largest, as mmdet's batch collation does.

    Args:
        canvases: ``B`` uint8 ``(H_i, W_i, 3)`` BGR canvases.
        legacy: apply Megvii's legacy normalisation (BGR -> RGB, /255, mean/std).
        device: target device (the uint8 batch is moved before the float conversion).
        dtype: ``float32`` or ``float16``.

    Returns:
        ``(B, 3, H, W)`` tensor; BGR 0..255 values unless ``legacy``.
    """
    hmax = max(c.shape[0] for c in canvases)
    wmax = max(c.shape[1] for c in canvases)
    batch = np.zeros((len(canvases), hmax, wmax, 3), dtype=np.uint8)
    for i, c in enumerate(canvases):
        batch[i, : c.shape[0], : c.shape[1]] = c
    x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).float()
    if legacy:
        mean = torch.tensor(LEGACY_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(LEGACY_STD, device=x.device).view(1, 3, 1, 1)
        x = (x.flip(1) / 255.0 - mean) / std
    return x.to(dtype).contiguous()
