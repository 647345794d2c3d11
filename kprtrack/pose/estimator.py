"""``HRNetPoseEstimator``: the native top-down pose stage (mmpose's test pipeline around an HRNet).

Per frame, all boxes go through the network as one batch (``2N`` crops with the flip test):
box -> centre/scale (padding, aspect fix) -> affine crop -> normalise -> HRNet -> heatmaps
(flip test: averaged with the un-flipped heatmaps of the mirrored crops) -> codec decode -> frame pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from kprtrack.pose.checkpoint import ConfigSource, load_pose_model
from kprtrack.pose.codecs import HeatmapCodec
from kprtrack.pose.config import PoseModelConfig
from kprtrack.pose.model import TopdownHeatmapNet, predict_heatmaps
from kprtrack.pose.transforms import crop_boxes, keypoints_to_image, normalize_crops
from kprtrack.structures import check_image

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """Check a compute dtype name / value against the device (fp16 needs CUDA)."""
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        dtype = _DTYPES[dtype]
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"unsupported dtype {dtype}")
    if dtype == torch.float16 and device.type != "cuda":
        raise ValueError(f"dtype float16 needs a CUDA device (got {device}); use float32 or bfloat16")
    return dtype


def check_frame_and_boxes(frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Validate a pose stage's inputs.

    Args:
        frame: must be an ``(H, W, 3)`` uint8 array.
        boxes: ``(N, 4)`` finite xyxy (any empty array means no box).

    Returns:
        The boxes as float32 ``(N, 4)``.

    Raises:
        ValueError: naming the offending argument and its shape.
    """
    check_image(frame, "frame")
    boxes = np.asarray(boxes, dtype=np.float32)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) xyxy, got shape {boxes.shape}")
    if not np.isfinite(boxes).all():
        raise ValueError("boxes contain NaN or infinite values")
    return boxes


