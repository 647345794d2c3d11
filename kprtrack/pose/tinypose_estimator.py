"""``TinyPoseEstimator``: PP-TinyPose as a top-down pose stage (PaddleDetection's test path).

Per frame, all boxes go through the network as one batch:

1. box -> centre and size ``* padding`` (1.25), the shorter side grown to the model's aspect
   (``w / h = 0.75``);
2. UDP crop (``TopDownEvalAffine`` with ``use_udp``): scale ``(W - 1) / box_w``, box centre to
   ``((W - 1) / 2, (H - 1) / 2)``, bilinear, black border;
3. RGB, ``/ 255``, ImageNet mean / std;
4. heatmaps at a quarter of the crop; argmax, then DARK (Gaussian blur with kernel 3 keeping the
   maximum, log, one Newton step with the Hessian; joints within 2 heatmap pixels of the border stay
   at the argmax), heatmap pixels -> crop pixels by ``(W - 1) / (w - 1)``;
5. back to the frame by the inverse crop affine. Score = heatmap peak (not a probability; a map
   whose peak is ``<= 0`` has no meaningful location).
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from kprtrack.pose.codecs import heatmap_maximum, refine_dark
from kprtrack.pose.estimator import TopdownPrediction, check_frame_and_boxes, network_backend, resolve_dtype
from kprtrack.pose.tinypose import TinyPoseNet, load_tinypose
from kprtrack.pose.transforms import crop_boxes, get_udp_warp_matrix, normalize_crops, warp_keypoints

#: ImageNet mean / std on the 0..255 scale, RGB.
IMAGENET_MEAN_255: tuple[float, float, float] = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD_255: tuple[float, float, float] = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def decode_heatmaps(
    heatmaps: np.ndarray, input_size: tuple[int, int], blur_kernel_size: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """PaddleDetection's DARK decoding with UDP scaling: heatmaps -> crop pixels.

    Args:
        heatmaps: ``(N, K, H, W)`` float32.
        input_size: crop ``(w, h)``.
        blur_kernel_size: DARK modulation kernel (PaddleDetection: 3).

    Returns:
        ``keypoints (N, K, 2)`` float32 crop pixels and ``scores (N, K)`` float32 heatmap peaks.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (N, K, H, W), got shape {heatmaps.shape}")
    locs, scores = heatmap_maximum(heatmaps)
    locs = refine_dark(locs, heatmaps, blur_kernel_size)
    h, w = heatmaps.shape[2:]
    factor = (np.asarray(input_size, dtype=np.float64) - 1) / (np.array([w, h], dtype=np.float64) - 1)
    return (locs * factor).astype(np.float32), scores.astype(np.float32)


