"""Training a YOLOX person detector on PoseTrack21-layout data (the synthetic world or the real set).

:class:`DetectorTrainConfig` holds every setting (``configs/train/detector.yaml`` restates its
defaults); :func:`train_detector` runs the shared epoch loop (:class:`kprtrack.train.loop.EpochTrainer`)
around :class:`kprtrack.detect.train.TrainStep` (SimOTA loss, Megvii's optimizer groups, EMA):

* data: every labelled frame (every ``frame_stride``-th) of a split, one class (person), the
  annotations' full-extent ``bbox`` (or ``bbox_visible``) as targets;
* augmentation (all epochs but the last ``no_aug_epochs``): random scale and translation of the
  letterboxed frame, horizontal flip, HSV jitter; the last epochs see the exact inference letterbox
  and switch the L1 loss on, as the official trainer does;
* learning rate: ``lr_per_image * batch_size``, linear warmup then cosine decay per iteration
  (:func:`kprtrack.train.common.cosine_with_warmup`);
* after every epoch ``OUT/last.pth`` (Megvii format: EMA weights under ``model``, the optimizer, and
  the raw weights / EMA counter / config under ``train_state``) is written; with ``resume`` a run
  continues from it at the next epoch. ``OUT/log.csv`` gets one row every ``log_every`` iterations;
* at the end ``OUT/detector.pth`` holds the EMA weights only (what ships), with a ``meta`` entry
  recording the input size and how it was trained.

Batches are built in a fixed order from ``seed`` and the epoch, and each frame's augmentation from
``(seed, epoch, index)``, so a resumed run gives the same weights as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from kprtrack.checkpoints import extract_state_dict, load_checkpoint, load_state_dict_strict
from kprtrack.config import dataclass_to_dict
from kprtrack.detect.model import YOLOXArch
from kprtrack.detect.preprocess import PAD_VALUE, letterbox
from kprtrack.detect.train import ModelEMA, TrainStep, build_optimizer, use_l1_at
from kprtrack.detect.variants import build_yolox_from_arch
from kprtrack.detect.weights import save_megvii_checkpoint
from kprtrack.train.loop import EpochTrainer, check_same_settings, resume_state, set_lr
from kprtrack.validate import check_at_least, check_choice, check_in_range

BOX_KEYS = ("bbox", "bbox_visible")
FINAL_CHECKPOINT = "detector.pth"
#: settings a resumed run must share with the checkpoint.
RESUME_KEYS = ("depth", "width", "depthwise", "input_size", "batch_size", "epochs")


@dataclass
class DetectorTrainConfig:
    """All settings of a detector training run (the one place their defaults live).

    Attributes:
        data: data set folder in PoseTrack21 layout (``kprtrack synth --out`` output).
        split: split to train on.
        out_dir: folder for ``last.pth``, ``detector.pth`` and ``log.csv``.
        box: annotation box the detector learns: ``bbox`` (full extent) or ``bbox_visible``.
        frame_stride: use every n-th labelled frame of each sequence (neighbouring frames are near duplicates).
        depth: YOLOX depth multiplier.
        width: YOLOX width multiplier (``64 * width`` must be an integer).
        depthwise: depthwise-separable convolutions (YOLOX-nano style).
        input_size: network input ``[height, width]``, multiples of 32; use the same at inference.
        epochs: training epochs.
        batch_size: frames per iteration.
        lr_per_image: base learning rate per image (Megvii's ``basic_lr_per_img`` is 0.01 / 64; a short schedule
            with small batches wants more); the LR is this times
            ``batch_size``.
        momentum: SGD Nesterov momentum.
        weight_decay: on conv weights only.
        warmup_epochs: linear warmup length (fractions allowed).
        min_lr_ratio: the cosine decays to this fraction of the base LR.
        ema: keep (and save) an exponential moving average of the weights.
        ema_decay: asymptotic EMA decay (ramped up over the first ~2000 updates).
        no_aug_epochs: last epochs without augmentation and with the L1 loss.
        flip_prob: probability of a horizontal flip.
        hsv_gains: maximum shifts of hue (OpenCV units of 2 degrees), saturation and value (0..255);
            each channel is shifted with probability 0.5.
        scale_range: random factor on the letterbox scale.
        translate: maximum random shift, as a fraction of the input size.
        min_box_size: boxes whose shorter side is at most this (input pixels) after augmentation are dropped.
        min_box_kept: boxes cut by the input border keep at least this fraction of their area, or are dropped.
        max_labels: most boxes per frame.
        seed: seed of the initialisation, the batch order and the augmentation.
        num_threads: torch CPU threads.
        device: torch device.
        log_every: iterations per CSV log row.
        resume: continue from ``out_dir/last.pth`` if it exists.
    """

    data: str = "data/synth"
    split: str = "train"
    out_dir: str = "runs/detector"
    box: str = "bbox"
    frame_stride: int = 1
    depth: float = 0.33
    width: float = 0.25
    depthwise: bool = True
    input_size: tuple[int, int] = (192, 320)
    epochs: int = 4
    batch_size: int = 8
    lr_per_image: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.3
    min_lr_ratio: float = 0.05
    ema: bool = True
    ema_decay: float = 0.9998
    no_aug_epochs: int = 1
    flip_prob: float = 0.5
    hsv_gains: tuple[float, float, float] = (5.0, 30.0, 30.0)
    scale_range: tuple[float, float] = (0.75, 1.25)
    translate: float = 0.1
    min_box_size: float = 2.0
    min_box_kept: float = 0.25
    max_labels: int = 50
    seed: int = 0
    num_threads: int = 1
    device: str = "cpu"
    log_every: int = 20
    resume: bool = True

    def __post_init__(self) -> None:
        check_choice(self, "box", BOX_KEYS)
        if len(self.input_size) != 2 or any(int(s) <= 0 or int(s) % 32 for s in self.input_size):
            raise ValueError(f"input_size: expected [height, width], positive multiples of 32, got {self.input_size}")
        check_at_least(self, ("frame_stride", "epochs", "batch_size", "max_labels", "num_threads", "log_every"), 1)
        if not 0 <= self.no_aug_epochs <= self.epochs:
            raise ValueError(f"no_aug_epochs: must be in [0, epochs={self.epochs}], got {self.no_aug_epochs}")
        if len(self.scale_range) != 2 or not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(f"scale_range: expected [low, high] with 0 < low <= high, got {self.scale_range}")
        if len(self.hsv_gains) != 3 or min(self.hsv_gains) < 0:
            raise ValueError(f"hsv_gains: expected three non-negative numbers, got {self.hsv_gains}")
        check_in_range(self, ("flip_prob",))

    @property
    def arch(self) -> YOLOXArch:
        """The single-class (person) architecture."""
        return YOLOXArch(self.depth, self.width, self.depthwise, num_classes=1)

    @property
    def augmenting(self) -> bool:
        """Whether any augmentation is configured at all."""
        return self.flip_prob > 0 or max(self.hsv_gains) > 0 or self.scale_range != (1.0, 1.0) or self.translate > 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML / checkpoint friendly)."""
        return dataclass_to_dict(self)


