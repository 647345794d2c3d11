"""Embed the people of a frame with KPR: crop, prompt, one batched forward.

Preprocessing follows the reference as the tracklab KPR wrapper runs it:

* box: clipped to the frame (``l = clip(l, 0, W - 2)``, ``w = clip(w, 1, W - 1 - l)``, same for
  y), rounded to integers (half to even) and cut ``frame[t:b, l:r]``;
* keypoints: made box-relative (``x - x1``, ``y - y1``), joints with confidence 0 or outside the
  box zeroed, then clipped to the crop (``[0, w - 1] x [0, h - 1]``), as tracklab does; the
  negatives (other people's keypoints inside the box) get the same treatment;
* image: ``cv2.resize`` INTER_LINEAR of the uint8 RGB crop to the model size (no call when the
  size already matches), normalised in float32 as albumentations 1.3.1 does;
* prompt: :func:`kprtrack.reid.prompts.build_prompt_masks` at the model size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from kprtrack.reid.head import KPROutput
from kprtrack.reid.model import KPR
from kprtrack.reid.prompts import build_prompt_masks
from kprtrack.structures import check_image

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class EmbedOutput:
    """Per-person KPR descriptors. ``N`` people, ``P`` entries (foreground + K parts), ``D`` size.

    Attributes:
        embeddings: ``(N, P, D)`` float32 (L2-normalised per entry unless the embedder was built
            with ``normalize=False``).
        visibility: ``(N, P)`` bool.
        attention: ``(N, K + 1, h, w)`` float32 part attention (softmax over background + K parts,
            channel 0 = background) at the feature-map resolution, when requested.
    """

    embeddings: np.ndarray
    visibility: np.ndarray
    attention: np.ndarray | None = None


def _check_frame(frame: Any) -> np.ndarray:
    check_image(frame, "frame")
    if frame.shape[0] < 1 or frame.shape[1] < 1:  # a 1x1 frame still gives 1x1 crops (crop_boxes)
        raise ValueError(f"frame: empty ({frame.shape[0]}x{frame.shape[1]})")
    return frame


def _check_array(name: str, value: Any, shape: tuple[int | None, ...], text: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot convert to a float array ({exc})") from exc
    if arr.size == 0 and shape[0] in (None, 0) and all(s is not None for s in shape[1:]):
        arr = arr.reshape((0, *shape[1:]))
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise ValueError(f"{name}: expected shape {text}, got {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def crop_boxes(frame_shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    """Integer crop windows ``(N, 4)`` ``l, t, r, b`` of xyxy ``boxes`` (tracklab's clipping and rounding).

    Degenerate windows (possible after rounding half to even) are widened to one pixel.
    """
    img_h, img_w = frame_shape
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    l = np.maximum(0, np.minimum(boxes[:, 0], img_w - 2))
    t = np.maximum(0, np.minimum(boxes[:, 1], img_h - 2))
    w = np.maximum(1, np.minimum(boxes[:, 2] - boxes[:, 0], img_w - 1 - l))
    h = np.maximum(1, np.minimum(boxes[:, 3] - boxes[:, 1], img_h - 1 - t))
    ltrb = np.round(np.stack([l, t, l + w, t + h], axis=1)).astype(np.int64)
    ltrb[:, 2] = np.maximum(ltrb[:, 2], ltrb[:, 0] + 1)
    ltrb[:, 3] = np.maximum(ltrb[:, 3], ltrb[:, 1] + 1)
    return ltrb


def keypoints_in_box(keypoints: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Box-relative keypoints; joints with confidence 0 or outside the box become ``0, 0, 0``.

    Args:
        keypoints: ``(..., 17, 3)`` frame pixels.
        box: ``(4,)`` xyxy.

    Returns:
        ``(..., 17, 3)`` float64 with ``x - x1, y - y1, conf`` (tracklab ``keypoints_in_bbox_coord``).
    """
    out = np.array(keypoints, dtype=np.float64, copy=True)
    x1, y1, x2, y2 = (float(v) for v in box)
    out[..., 0] -= x1
    out[..., 1] -= y1
    w, h = x2 - x1, y2 - y1
    outside = (out[..., 2] == 0) | (out[..., 0] < 0) | (out[..., 0] >= w) | (out[..., 1] < 0) | (out[..., 1] >= h)
    out[outside] = 0
    return out


def select_negatives(boxes: np.ndarray, keypoints: np.ndarray) -> list[np.ndarray]:
    """For each detection, the other detections' keypoints that fall inside its box.

    Joints outside the box or with confidence 0 are dropped (set to ``0, 0, 0``); skeletons with
    no joint left are removed, as the reference tracker (tracklab ``add_negative_samples``) does.
    The kept joints lie inside the box; :meth:`KPREmbedder.embed` clips every joint to the crop.

    Args:
        boxes: ``(N, 4)`` xyxy frame pixels.
        keypoints: ``(N, 17, 3)`` frame pixels.

    Returns:
        ``N`` float32 arrays ``(n_i, 17, 3)`` in frame pixels (``n_i <= N - 1``).
    """
    boxes = _check_array("boxes", boxes, (None, 4), "(N, 4)")
    n = boxes.shape[0]
    kps = _check_array("keypoints", keypoints, (n, 17, 3), f"(N, 17, 3) with N={n}")
    if n == 0:
        return []
    x1, y1, x2, y2 = (boxes[:, i].reshape(n, 1, 1) for i in range(4))
    rel_x = kps[None, :, :, 0] - x1  # (box i, person j, joint)
    rel_y = kps[None, :, :, 1] - y1
    conf = np.broadcast_to(kps[None, :, :, 2], rel_x.shape)
    inside = (conf != 0) & (rel_x >= 0) & (rel_x < x2 - x1) & (rel_y >= 0) & (rel_y < y2 - y1)
    out = []
    for i in range(n):
        keep = inside[i].copy()
        keep[i] = False  # not oneself
        sk = np.where(keep[..., None], kps, 0.0)
        alive = sk[:, :, 2].sum(axis=1) > 0
        out.append(sk[alive].astype(np.float32))
    return out


def resize_crop(crop: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv2.resize`` INTER_LINEAR to ``size = (H, W)``; returns the input when it already has that size."""
    h, w = size
    if crop.shape[0] == h and crop.shape[1] == w:
        return crop
    return cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_LINEAR)


def normalize_crops(
    crops: np.ndarray | torch.Tensor, mean: Sequence[float], std: Sequence[float], device: Any = None
) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 RGB -> ``(N, 3, H, W)`` float32, ``(x - 255 mean) * (1 / (255 std))`` in float32."""
    t = torch.as_tensor(crops, device=device)
    m = np.asarray(mean, dtype=np.float32) * np.float32(255)
    inv = np.reciprocal(np.asarray(std, dtype=np.float32) * np.float32(255), dtype=np.float32)
    x = t.to(torch.float32)
    x = (x - torch.from_numpy(m).to(x.device)) * torch.from_numpy(inv).to(x.device)
    return x.permute(0, 3, 1, 2)


class KPREmbedder:
    """Embeds the people of a frame with a KPR model (implements :class:`kprtrack.stages.Embedder`).

    Args:
        model: a :class:`~kprtrack.reid.model.KPR` (put in eval mode here).
        device: where to run (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
        dtype: ``"float32"``, or ``"float16"`` / ``"bfloat16"`` autocast (mixed precision; CUDA
            recommended, bfloat16 also works on CPU).
        channels_last: run convolutions in channels-last memory format (default: on CUDA only).
        normalize: L2-normalise each descriptor entry (the distance does it anyway).
        use_prompts: feed keypoint prompts (``False``: prompt-optional mode, keypoints ignored).
        max_batch: largest number of crops per forward; bigger frames are split.
        keypoint_format: ``coco17`` or ``posetrack21`` (the prompt grouping uses the same indices
            for both; see :data:`kprtrack.reid.prompts.PROMPT_GROUPINGS`).
        prompt_threshold: keypoints scoring at most this are left out of the prompts; ``None`` keeps
            the checkpoint's ``vis_thresh`` (0.3 in the reference). Raise it for pose models whose score
            is a heatmap peak, so that hidden joints do not become positive prompts.
    """

    def __init__(
        self,
        model: KPR,
        device: str | torch.device = "cpu",
        dtype: str = "float32",
        channels_last: bool | None = None,
        normalize: bool = True,
        use_prompts: bool = True,
        max_batch: int = 64,
        keypoint_format: str = "coco17",
        prompt_threshold: float | None = None,
    ) -> None:
        from kprtrack.keypoints import check_convention

        if dtype not in _DTYPES:
            raise ValueError(f"dtype: expected one of {sorted(_DTYPES)}, got {dtype!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch: expected a positive int, got {max_batch}")
        self.keypoint_format = check_convention(keypoint_format)
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        self.dtype = _DTYPES[dtype]
        self.channels_last = self.device.type == "cuda" if channels_last is None else channels_last
        self.normalize = normalize
        self.use_prompts = use_prompts
        self.max_batch = max_batch
        self.model = model.eval().to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.config = model.config
        if prompt_threshold is not None:
            if not 0.0 <= prompt_threshold <= 1.0:
                raise ValueError(f"prompt_threshold: expected a value in [0, 1], got {prompt_threshold!r}")
            self.config = self.config.replace(vis_thresh=float(prompt_threshold))

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike[str],
        architecture: str | os.PathLike[str] | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> KPREmbedder:
        """Load a released-format checkpoint (see :func:`kprtrack.reid.checkpoint.load_kpr_checkpoint`)."""
        from kprtrack.reid.checkpoint import load_kpr_checkpoint

        model, _ = load_kpr_checkpoint(path, architecture)
        return cls(model, **kwargs)

    # ------------------------------------------------------------------ public API
    def embed(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        keypoints: np.ndarray,
        negatives: Sequence[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Embed all people of one frame in one batch (the :class:`~kprtrack.stages.Embedder` protocol).

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            boxes: ``(N, 4)`` xyxy.
            keypoints: ``(N, 17, 3)`` frame pixels, or ``None`` (no prompts).
            negatives: per person ``(n_i, 17, 3)`` other people's keypoints in its box (frame
                pixels), or ``None`` to use :func:`select_negatives`.

        Returns:
            ``embeddings (N, P, D)`` float32 and ``visibility (N, P)`` bool.
        """
        out = self.embed_frame(frame, boxes, keypoints, negatives)
        return out.embeddings, out.visibility

    def embed_frame(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        keypoints: np.ndarray | None,
        negatives: Sequence[np.ndarray] | None = None,
        return_attention: bool = False,
    ) -> EmbedOutput:
        """Like :meth:`embed`, returning an :class:`EmbedOutput` (optionally with attention maps)."""
        frame = _check_frame(frame)
        boxes = _check_array("boxes", boxes, (None, 4), "(N, 4)")
        n = boxes.shape[0]
        if n and (np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1])):
            raise ValueError("boxes: expected x1 <= x2 and y1 <= y2 (xyxy format)")
        kps = None
        if keypoints is not None:
            kps = _check_array("keypoints", keypoints, (n, 17, 3), f"(N, 17, 3) with N={n}")
        if negatives is not None and len(negatives) != n:
            raise ValueError(f"negatives: expected one array per box ({n}), got {len(negatives)}")
        windows = crop_boxes(frame.shape[:2], boxes)
        crops = [frame[t:b, l:r] for l, t, r, b in windows]
        crop_kps = crop_negs = None
        if kps is not None and self.use_prompts:
            if negatives is None:
                negatives = select_negatives(boxes, kps)
            crop_kps = [keypoints_in_box(kps[i], boxes[i]) for i in range(n)]
            crop_negs = []
            for i in range(n):
                neg = _check_array(f"negatives[{i}]", negatives[i], (None, 17, 3), "(n, 17, 3)")
                crop_negs.append(keypoints_in_box(neg, boxes[i]))
        return self.embed_crops(crops, crop_kps, crop_negs, return_attention=return_attention)

    def embed_crops(
        self,
        crops: Sequence[np.ndarray],
        keypoints: Sequence[np.ndarray] | np.ndarray | None = None,
        negatives: Sequence[np.ndarray] | None = None,
        return_attention: bool = False,
    ) -> EmbedOutput:
        """Embed person crops directly.

        Args:
            crops: ``N`` RGB uint8 ``(h_i, w_i, 3)`` crops (any size).
            keypoints: ``N`` arrays ``(17, 3)`` in crop pixels (clipped to the crop), or ``None``.
            negatives: ``N`` arrays ``(n_i, 17, 3)`` in crop pixels, or ``None``.
            return_attention: also return the part attention maps.
        """
        result = self.forward_crops(crops, keypoints, negatives)
        if result is None:
            p, d = self.config.test_parts_count, self.config.dim_reduce_output
            h, w = (s // self.config.swin.patch_size for s in self.config.image_size)
            att = np.zeros((0, self.config.num_parts + 1, h, w), np.float32) if return_attention else None
            return EmbedOutput(np.zeros((0, p, d), np.float32), np.zeros((0, p), bool), att)
        emb, vis, att = [], [], []
        for out in result:
            e = out.test_embeddings.float()
            if self.normalize:
                e = F.normalize(e, p=2, dim=-1)
            emb.append(e.cpu().numpy())
            vis.append(out.test_visibility.bool().cpu().numpy())
            if return_attention:
                att.append(out.part_attention.float().cpu().numpy())
        return EmbedOutput(
            np.concatenate(emb).astype(np.float32),
            np.concatenate(vis),
            np.concatenate(att).astype(np.float32) if return_attention else None,
        )

    def preprocess(
        self,
        crops: Sequence[np.ndarray],
        keypoints: Sequence[np.ndarray] | np.ndarray | None = None,
        negatives: Sequence[np.ndarray] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Model inputs for crops: ``(N, 3, H, W)`` float32 images and ``(N, C, H, W)`` prompts (or ``None``)."""
        n = len(crops)
        for i, c in enumerate(crops):
            if not isinstance(c, np.ndarray) or c.ndim != 3 or c.shape[2] != 3 or c.dtype != np.uint8:
                raise ValueError(f"crops[{i}]: expected an RGB uint8 array (h, w, 3), got {getattr(c, 'shape', c)}")
            if c.shape[0] == 0 or c.shape[1] == 0:
                raise ValueError(f"crops[{i}]: empty crop {c.shape}")
        size = self.config.image_size
        resized = np.stack([resize_crop(c, size) for c in crops]) if n else np.zeros((0, *size, 3), np.uint8)
        images = normalize_crops(resized, self.config.mean, self.config.std, device=self.device)
        if keypoints is None or not self.use_prompts or not self.config.masks_prompting:
            return images, None
        kps = _check_array("keypoints", np.asarray(keypoints), (n, 17, 3), f"(N, 17, 3) with N={n}")
        if negatives is not None and len(negatives) != n:
            raise ValueError(f"negatives: expected one array per crop ({n}), got {len(negatives)}")
        sizes = np.array([[c.shape[1], c.shape[0]] for c in crops], dtype=np.float64).reshape(n, 2)
        prompts = build_prompt_masks(
            kps,
            sizes,
            negatives,
            grouping=self.config.prompt_grouping,
            image_size=size,
            vis_thresh=self.config.vis_thresh,
            gaussian_scale=self.config.gaussian_scale,
            use_negative_keypoints=self.config.use_negative_keypoints,
            device=self.device,
        )
        return images, prompts

    @torch.inference_mode()
    def forward_crops(
        self,
        crops: Sequence[np.ndarray],
        keypoints: Sequence[np.ndarray] | np.ndarray | None = None,
        negatives: Sequence[np.ndarray] | None = None,
    ) -> list[KPROutput] | None:
        """Preprocess and run the model, ``max_batch`` crops per forward; ``None`` for no crop."""
        if len(crops) == 0:
            return None
        outs = []
        for start in range(0, len(crops), self.max_batch):
            sl = slice(start, start + self.max_batch)
            kp = None if keypoints is None else keypoints[sl]
            ng = None if negatives is None else negatives[sl]
            images, prompts = self.preprocess(crops[sl], kp, ng)
            outs.append(self.run_model(images, prompts))
        return outs

    def run_model(self, images: torch.Tensor, prompts: torch.Tensor | None) -> KPROutput:
        """One forward with the configured device, precision and memory format."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.dtype)
            if self.dtype != torch.float32
            else nullcontext()
        )
        with autocast:
            return self.model(images, prompts)