def network_backend(
    net: torch.nn.Module, backend: str, example: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """What runs a pose network (see :data:`kprtrack.pipeline_config.BACKENDS`).

    Args:
        net: crops ``(B, 3, h, w)`` -> heatmaps ``(B, K, H, W)``.
        backend: ``torch`` (the module itself), ``torch_fused`` (a copy with folded BatchNorms in
            channels-last memory, :func:`kprtrack.fuse.inference_copy`) or ``onnxruntime`` (CPU).
        example: an input of the network's crop size, device and dtype (traced for the export).

    Raises:
        ValueError: unknown backend. ConfigError: see :class:`kprtrack.onnx_backend.OnnxRuntimeNetwork`.
    """
    if backend == "torch":
        return net
    if backend == "torch_fused":
        from kprtrack.fuse import inference_copy

        return inference_copy(net)
    if backend == "onnxruntime":
        from kprtrack.onnx_backend import OnnxRuntimeNetwork

        return OnnxRuntimeNetwork(net, example)  # type: ignore[return-value]
    raise ValueError(f"backend must be one of torch, torch_fused, onnxruntime; got {backend!r}")


@dataclass
class TopdownPrediction:
    """Everything one frame's pass computes.

    Attributes:
        centers: ``(N, 2)`` float32 box centres.
        scales: ``(N, 2)`` float32 padded, aspect-fixed box sizes.
        crops: ``(N, h, w, 3)`` uint8 crops, in the frame's channel order.
        heatmaps: ``(N, K, H, W)`` float32 heatmaps that were decoded (flip-averaged with the flip test).
        heatmaps_original: ``(N, K, H, W)`` network output for the crops (equals ``heatmaps`` without flip test).
        heatmaps_flipped_raw: ``(N, K, H, W)`` raw output for the mirrored crops, or ``None`` without flip test.
        keypoints: ``(N, K, 2)`` float32 frame pixels.
        scores: ``(N, K)`` float32 heatmap maxima.
    """

    centers: np.ndarray
    scales: np.ndarray
    crops: np.ndarray
    heatmaps: np.ndarray
    heatmaps_original: np.ndarray
    heatmaps_flipped_raw: np.ndarray | None
    keypoints: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(
        cls, num_keypoints: int, input_size: tuple[int, int], heatmap_size: tuple[int, int], with_flip: bool
    ) -> TopdownPrediction:
        """The prediction for a frame without boxes (``N = 0``).

        Args:
            num_keypoints: ``K``.
            input_size: network input ``(w, h)``: the crops are ``(0, h, w, 3)``.
            heatmap_size: heatmap ``(W, H)``: the heatmaps are ``(0, K, H, W)``.
            with_flip: flip test on: ``heatmaps_flipped_raw`` is an empty array instead of ``None``.
        """
        (w, h), (hw, hh) = input_size, heatmap_size
        heatmaps = np.zeros((0, num_keypoints, hh, hw), dtype=np.float32)
        return cls(
            centers=np.zeros((0, 2), np.float32),
            scales=np.zeros((0, 2), np.float32),
            crops=np.zeros((0, h, w, 3), np.uint8),
            heatmaps=heatmaps,
            heatmaps_original=heatmaps,
            heatmaps_flipped_raw=heatmaps.copy() if with_flip else None,
            keypoints=np.zeros((0, num_keypoints, 2), np.float32),
            scores=np.zeros((0, num_keypoints), np.float32),
        )

    def as_array(self) -> np.ndarray:
        """``(N, K, 3)`` float32 ``x, y, score``."""
        return np.concatenate([self.keypoints, self.scores[..., None]], axis=-1).astype(np.float32)


class HRNetPoseEstimator:
    """Top-down heatmap pose estimation with mmpose semantics; implements :class:`kprtrack.stages.PoseEstimator`.

    Args:
        net: the network (its ``cfg`` describes codec and pipeline).
        device: torch device for the network and the normalisation.
        dtype: compute dtype: ``"float32"`` (default), ``"float16"`` (CUDA only) or ``"bfloat16"``.
        flip_test: override the config's flip test.
        backend: what runs the network: ``torch``, ``torch_fused`` or ``onnxruntime`` (:func:`network_backend`).
    """

    def __init__(
        self,
        net: TopdownHeatmapNet,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "float32",
        flip_test: bool | None = None,
        backend: str = "torch",
    ) -> None:
        self.device = torch.device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.cfg: PoseModelConfig = net.cfg
        self.net = net.eval().to(device=self.device, dtype=self.dtype)
        self.codec = HeatmapCodec(self.cfg.codec)
        self.flip_test = self.cfg.pipeline.flip_test if flip_test is None else bool(flip_test)
        self.num_keypoints = self.cfg.head.out_channels
        w, h = self.cfg.pipeline.input_size
        self.backend = backend
        self.network = network_backend(self.net, backend, torch.zeros(1, 3, h, w, device=self.device, dtype=self.dtype))

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | os.PathLike[str],
        config: ConfigSource = None,
        keypoint_format: str | None = None,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "float32",
        flip_test: bool | None = None,
        backend: str = "torch",
    ) -> HRNetPoseEstimator:
        """Load an mmpose checkpoint (see :func:`kprtrack.pose.checkpoint.load_pose_model`)."""
        net, _ = load_pose_model(checkpoint, config=config, keypoint_format=keypoint_format)
        return cls(net, device=device, dtype=dtype, flip_test=flip_test, backend=backend)

    @property
    def keypoint_format(self) -> str:
        """The keypoint convention of the outputs (``coco17`` or ``posetrack21``)."""
        return self.cfg.keypoint_format

    @torch.inference_mode()
    def predict(self, frame: np.ndarray, boxes: np.ndarray, frame_is_rgb: bool = True) -> TopdownPrediction:
        """Run the full top-down path on all boxes of one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 image, RGB (the pipeline convention) unless ``frame_is_rgb=False``.
            boxes: ``(N, 4)`` xyxy frame pixels.
            frame_is_rgb: ``False`` for cv2-decoded BGR images.

        Returns:
            A :class:`TopdownPrediction` with ``N`` entries.
        """
        boxes = check_frame_and_boxes(frame, boxes)
        p = self.cfg.pipeline
        if len(boxes) == 0:
            return TopdownPrediction.empty(
                self.num_keypoints, p.input_size, self.cfg.codec.heatmap_size, with_flip=self.flip_test
            )
        crops, centers, scales = crop_boxes(frame, boxes, p.input_size, p.bbox_padding, p.use_udp)
        inputs = normalize_crops(crops, p.mean, p.std, swap_channels=frame_is_rgb != p.network_rgb, device=self.device)
        flip = p.flip_indices if self.flip_test else None
        merged, original, flipped_raw = predict_heatmaps(self.network, inputs.to(self.dtype), flip, p.shift_heatmap)
        heatmaps = merged.cpu().numpy()
        kp_crop, scores = self.codec.decode(heatmaps)
        return TopdownPrediction(
            centers=centers,
            scales=scales,
            crops=crops,
            heatmaps=heatmaps,
            heatmaps_original=heatmaps if original is None else original.cpu().numpy(),
            heatmaps_flipped_raw=None if flipped_raw is None else flipped_raw.cpu().numpy(),
            keypoints=keypoints_to_image(kp_crop, centers, scales, p.input_size),
            scores=scores.astype(np.float32),
        )

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Poses of all boxes of one RGB frame, one batch.

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            boxes: ``(N, 4)`` float32 xyxy.

        Returns:
            ``(N, K, 3)`` float32 ``x, y, score`` in frame pixels (``K`` = 17), convention :attr:`keypoint_format`.
        """
        return self.predict(frame, boxes).as_array()