def crop_to_frame(
    keypoints: np.ndarray, centers: np.ndarray, scales: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Crop pixels -> frame pixels through the inverse of each box's UDP crop affine.

    Args:
        keypoints: ``(N, K, 2)`` crop pixels.
        centers: ``(N, 2)`` box centres.
        scales: ``(N, 2)`` padded, aspect-fixed box sizes.
        input_size: crop ``(w, h)``.

    Returns:
        ``(N, K, 2)`` float32 frame pixels.
    """
    out = np.empty_like(keypoints, dtype=np.float32)
    for i, (c, s) in enumerate(zip(centers, scales)):
        inverse = cv2.invertAffineTransform(get_udp_warp_matrix(c, s, input_size).astype(np.float64))
        out[i] = warp_keypoints(keypoints[i], inverse)
    return out


class TinyPoseEstimator:
    """PP-TinyPose top-down pose estimation; implements :class:`kprtrack.stages.PoseEstimator` (``coco17``).

    Args:
        net: the network (its ``arch.input_size`` is the crop size).
        device: torch device for the network and the normalisation.
        dtype: compute dtype: ``"float32"`` (default), ``"float16"`` (CUDA only) or ``"bfloat16"``.
        padding: box size multiplier before the aspect fix (1.25).
        blur_kernel_size: DARK kernel (3, as PaddleDetection).
        backend: what runs the network: ``torch``, ``torch_fused`` or ``onnxruntime``
            (:func:`~kprtrack.pose.estimator.network_backend`).
    """

    keypoint_format: str = "coco17"

    def __init__(
        self,
        net: TinyPoseNet,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "float32",
        padding: float = 1.25,
        blur_kernel_size: int = 3,
        backend: str = "torch",
    ) -> None:
        if padding <= 0:
            raise ValueError(f"padding must be > 0, got {padding}")
        if blur_kernel_size < 1 or blur_kernel_size % 2 != 1:
            raise ValueError(f"blur_kernel_size must be a positive odd number, got {blur_kernel_size}")
        self.device = torch.device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.net = net.eval().to(device=self.device, dtype=self.dtype)
        self.input_size: tuple[int, int] = net.arch.input_size
        self.heatmap_size: tuple[int, int] = net.arch.heatmap_size
        self.num_keypoints = net.arch.num_keypoints
        self.padding = float(padding)
        self.blur_kernel_size = int(blur_kernel_size)
        self.backend = backend
        w, h = self.input_size
        self.network = network_backend(self.net, backend, torch.zeros(1, 3, h, w, device=self.device, dtype=self.dtype))

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | os.PathLike[str],
        variant: str | None = None,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "float32",
        padding: float = 1.25,
        blur_kernel_size: int = 3,
        backend: str = "torch",
    ) -> TinyPoseEstimator:
        """Load a converted state dict (``weights/tinypose_*.pth``, see :func:`kprtrack.pose.tinypose.load_tinypose`).

        Args:
            checkpoint: the ``.pth`` file.
            variant: ``tinypose_256x192`` or ``tinypose_128x96``; ``None``: the one the file declares.
            device: torch device.
            dtype: compute dtype.
            padding: box padding.
            blur_kernel_size: DARK kernel.
            backend: ``torch``, ``torch_fused`` or ``onnxruntime``.
        """
        net = load_tinypose(checkpoint, variant)
        return cls(net, device=device, dtype=dtype, padding=padding, blur_kernel_size=blur_kernel_size, backend=backend)

    @torch.inference_mode()
    def predict(self, frame: np.ndarray, boxes: np.ndarray, frame_is_rgb: bool = True) -> TopdownPrediction:
        """Run the full top-down path on all boxes of one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 image, RGB unless ``frame_is_rgb=False`` (cv2's BGR).
            boxes: ``(N, 4)`` xyxy frame pixels.
            frame_is_rgb: ``False`` for cv2-decoded BGR images.

        Returns:
            A :class:`~kprtrack.pose.estimator.TopdownPrediction` with ``N`` entries (no flip test:
            ``heatmaps_original`` is ``heatmaps``, ``heatmaps_flipped_raw`` is ``None``).
        """
        boxes = check_frame_and_boxes(frame, boxes)
        if len(boxes) == 0:
            return TopdownPrediction.empty(self.num_keypoints, self.input_size, self.heatmap_size, with_flip=False)
        crops, centers, scales = crop_boxes(frame, boxes, self.input_size, self.padding, use_udp=True)
        inputs = normalize_crops(
            crops, IMAGENET_MEAN_255, IMAGENET_STD_255, swap_channels=not frame_is_rgb, device=self.device
        )
        heatmaps = self.network(inputs.to(self.dtype)).float().cpu().numpy()
        kp_crop, scores = decode_heatmaps(heatmaps, self.input_size, self.blur_kernel_size)
        return TopdownPrediction(
            centers=centers,
            scales=scales,
            crops=crops,
            heatmaps=heatmaps,
            heatmaps_original=heatmaps,
            heatmaps_flipped_raw=None,
            keypoints=crop_to_frame(kp_crop, centers, scales, self.input_size),
            scores=scores,
        )

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Poses of all boxes of one RGB frame, one batch.

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            boxes: ``(N, 4)`` float32 xyxy.

        Returns:
            ``(N, 17, 3)`` float32 ``x, y, score`` in frame pixels, COCO-17 order.
        """
        return self.predict(frame, boxes).as_array()
