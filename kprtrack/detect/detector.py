"""``YOLOXDetector``: the native person detector stage (implements :class:`kprtrack.stages.Detector`).

Frames come in RGB (the pipeline's convention) and are flipped to BGR, the order YOLOX was trained on,
before the reference letterbox; all frames of a call go through the network in batches of
``batch_size`` regardless of their sizes (each is letterboxed to the same input size).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from kprtrack.detect.model import YOLOX, decode_outputs
from kprtrack.detect.postprocess import postprocess_megvii, postprocess_mmdet, rescale_megvii
from kprtrack.detect.preprocess import CONVENTIONS, Letterbox, letterbox, to_input_tensor
from kprtrack.detect.variants import VARIANTS, build_yolox, canonical_variant
from kprtrack.detect.weights import load_yolox
from kprtrack.structures import check_image

#: defaults of the two conventions' reference scripts, used when a threshold is left as None.
DEFAULT_THRESHOLDS = {"megvii": (0.1, 0.45), "mmdet": (0.01, 0.65)}


@dataclass
class YOLOXDetectorConfig:
    """Options of :class:`YOLOXDetector` (the one place their defaults live).

    Attributes:
        input_size: network input ``(H, W)``; ``None`` = the variant's test size (416 for nano/tiny,
            640 otherwise).
        conf_threshold: keep anchors with ``obj * class prob >=`` this; ``None`` = 0.1 (megvii) / 0.01 (mmdet).
        nms_threshold: IoU above which NMS suppresses; ``None`` = 0.45 (megvii) / 0.65 (mmdet).
        classes: class ids returned by :meth:`YOLOXDetector.detect` (``(0,)``: person); ``None`` = all.
        class_agnostic: one NMS over all classes instead of per class.
        convention: ``megvii`` or ``mmdet`` letterbox/rescale semantics; ``None`` = from the checkpoint format.
        legacy: Megvii's legacy input normalisation (BGR->RGB, /255, ImageNet mean/std), needed by
            ByteTrack-era person detectors.
        device: torch device string.
        fp16: run the network in float16 (CUDA only); postprocessing stays float32.
        batch_size: frames per forward pass.
        backend: what runs the network: ``torch`` (the model itself), ``torch_fused`` (a copy with
            folded BatchNorms in channels-last memory, :func:`kprtrack.fuse.inference_copy`) or
            ``onnxruntime`` (CPU, optional extra; :mod:`kprtrack.onnx_backend`). The last two give the
            same outputs to float32 rounding, faster on a CPU.
    """

    input_size: tuple[int, int] | None = None
    conf_threshold: float | None = None
    nms_threshold: float | None = None
    classes: tuple[int, ...] | None = (0,)
    class_agnostic: bool = False
    convention: str | None = None
    legacy: bool = False
    device: str = "cpu"
    fp16: bool = False
    batch_size: int = 8
    backend: str = "torch"


@dataclass
class FrameDetections:
    """Everything the detector computed for one frame.

    Attributes:
        letterbox: how the frame was letterboxed (``None`` for an empty frame).
        dets: ``(n, 7)`` float32 ``[x1, y1, x2, y2, obj, class_conf, class_pred]`` in frame pixels (all classes).
        dets_input: the same detections before rescaling (network-input pixels); for the mmdet convention
            NMS is run separately in input pixels, as mmdet does with ``rescale=False``.
        preproc: ``(3, H, W)`` float32 network input when intermediates were kept.
        raw: ``(A, 5 + C)`` float32 decoded network output when intermediates were kept.
    """

    letterbox: Letterbox | None
    dets: np.ndarray
    dets_input: np.ndarray
    preproc: np.ndarray | None = None
    raw: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)


def _empty_rows() -> np.ndarray:
    return np.zeros((0, 7), dtype=np.float32)


class YOLOXDetector:
    """YOLOX person detector: letterbox -> network -> threshold/NMS -> rescale, batched over frames.

    Args:
        model: a :class:`~kprtrack.detect.model.YOLOX` (weights loaded).
        config: options; see :class:`YOLOXDetectorConfig`.
    """

    def __init__(self, model: YOLOX, config: YOLOXDetectorConfig | None = None) -> None:
        cfg = replace(config) if config is not None else YOLOXDetectorConfig()
        if cfg.convention is None:
            cfg.convention = model.decode_style
        if cfg.convention not in CONVENTIONS:
            raise ValueError(f"YOLOXDetectorConfig.convention must be one of {CONVENTIONS}, got {cfg.convention!r}")
        conf, nms = DEFAULT_THRESHOLDS[cfg.convention]
        cfg.conf_threshold = conf if cfg.conf_threshold is None else float(cfg.conf_threshold)
        cfg.nms_threshold = nms if cfg.nms_threshold is None else float(cfg.nms_threshold)
        if cfg.input_size is None:
            cfg.input_size = _default_input_size(model)
        cfg.input_size = (int(cfg.input_size[0]), int(cfg.input_size[1]))
        if cfg.input_size[0] % 32 or cfg.input_size[1] % 32 or min(cfg.input_size) <= 0:
            raise ValueError(f"YOLOXDetectorConfig.input_size must be positive multiples of 32, got {cfg.input_size}")
        if cfg.batch_size < 1:
            raise ValueError(f"YOLOXDetectorConfig.batch_size must be >= 1, got {cfg.batch_size}")
        self.device = torch.device(cfg.device)
        if cfg.fp16 and self.device.type != "cuda":
            raise ValueError(f"YOLOXDetectorConfig.fp16 needs a CUDA device, got device={cfg.device!r}")
        self.dtype = torch.float16 if cfg.fp16 else torch.float32
        self.config = cfg
        model.decode_style = cfg.convention
        self.model = model.to(self.device, self.dtype).eval()
        self.levels: Callable[[torch.Tensor], list[torch.Tensor]] = self.model.forward_levels
        if cfg.backend == "torch_fused":
            from kprtrack.fuse import inference_copy

            self.levels = inference_copy(self.model).forward_levels  # folded BatchNorms, channels-last
        elif cfg.backend == "onnxruntime":
            from kprtrack.onnx_backend import OnnxRuntimeNetwork

            example = torch.zeros(1, 3, *cfg.input_size, device=self.device, dtype=self.dtype)
            network = OnnxRuntimeNetwork(self.model, example, method="forward_levels", dynamic_size=True)
            self.levels = network  # type: ignore[assignment]
        elif cfg.backend != "torch":
            raise ValueError(
                f"YOLOXDetectorConfig.backend must be one of torch, torch_fused, onnxruntime; got {cfg.backend!r}"
            )

    @property
    def backend(self) -> str:
        """``torch`` or ``onnxruntime``: what runs the network."""
        return self.config.backend

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], **options: object) -> YOLOXDetector:
        """Load a Megvii or mmdet checkpoint (architecture inferred) and wrap it; ``options`` are config fields."""
        model, _ = load_yolox(path)
        return cls(model, YOLOXDetectorConfig(**options))  # type: ignore[arg-type]

    @classmethod
    def from_variant(cls, name: str, num_classes: int = 80, **options: object) -> YOLOXDetector:
        """An untrained official variant (benchmarks, tests); ``options`` are config fields."""
        return cls(build_yolox(name, num_classes), YOLOXDetectorConfig(**options))  # type: ignore[arg-type]

    @property
    def num_classes(self) -> int:
        """Classes of the model's head."""
        return self.model.arch.num_classes

    def preprocess(self, frames_bgr: Sequence[np.ndarray]) -> tuple[torch.Tensor, list[Letterbox]]:
        """Letterbox BGR frames and stack them: ``(B, 3, H, W)`` on the detector's device and dtype."""
        canvases, infos = [], []
        for frame in frames_bgr:
            canvas, info = letterbox(frame, self.config.input_size, self.config.convention)  # type: ignore[arg-type]
            canvases.append(canvas)
            infos.append(info)
        x = to_input_tensor(canvases, self.config.legacy, self.device, self.dtype)
        return x, infos

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Decoded network output ``(B, A, 5 + C)`` as float32.

        The head's logits are decoded in float32 even when the network runs in float16, so box
        coordinates keep sub-pixel precision (float16 has 0.5 px steps above 512) and ``exp`` cannot overflow.
        """
        levels = self.levels(x)
        return decode_outputs([level.float() for level in levels], self.model.strides, self.model.decode_style)

    def postprocess(
        self, raw: torch.Tensor, infos: Sequence[Letterbox], class_agnostic: bool | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Threshold, NMS and rescale per the convention.

        Args:
            raw: ``(B, A, 5 + C)`` decoded output.
            infos: letterbox of each image.
            class_agnostic: override of the config's NMS mode.

        Returns:
            ``(dets in frame pixels, dets in input pixels)``: two lists of ``(n, 7)`` float32 arrays.
        """
        cfg = self.config
        agnostic = cfg.class_agnostic if class_agnostic is None else class_agnostic
        conf, nms, nc = float(cfg.conf_threshold), float(cfg.nms_threshold), self.num_classes  # type: ignore[arg-type]
        raw = raw.float()
        if cfg.convention == "megvii":
            dets_in = postprocess_megvii(raw, nc, conf, nms, agnostic)
            dets = [rescale_megvii(d, info.ratio) for d, info in zip(dets_in, infos)]
        else:
            dets_in = postprocess_mmdet(raw, nc, None, conf, nms, agnostic)
            dets = postprocess_mmdet(raw, nc, [info.box_scale_xy for info in infos], conf, nms, agnostic)
        return [d.cpu().numpy() for d in dets], [d.cpu().numpy() for d in dets_in]

    def run(
        self, frames: Sequence[np.ndarray], color: str = "rgb", keep_intermediates: bool = False
    ) -> list[FrameDetections]:
        """Detect all classes in ``frames``, keeping every intermediate result the caller asks for.

        Args:
            frames: uint8 ``(H, W, 3)`` frames of any sizes; an empty frame (0 rows or columns) gets no detections.
            color: ``rgb`` (pipeline frames) or ``bgr`` (OpenCV images, as the references use).
            keep_intermediates: keep the network input and decoded output of each frame.
        """
        if color not in ("rgb", "bgr"):
            raise ValueError(f"color must be 'rgb' or 'bgr', got {color!r}")
        results: list[FrameDetections | None] = [None] * len(frames)
        todo = []
        for i, frame in enumerate(frames):
            check_image(frame, f"frames[{i}]")
            if frame.size == 0:  # no rows or no columns
                results[i] = FrameDetections(None, _empty_rows(), _empty_rows())
            else:
                todo.append(i)
        for start in range(0, len(todo), self.config.batch_size):
            idx = todo[start : start + self.config.batch_size]
            bgr = [
                frames[i] if color == "bgr" else cv2.cvtColor(np.ascontiguousarray(frames[i]), cv2.COLOR_RGB2BGR)
                for i in idx
            ]
            x, infos = self.preprocess(bgr)
            raw = self.forward(x)
            dets, dets_in = self.postprocess(raw, infos)
            for j, i in enumerate(idx):
                results[i] = FrameDetections(
                    infos[j],
                    dets[j],
                    dets_in[j],
                    x[j].float().cpu().numpy() if keep_intermediates else None,
                    raw[j].cpu().numpy() if keep_intermediates else None,
                )
        return [r for r in results if r is not None]

    def detect(self, frames: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Detect people (the configured classes) in RGB frames.

        Returns:
            Per frame ``(boxes (N, 4) float32 xyxy in frame pixels, scores (N,) float32)``, sorted by
            descending score; boxes are not clipped to the frame, as in the reference.
        """
        out = []
        for res in self.run(frames, color="rgb"):
            rows = res.dets
            if self.config.classes is not None:
                rows = rows[np.isin(rows[:, 6].astype(np.int64), np.asarray(self.config.classes, dtype=np.int64))]
            scores = (rows[:, 4] * rows[:, 5]).astype(np.float32)
            out.append((np.ascontiguousarray(rows[:, :4], dtype=np.float32), scores))
        return out


def _default_input_size(model: YOLOX) -> tuple[int, int]:
    arch = model.arch
    for name, spec in VARIANTS.items():
        if (spec.width, spec.depthwise) == (arch.width, arch.depthwise) and abs(spec.depth - arch.depth) < 1e-9:
            return VARIANTS[canonical_variant(name)].test_size
    return (640, 640)
