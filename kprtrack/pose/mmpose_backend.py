"""Optional backend: any mmpose top-down model (config + checkpoint) behind the PoseEstimator interface.

Needs OpenMMLab (``pip install kprtrack[mmpose]``; see ``docs/pose.md`` for an install that avoids
building mmcv). mmpose is imported only when :class:`MMPosePoseEstimator` is constructed.

Two deviations from ``mmpose.apis.init_model(config, checkpoint)``, both deliberate:

* the checkpoint is read with kprtrack's restricted unpickler (mmengine's loader calls ``torch.load``
  in a way torch >= 2.6 refuses for mmpose files, and ``weights_only=False`` would run arbitrary
  pickled code), then loaded strictly into the model mmpose built from the config;
* with ``mmcv-lite`` (no compiled ops), ``mmcv.ops`` is replaced by a placeholder module before
  mmpose is imported: mmpose imports a few ops at module level for models (e.g. ED-Pose) that
  top-down heatmap inference never calls. A model that does use one fails with a clear error.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from kprtrack.checkpoints import extract_state_dict, load_checkpoint, load_state_dict_strict
from kprtrack.pose.checkpoint import keypoint_format_from_meta, map_mmpose_keys

INSTALL_HINT = (
    "the mmpose backend needs OpenMMLab: pip install 'kprtrack[mmpose]' "
    "(or see docs/pose.md for the mmcv-lite install that avoids compiling mmcv)"
)


class _MissingOp:
    """Placeholder for an ``mmcv.ops`` member under mmcv-lite; using it raises."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ImportError(f"{type(self).__name__} needs the compiled mmcv.ops (full mmcv), not mmcv-lite")


def _install_mmcv_ops_placeholder() -> None:
    """Register a placeholder ``mmcv.ops`` when mmcv has no compiled ops (mmcv-lite)."""
    if "mmcv.ops" in sys.modules or importlib.util.find_spec("mmcv") is None:
        return
    if importlib.util.find_spec("mmcv.ops") is not None:
        return
    module = types.ModuleType("mmcv.ops")

    def missing(name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (_MissingOp,), {})

    module.__getattr__ = missing  # type: ignore[attr-defined]
    sys.modules["mmcv.ops"] = module


def import_mmpose_apis(allow_mmcv_lite: bool = True) -> types.ModuleType:
    """Import ``mmpose.apis`` (raising ``ImportError`` with install instructions when absent)."""
    if importlib.util.find_spec("mmpose") is None:
        raise ImportError(INSTALL_HINT)
    if allow_mmcv_lite:
        _install_mmcv_ops_placeholder()
    try:
        return importlib.import_module("mmpose.apis")
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} (importing mmpose.apis failed: {exc})") from exc


def _names_format(dataset_meta: Mapping[str, Any] | None) -> str | None:
    try:
        return keypoint_format_from_meta({"dataset_meta": dataset_meta}) if dataset_meta else None
    except ValueError:
        return None


class MMPosePoseEstimator:
    """mmpose ``init_model`` + ``inference_topdown``; implements :class:`kprtrack.stages.PoseEstimator`.

    Args:
        config: mmpose config file (any top-down model mmpose can build).
        checkpoint: mmpose checkpoint (``{'meta', 'state_dict'}``), read safely.
        device: torch device string.
        keypoint_format: declare the output convention; default from the checkpoint / model metadata.
        allow_mmcv_lite: install the ``mmcv.ops`` placeholder when mmcv has no compiled ops.
    """

    def __init__(
        self,
        config: str | os.PathLike[str],
        checkpoint: str | os.PathLike[str],
        device: str = "cpu",
        keypoint_format: str | None = None,
        allow_mmcv_lite: bool = True,
    ) -> None:
        apis = import_mmpose_apis(allow_mmcv_lite)
        self._inference_topdown = apis.inference_topdown
        model = apis.init_model(os.fspath(config), None, device=device)
        ckpt = load_checkpoint(checkpoint)
        meta = ckpt.get("meta") if isinstance(ckpt, Mapping) else None
        state_dict = map_mmpose_keys(extract_state_dict(ckpt))
        load_state_dict_strict(model, {k: v.to(device) for k, v in state_dict.items()}, os.fspath(checkpoint))
        if isinstance(meta, Mapping) and isinstance(meta.get("dataset_meta"), Mapping):
            model.dataset_meta = dict(meta["dataset_meta"])  # as init_model: checkpoint meta first
        fmt = keypoint_format or keypoint_format_from_meta(meta) or _names_format(model.dataset_meta)
        if fmt is None:
            raise ValueError(
                f"cannot tell the keypoint convention of {checkpoint}; pass keypoint_format='coco17' or 'posetrack21'"
            )
        self.keypoint_format = fmt
        self.model = model.eval()
        self.num_keypoints = int(model.dataset_meta.get("num_keypoints", 17))

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Poses of all boxes of one RGB frame (mmpose batches them in one ``test_step``).

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            boxes: ``(N, 4)`` float32 xyxy.

        Returns:
            ``(N, K, 3)`` float32 ``x, y, score``.
        """
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError("frame must be an (H, W, 3) uint8 RGB array")
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        if len(boxes) == 0:  # inference_topdown would fall back to the whole image
            return np.zeros((0, self.num_keypoints, 3), dtype=np.float32)
        bgr = np.ascontiguousarray(frame[..., ::-1])  # mmpose expects cv2's BGR
        samples = self._inference_topdown(self.model, bgr, boxes, bbox_format="xyxy")
        kps = np.stack([np.asarray(s.pred_instances.keypoints[0], dtype=np.float32) for s in samples])
        scores = np.stack([np.asarray(s.pred_instances.keypoint_scores[0], dtype=np.float32) for s in samples])
        return np.concatenate([kps[..., :2], scores[..., None]], axis=-1)