@dataclass(frozen=True)
class FrameBoxes:
    """One training frame: image file and its person boxes.

    Attributes:
        path: image file.
        boxes: ``(N, 4)`` float32 xyxy frame pixels.
    """

    path: Path
    boxes: np.ndarray


def load_frames(root: str | Path, split: str, box: str = "bbox", frame_stride: int = 1) -> list[FrameBoxes]:
    """Labelled frames of a PoseTrack21-layout split with their person boxes.

    Args:
        root: data set folder (``images/``, ``posetrack_data/<split>/*.json``).
        split: split name.
        box: annotation key of the box, ``bbox`` or ``bbox_visible``.
        frame_stride: keep frames whose index in the sequence is a multiple of this.

    Returns:
        Frames in sequence order.

    Raises:
        ValueError: the split has no labelled frame, or an annotation lacks ``box``.
    """
    from kprtrack.synth.dataset import SynthDataset

    ds = SynthDataset(root)
    frames: list[FrameBoxes] = []
    for seq in ds.sequences(split):
        for t in range(0, len(seq), frame_stride):
            if not seq.is_labeled(t):
                continue
            rows = []
            for ann in seq.annotations(t):
                if box not in ann:
                    raise ValueError(f"{seq.name} frame {t}: annotation {ann.get('id')} has no {box!r}")
                x, y, w, h = (float(v) for v in ann[box])
                if w > 0 and h > 0:
                    rows.append((x, y, x + w, y + h))
            frames.append(FrameBoxes(seq.image_path(t), np.asarray(rows, np.float32).reshape(-1, 4)))
    if not frames:
        raise ValueError(f"{root}: split {split!r} has no labelled frames")
    return frames


