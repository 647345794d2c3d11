"""Global appearance embeddings with a ported OMZ re-id network (the pipeline's ``Embedder`` stage).

Each box is cut from the frame with the KPR embedder's window rule
(:func:`kprtrack.reid.embedder.crop_boxes`: clipped to the frame, rounded), resized to 256x128
with ``cv2.resize`` INTER_LINEAR (:func:`kprtrack.reid.embedder.resize_crop`), turned into BGR
float ``0..255`` (the network normalises itself) and embedded in one batched forward per frame.

The result is one *global* part per person: embeddings ``(N, 1, D)`` L2-normalised and
visibility ``(N, 1)`` all true. The tracker's part distance
(:func:`kprtrack.reid.distance.tracking_distance`, half the Euclidean distance of normalised
vectors) then equals ``sqrt((1 - cos) / 2)``, a monotone function of the cosine distance, so a
cosine-distance threshold ``c`` translates to ``d = sqrt(c / 2)``
(:func:`kprtrack.reid.distance.cosine_to_tracking_distance`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kprtrack.denormals import flush_denormals
from kprtrack.reid.embedder import _DTYPES, _check_array, _check_frame, crop_boxes, resize_crop
from kprtrack.reid.omz import OMZReidNet, load_omz_reid


class OMZReidEmbedder:
    """Embeds the people of a frame with an OMZ re-id network (implements :class:`kprtrack.stages.Embedder`).

    Args:
        model: a ported :class:`~kprtrack.reid.omz.OMZReidNet` (put in eval mode here).
        device: where to run (``"cpu"``, ``"cuda"``, ...).
        dtype: ``"float32"``, or ``"float16"`` / ``"bfloat16"`` autocast (CUDA).
        max_batch: largest number of crops per forward; bigger frames are split.
        flush_denormals: flush denormal floats to zero around each CPU forward (scoped: the
            previous setting is restored afterwards).
        normalize: L2-normalise the embeddings (the distance does it anyway).
        keypoint_format: accepted (and checked) so that every embedder takes the same options;
            the global embedding does not use keypoints.
    """

    def __init__(
        self,
        model: OMZReidNet,
        device: str | torch.device = "cpu",
        dtype: str = "float32",
        max_batch: int = 64,
        flush_denormals: bool = True,
        normalize: bool = True,
        keypoint_format: str = "coco17",
    ) -> None:
        from kprtrack.keypoints import check_convention

        if dtype not in _DTYPES:
            raise ValueError(f"dtype: expected one of {sorted(_DTYPES)}, got {dtype!r}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch: expected a positive int, got {max_batch!r}")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        self.dtype = _DTYPES[dtype]
        self.keypoint_format = check_convention(keypoint_format)
        self.model = model.eval().to(self.device)
        self.config = model.config
        self.max_batch = max_batch
        self.flush_denormals = flush_denormals
        self.normalize = normalize

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], arch: str | None = None, **options: Any) -> OMZReidEmbedder:
        """Load ``weights/omz_reid_0288.pth`` (or 0287) strictly; ``options`` go to the constructor.

        Args:
            path: a bare state dict written by ``tools/convert_omz_reid.py``.
            arch: ``omz_reid_0288`` / ``omz_reid_0287``; ``None`` infers it from the weights.
        """
        return cls(load_omz_reid(path, arch), **options)

    @property
    def dim(self) -> int:
        """Embedding size ``D``."""
        return self.config.embedding_dim

    # ------------------------------------------------------------------ public API
    def embed(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        keypoints: np.ndarray | None = None,
        negatives: Sequence[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Embed all people of one frame in one batch.

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            boxes: ``(N, 4)`` xyxy frame pixels.
            keypoints: ignored (a global embedding); accepted for the protocol.
            negatives: ignored.

        Returns:
            ``embeddings (N, 1, D)`` float32 (L2-normalised) and ``visibility (N, 1)`` bool, all true.
        """
        frame = _check_frame(frame)
        boxes = _check_array("boxes", boxes, (None, 4), "(N, 4)")
        if len(boxes) and (np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1])):
            raise ValueError("boxes: expected x1 <= x2 and y1 <= y2 (xyxy format)")
        crops = [frame[t:b, l:r] for l, t, r, b in crop_boxes(frame.shape[:2], boxes)]
        emb = self.embed_crops(crops)
        return emb[:, None, :], np.ones((len(emb), 1), dtype=bool)

    def embed_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Embed RGB uint8 person crops ``(h_i, w_i, 3)`` of any size: ``(N, D)`` float32."""
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = [
            self.forward(self.preprocess(crops[start : start + self.max_batch]))
            for start in range(0, len(crops), self.max_batch)
        ]
        return torch.cat(out).cpu().numpy().astype(np.float32)

    def preprocess(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """RGB uint8 crops -> the network input ``(N, 3, 256, 128)`` BGR float32 ``0..255``."""
        for i, c in enumerate(crops):
            if not isinstance(c, np.ndarray) or c.ndim != 3 or c.shape[2] != 3 or c.dtype != np.uint8:
                raise ValueError(f"crops[{i}]: expected an RGB uint8 array (h, w, 3), got {getattr(c, 'shape', c)}")
            if c.shape[0] == 0 or c.shape[1] == 0:
                raise ValueError(f"crops[{i}]: empty crop {c.shape}")
        resized = np.stack([resize_crop(c, self.config.input_size) for c in crops])  # (N, H, W, 3) RGB
        bgr = np.ascontiguousarray(resized[..., ::-1].transpose(0, 3, 1, 2))
        return torch.from_numpy(bgr).to(self.device, torch.float32)

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """One forward of BGR ``0..255`` images ``(N, 3, 256, 128)``: ``(N, D)`` (normalised if configured)."""
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.dtype)
            if self.dtype != torch.float32
            else contextlib.nullcontext()
        )
        with flush_denormals(self.flush_denormals and self.device.type == "cpu"), autocast:
            emb = self.model(images).float()
        return F.normalize(emb, dim=1) if self.normalize else emb