def hsv_jitter(image_bgr: np.ndarray, gains: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Random additive shifts of hue (wrapping), saturation and value (clipped), each applied with p = 0.5.

    Args:
        image_bgr: ``(H, W, 3)`` uint8 BGR.
        gains: maximum shift per channel (hue in OpenCV units of 2 degrees, saturation, value).
        rng: random generator.

    Returns:
        A new uint8 BGR image.
    """
    shift = rng.uniform(-1, 1, 3) * np.asarray(gains, np.float64) * rng.integers(0, 2, 3)
    shift = shift.astype(np.int16)
    if not shift.any():
        return image_bgr.copy()
    hsv = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + shift[0]) % 180
    hsv[..., 1:] = np.clip(hsv[..., 1:] + shift[1:], 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def random_letterbox(
    image: np.ndarray,
    boxes: np.ndarray,
    size_hw: tuple[int, int],
    rng: np.random.Generator,
    scale_range: tuple[float, float],
    translate: float,
    flip_prob: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Letterbox with a random scale, shift and horizontal flip; boxes follow.

    The scale is the letterbox ratio times a factor from ``scale_range``; the resized image is placed
    top-left (as at inference) shifted by up to ``translate`` of the input size, on a 114 canvas.

    Args:
        image: ``(h, w, 3)`` uint8.
        boxes: ``(N, 4)`` xyxy image pixels.
        size_hw: input ``(H, W)``.
        rng: random generator.
        scale_range: ``(low, high)`` factor on the letterbox ratio.
        translate: maximum shift as a fraction of ``H`` / ``W``.
        flip_prob: probability of mirroring the canvas.

    Returns:
        ``canvas (H, W, 3)`` uint8 and the boxes in canvas pixels, ``(N, 4)`` float32, not clipped.
    """
    h, w = image.shape[:2]
    th, tw = size_hw
    s = min(th / h, tw / w) * rng.uniform(*scale_range)
    tx, ty = rng.uniform(-translate, translate) * tw, rng.uniform(-translate, translate) * th
    # continuous coordinates map as x' = s * x + t; OpenCV's matrix works on pixel centres (index + 0.5),
    # hence the half-pixel term, which makes s alone sample exactly like cv2.resize.
    half = 0.5 * (s - 1.0)
    mat = np.array([[s, 0, tx + half], [0, s, ty + half]], np.float64)
    canvas = cv2.warpAffine(
        image, mat, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(PAD_VALUE,) * 3
    )
    out = boxes.astype(np.float64) * s + np.array([tx, ty, tx, ty])
    if rng.random() < flip_prob:
        canvas = np.ascontiguousarray(canvas[:, ::-1])
        out = np.stack([tw - out[:, 2], out[:, 1], tw - out[:, 0], out[:, 3]], 1) if len(out) else out
    return canvas, out.astype(np.float32).reshape(-1, 4)


def boxes_to_targets(
    boxes: np.ndarray, size_hw: tuple[int, int], max_labels: int, min_size: float, min_kept: float
) -> np.ndarray:
    """Clip canvas boxes to the input and turn them into Megvii's label rows.

    Args:
        boxes: ``(N, 4)`` xyxy canvas pixels (possibly outside the canvas).
        size_hw: input ``(H, W)``.
        max_labels: rows of the output.
        min_size: drop boxes whose shorter clipped side is at most this.
        min_kept: drop boxes that keep less than this fraction of their area after clipping.

    Returns:
        ``(max_labels, 5)`` float32 rows ``[0, cx, cy, w, h]``, zero rows as padding.
    """
    th, tw = size_hw
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    clipped = np.stack(
        [np.clip(b[:, 0], 0, tw), np.clip(b[:, 1], 0, th), np.clip(b[:, 2], 0, tw), np.clip(b[:, 3], 0, th)], 1
    )
    wh = clipped[:, 2:] - clipped[:, :2]
    area = np.prod(np.maximum(b[:, 2:] - b[:, :2], 1e-6), 1)
    keep = (np.minimum(wh[:, 0], wh[:, 1]) > min_size) & (np.prod(wh, 1) >= min_kept * area)
    c = clipped[keep]
    rows = np.concatenate([np.zeros((len(c), 1), np.float32), (c[:, :2] + c[:, 2:]) / 2, c[:, 2:] - c[:, :2]], 1)
    targets = np.zeros((max_labels, 5), np.float32)
    targets[: min(len(rows), max_labels)] = rows[:max_labels]
    return targets


class DetectionDataset(torch.utils.data.Dataset):
    """Frames -> (letterboxed BGR canvas, label rows), with the configured augmentation.

    Args:
        frames: from :func:`load_frames`.
        cfg: the training config (input size, augmentation, seed).

    Items are ``(canvas (H, W, 3) uint8 BGR, targets (max_labels, 5) float32)``. Call
    :meth:`set_epoch` before each epoch: it picks augmented or plain letterboxing and reseeds.
    """

    def __init__(self, frames: Sequence[FrameBoxes], cfg: DetectorTrainConfig) -> None:
        self.frames = list(frames)
        self.cfg = cfg
        self.size_hw = (int(cfg.input_size[0]), int(cfg.input_size[1]))
        self.epoch = 0
        self.augment = cfg.augmenting

    def set_epoch(self, epoch: int, augment: bool) -> None:
        """Select the epoch (augmentation seeds) and whether to augment."""
        self.epoch = int(epoch)
        self.augment = bool(augment) and self.cfg.augmenting

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        item = self.frames[index]
        image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read {item.path}")
        cfg = self.cfg
        if self.augment:
            rng = np.random.default_rng([cfg.seed, self.epoch, index])
            image = hsv_jitter(image, cfg.hsv_gains, rng)
            canvas, boxes = random_letterbox(
                image, item.boxes, self.size_hw, rng, tuple(cfg.scale_range), cfg.translate, cfg.flip_prob
            )
        else:
            canvas, info = letterbox(image, self.size_hw, "megvii")
            boxes = item.boxes * np.float32(info.ratio)
        targets = boxes_to_targets(boxes, self.size_hw, cfg.max_labels, cfg.min_box_size, cfg.min_box_kept)
        return canvas, targets


def collate_detection(batch: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``images (B, 3, H, W)`` float32 BGR 0..255 (the network input) and ``targets (B, M, 5)``."""
    canvases = np.stack([b[0] for b in batch])
    images = torch.from_numpy(canvases).permute(0, 3, 1, 2).float().contiguous()
    return images, torch.from_numpy(np.stack([b[1] for b in batch]))


class DetectorTrainer(EpochTrainer[DetectorTrainConfig]):
    """The detector's steps in the shared epoch loop; :func:`train_detector` is the usual entry point.

    Args:
        cfg: settings.
        frames: training frames (default: :func:`load_frames` of ``cfg.data`` / ``cfg.split``).
    """

    name = "detector"
    final_checkpoint = FINAL_CHECKPOINT
    item_name = "frames"
    rate_column = "img_per_s"
    loss_key = "total_loss"

    def __init__(self, cfg: DetectorTrainConfig, frames: Sequence[FrameBoxes] | None = None) -> None:
        super().__init__(cfg)
        frames = load_frames(cfg.data, cfg.split, cfg.box, cfg.frame_stride) if frames is None else frames
        self.dataset = DetectionDataset(frames, cfg)
        self.plan(len(self.dataset), base_lr=cfg.lr_per_image * cfg.batch_size)
        model = build_yolox_from_arch(cfg.arch).to(self.device)
        optimizer = build_optimizer(model, self.base_lr, cfg.momentum, cfg.weight_decay)
        ema = ModelEMA(model, cfg.ema_decay) if cfg.ema else None
        self.step = TrainStep(model, optimizer, ema)

    def begin_epoch(self, epoch: int) -> None:
        """Augment all epochs but the last ``no_aug_epochs``, which also switch the L1 loss on."""
        cfg = self.cfg
        self.dataset.set_epoch(epoch, augment=epoch < cfg.epochs - cfg.no_aug_epochs)
        self.step.use_l1 = use_l1_at(epoch, cfg.epochs, cfg.no_aug_epochs)

    def train_batch(self, indices: list[int], lr: float) -> dict[str, float]:
        """One :class:`~kprtrack.detect.train.TrainStep` on the frames ``indices``; returns its loss terms."""
        images, targets = collate_detection([self.dataset[j] for j in indices])
        set_lr(self.step.optimizer, lr)
        return self.step(images, targets)

    # -- checkpoints -------------------------------------------------------------------------
    def write_resume(self, path: Path, epoch_done: int) -> None:
        """Megvii format: EMA weights under ``model``, the optimizer, and under ``train_state`` the raw
        weights, the EMA counter and the config."""
        step = self.step
        state = {
            "epoch": epoch_done,
            "config": self.cfg.to_dict(),
            "model": {k: v.detach().cpu() for k, v in step.model.state_dict().items()},
            "ema_updates": step.ema.updates if step.ema is not None else 0,
        }
        save_megvii_checkpoint(
            path, step.model_to_save(), step.optimizer, start_epoch=epoch_done, extra={"train_state": state}
        )

    def load(self, path: Path) -> int:
        """Restore model, EMA and optimizer from a resume checkpoint; returns the epoch to start at.

        Raises:
            ValueError: the checkpoint has no ``train_state`` or was written for another architecture.
        """
        ckpt = load_checkpoint(path)
        state = resume_state(ckpt, path, self.name)
        check_same_settings(path, state.get("config", {}), self.cfg.to_dict(), RESUME_KEYS)
        step = self.step
        load_state_dict_strict(step.model, extract_state_dict(state, ("model",)), str(path))
        if step.ema is not None:
            load_state_dict_strict(step.ema.ema, extract_state_dict(ckpt, ("model",)), str(path))
            step.ema.updates = int(state.get("ema_updates", 0))
        if "optimizer" in ckpt:
            step.optimizer.load_state_dict(ckpt["optimizer"])
        return int(state["epoch"])

    def export(self, path: Path) -> Path:
        """Write the shipped file: EMA weights in Megvii format plus a ``meta`` entry, no optimizer."""
        cfg = self.cfg
        meta = {
            "classes": ["person"],
            "input_size": [int(s) for s in cfg.input_size],
            "convention": "megvii",
            "epochs": cfg.epochs,
            "train_config": cfg.to_dict(),
        }
        model = self.step.model_to_save()
        return save_megvii_checkpoint(path, model, None, start_epoch=cfg.epochs, extra={"meta": meta})


def train_detector(cfg: DetectorTrainConfig, stop_after_epoch: int | None = None, progress: bool = True) -> Path:
    """Train a detector as ``cfg`` says; see the module docstring. Returns the written checkpoint."""
    return DetectorTrainer(cfg).run(stop_after_epoch=stop_after_epoch, progress=progress)


def config_from_yaml(path: str | Path | None, overrides: Sequence[str] = ()) -> DetectorTrainConfig:
    """Defaults, updated by a YAML file and ``key=value`` overrides (unknown keys are errors)."""
    from kprtrack.config import load_config

    return load_config(DetectorTrainConfig, path, overrides, "detector config")


__all__ = [
    "DetectionDataset",
    "DetectorTrainConfig",
    "DetectorTrainer",
    "FrameBoxes",
    "boxes_to_targets",
    "collate_detection",
    "config_from_yaml",
    "load_frames",
    "random_letterbox",
    "train_detector",
]
