"""Training a top-down HRNet on PoseTrack21-layout data (the synthetic world or the real set).

:class:`PoseTrainConfig` holds every setting (``configs/train/pose.yaml`` restates its defaults);
:func:`train_pose` runs the shared epoch loop (:class:`kprtrack.train.loop.EpochTrainer`):

* data: every annotated person of the labelled frames (every ``frame_stride``-th) of a split, cropped
  from its ground-truth ``bbox`` (full extent, as the detector predicts it) with mmpose's training
  pipeline (:func:`kprtrack.pose.augment.make_training_sample`: flip, shift / scale / rotation, affine
  crop, Gaussian targets). Joints with coordinates count as labelled, occluded ones included
  (``train_occluded``), as the PoseTrack evaluation scores them; PoseTrack21's ears are never
  annotated, so their heatmaps get weight 0 (mmpose semantics);
* model: HRNet-W``width`` + heatmap head, declaring the ``posetrack21`` convention with PoseTrack18's
  flip indices (head_bottom / head_top do not swap); backbone convolutions Kaiming-initialised, the
  head as mmpose (normal, std 0.001);
* loss: keypoint-weighted heatmap MSE (:class:`kprtrack.pose.train.KeypointMSELoss`); Adam with
  linear warmup and cosine decay per iteration;
* after every epoch ``OUT/last.pth`` (mmpose format plus the optimizer and the resume state) is
  written; with ``resume`` a run continues from it at the next epoch; ``OUT/log.csv`` gets a row every
  ``log_every`` iterations; at the end ``OUT/pose.pth`` (``{'meta', 'state_dict'}`` only) is what ships.

Batch order and augmentation are drawn from ``(seed, epoch, index)``, so a resumed run gives the same
weights as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from kprtrack.checkpoints import extract_state_dict, load_checkpoint, load_state_dict_strict
from kprtrack.config import dataclass_to_dict
from kprtrack.keypoints import CONVENTIONS
from kprtrack.pose.augment import AugmentConfig, TrainingSample, make_training_sample
from kprtrack.pose.checkpoint import save_mmpose_checkpoint
from kprtrack.pose.config import PoseModelConfig
from kprtrack.pose.model import TopdownHeatmapNet
from kprtrack.pose.train import KeypointMSELoss, collate, init_weights, train_step
from kprtrack.pose.variants import CODEC_VARIANTS, hrnet_config
from kprtrack.train.loop import EpochTrainer, check_same_settings, resume_state, set_lr
from kprtrack.validate import check_at_least, check_choice

FINAL_CHECKPOINT = "pose.pth"
#: settings a resumed run must share with the checkpoint.
RESUME_KEYS = ("width", "input_size", "codec", "sigma", "keypoint_format", "batch_size", "epochs")


def default_augment() -> AugmentConfig:
    """Milder than mmpose's COCO setting (scale 0.5-1.5, rotation 80 degrees): boxes here are tight GT boxes."""
    return AugmentConfig(
        flip_prob=0.5,
        shift_factor=0.1,
        shift_prob=0.3,
        scale_factor=(0.8, 1.2),
        scale_prob=1.0,
        rotate_factor=30.0,
        rotate_prob=0.5,
    )


@dataclass
class PoseTrainConfig:
    """All settings of a pose training run (the one place their defaults live).

    Attributes:
        data: data set folder in PoseTrack21 layout (``kprtrack synth --out`` output).
        split: split to train on.
        out_dir: folder for ``last.pth``, ``pose.pth`` and ``log.csv``.
        frame_stride: use every n-th labelled frame of each sequence.
        width: HRNet width (8 for HRNet-W8; the file holds about ``2.1 M`` parameters at W8).
        input_size: crop ``[width, height]``, each divisible by 32 (HRNet's four branches).
        codec: heatmap codec ``msra``, ``dark`` or ``udp``.
        sigma: Gaussian sigma of the targets, heatmap pixels.
        keypoint_format: convention of the ground truth and of the model (``posetrack21`` for PoseTrack data).
        train_occluded: occluded joints (visibility 0 but coordinates present) are training targets too.
        min_keypoints: people with fewer labelled joints are skipped.
        min_box_size: people whose box is smaller (shorter side, pixels) are skipped.
        epochs: training epochs.
        batch_size: crops per iteration.
        lr: Adam learning rate after warmup.
        weight_decay: Adam weight decay.
        warmup_epochs: linear warmup length (fractions allowed).
        min_lr_ratio: the cosine decays to this fraction of ``lr``.
        augment: flip / shift / scale / rotation (mmpose ``RandomFlip`` + ``RandomBBoxTransform``).
        seed: seed of the initialisation, the batch order and the augmentation.
        num_threads: torch CPU threads.
        device: torch device.
        log_every: iterations per CSV log row.
        resume: continue from ``out_dir/last.pth`` if it exists.
    """

    data: str = "data/synth"
    split: str = "train"
    out_dir: str = "runs/pose"
    frame_stride: int = 1
    width: int = 8
    input_size: tuple[int, int] = (96, 128)
    codec: str = "dark"
    sigma: float = 2.0
    keypoint_format: str = "posetrack21"
    train_occluded: bool = True
    min_keypoints: int = 3
    min_box_size: float = 8.0
    epochs: int = 2
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_epochs: float = 0.05
    min_lr_ratio: float = 0.02
    augment: AugmentConfig = field(default_factory=default_augment)
    seed: int = 0
    num_threads: int = 1
    device: str = "cpu"
    log_every: int = 20
    resume: bool = True

    def __post_init__(self) -> None:
        check_choice(self, "codec", CODEC_VARIANTS)
        check_choice(self, "keypoint_format", CONVENTIONS)
        if len(self.input_size) != 2 or any(int(s) <= 0 or int(s) % 32 for s in self.input_size):
            raise ValueError(f"input_size: expected [width, height], positive multiples of 32, got {self.input_size}")
        check_at_least(self, ("width", "frame_stride", "epochs", "batch_size", "num_threads", "log_every"), 1)
        if self.sigma <= 0 or self.lr <= 0:
            raise ValueError(f"sigma and lr must be positive, got sigma={self.sigma}, lr={self.lr}")

    def model_config(self) -> PoseModelConfig:
        """The network / codec / pipeline configuration this run trains (and ships)."""
        w, h = (int(s) for s in self.input_size)
        cfg = hrnet_config(
            self.width, (w, h), self.codec, self.keypoint_format, name=f"hrnet_w{self.width}_{h}x{w}_synth"
        )
        return replace(
            cfg,
            codec=replace(cfg.codec, sigma=float(self.sigma)),
            pipeline=replace(cfg.pipeline, flip_indices=flip_indices(CONVENTIONS[self.keypoint_format])),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML / checkpoint friendly)."""
        return dataclass_to_dict(self)


def flip_indices(names: Sequence[str]) -> tuple[int, ...]:
    """Left/right permutation of keypoint ``names`` (``left_x`` <-> ``right_x``; others map to themselves)."""
    index = {n: i for i, n in enumerate(names)}
    out = []
    for n in names:
        if n.startswith("left_"):
            out.append(index.get("right_" + n[5:], index[n]))
        elif n.startswith("right_"):
            out.append(index.get("left_" + n[6:], index[n]))
        else:
            out.append(index[n])
    return tuple(out)


def init_for_training(net: TopdownHeatmapNet) -> TopdownHeatmapNet:
    """Backbone convolutions Kaiming-normal (fan-out, as mmcv's HRNet init), BatchNorm 1/0, head N(0, 0.001)."""
    for m in net.backbone.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    init_weights(net.head, std=0.001)
    return net


@dataclass(frozen=True)
class PersonSample:
    """One annotated person.

    Attributes:
        path: image file.
        box: ``(4,)`` float32 xyxy.
        keypoints: ``(K, 3)`` float32 ``x, y, labelled`` (labelled 1 for training targets, else 0).
    """

    path: Path
    box: np.ndarray
    keypoints: np.ndarray


def labelled_joints(keypoints: np.ndarray, train_occluded: bool = True) -> np.ndarray:
    """``(K,)`` bool joints that are training targets: coordinates present (and visible unless ``train_occluded``)."""
    kp = np.asarray(keypoints, np.float32).reshape(-1, 3)
    present = (kp[:, 0] > 0) & (kp[:, 1] > 0)
    return present if train_occluded else present & (kp[:, 2] > 0)


def load_people(
    root: str | Path,
    split: str,
    frame_stride: int = 1,
    train_occluded: bool = True,
    min_keypoints: int = 3,
    min_box_size: float = 8.0,
) -> list[PersonSample]:
    """Annotated people of a PoseTrack21-layout split.

    Args:
        root: data set folder.
        split: split name.
        frame_stride: keep frames whose index is a multiple of this.
        train_occluded: see :func:`labelled_joints`.
        min_keypoints: skip people with fewer labelled joints.
        min_box_size: skip people whose ``bbox`` has a shorter side below this (pixels).

    Raises:
        ValueError: no person qualifies.
    """
    from kprtrack.synth.dataset import SynthDataset

    ds = SynthDataset(root)
    people: list[PersonSample] = []
    for seq in ds.sequences(split):
        for t in range(0, len(seq), frame_stride):
            for ann in seq.annotations(t):
                x, y, w, h = (float(v) for v in ann["bbox"])
                if min(w, h) < min_box_size:
                    continue
                kp = np.asarray(ann["keypoints"], np.float32).reshape(-1, 3).copy()
                lab = labelled_joints(kp, train_occluded)
                if int(lab.sum()) < min_keypoints:
                    continue
                kp[:, 2] = lab.astype(np.float32)
                people.append(PersonSample(seq.image_path(t), np.array([x, y, x + w, y + h], np.float32), kp))
    if not people:
        raise ValueError(f"{root}: split {split!r} has no annotated person to train on")
    return people


class PoseDataset(torch.utils.data.Dataset):
    """People -> :class:`~kprtrack.pose.augment.TrainingSample` (crop in BGR, targets, weights).

    Args:
        people: from :func:`load_people`.
        model_cfg: the network's config (input size, codec, flip indices).
        augment: augmentation, or ``None`` for the plain test-time crop.
        seed: seed of the per-item augmentation (with the epoch and the index).
    """

    def __init__(
        self,
        people: Sequence[PersonSample],
        model_cfg: PoseModelConfig,
        augment: AugmentConfig | None,
        seed: int = 0,
    ) -> None:
        self.people = list(people)
        self.model_cfg = model_cfg
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (augmentation seeds)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.people)

    def __getitem__(self, index: int) -> TrainingSample:
        p = self.people[index]
        image = cv2.imread(str(p.path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read {p.path}")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return make_training_sample(image, p.box, p.keypoints, self.model_cfg, rng, self.augment)


class PoseTrainer(EpochTrainer[PoseTrainConfig]):
    """The pose model's steps in the shared epoch loop; :func:`train_pose` is the usual entry point.

    Args:
        cfg: settings.
        people: training people (default: :func:`load_people` of ``cfg.data`` / ``cfg.split``).
    """

    name = "pose"
    final_checkpoint = FINAL_CHECKPOINT
    item_name = "people"
    rate_column = "crops_per_s"
    loss_format = ".2e"

    def __init__(self, cfg: PoseTrainConfig, people: Sequence[PersonSample] | None = None) -> None:
        super().__init__(cfg)
        if people is None:
            people = load_people(
                cfg.data, cfg.split, cfg.frame_stride, cfg.train_occluded, cfg.min_keypoints, cfg.min_box_size
            )
        self.model_cfg = cfg.model_config()
        self.dataset = PoseDataset(people, self.model_cfg, cfg.augment, cfg.seed)
        self.plan(len(self.dataset), base_lr=cfg.lr)
        self.net = init_for_training(TopdownHeatmapNet(self.model_cfg)).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.loss = KeypointMSELoss(use_target_weight=True)

    def begin_epoch(self, epoch: int) -> None:
        """Select the epoch's augmentation seeds."""
        self.dataset.set_epoch(epoch)

    def train_batch(self, indices: list[int], lr: float) -> dict[str, float]:
        """One heatmap-MSE step on the people ``indices``; returns ``{'loss'}``."""
        samples = [self.dataset[j] for j in indices]
        inputs, targets, weights = collate(samples, self.model_cfg, self.device, frame_is_rgb=False)
        set_lr(self.optimizer, lr)
        return {"loss": train_step(self.net, self.optimizer, inputs, targets, weights, self.loss)}

    def _meta(self, epoch_done: int) -> dict[str, Any]:
        return {"epoch": epoch_done, "iter": epoch_done * self.iters_per_epoch, "kprtrack_training": self.cfg.to_dict()}

    def write_resume(self, path: Path, epoch_done: int) -> None:
        """mmpose format plus the optimizer and ``train_state``."""
        save_mmpose_checkpoint(
            self.net,
            path,
            meta=self._meta(epoch_done),
            extra={"optimizer": self.optimizer.state_dict(), "train_state": {"epoch": epoch_done}},
        )

    def load(self, path: Path) -> int:
        """Restore weights and optimizer from a resume checkpoint; returns the epoch to start at.

        Raises:
            ValueError: no resume state, or a checkpoint of another architecture / schedule.
        """
        ckpt = load_checkpoint(path)
        state = resume_state(ckpt, path, self.name)
        saved = (ckpt.get("meta") or {}).get("kprtrack_training", {})
        check_same_settings(path, saved, self.cfg.to_dict(), RESUME_KEYS)
        load_state_dict_strict(self.net, extract_state_dict(ckpt, ("state_dict",)), str(path))
        if "optimizer" in ckpt:
            self.optimizer.load_state_dict(ckpt["optimizer"])
        return int(state["epoch"])

    def export(self, path: Path) -> Path:
        """Write the shipped file: ``{'meta', 'state_dict'}`` (no optimizer)."""
        return save_mmpose_checkpoint(self.net.eval(), path, meta=self._meta(self.cfg.epochs))


def train_pose(cfg: PoseTrainConfig, stop_after_epoch: int | None = None, progress: bool = True) -> Path:
    """Train a pose model as ``cfg`` says; see the module docstring. Returns the written checkpoint."""
    return PoseTrainer(cfg).run(stop_after_epoch=stop_after_epoch, progress=progress)


def config_from_yaml(path: str | Path | None, overrides: Sequence[str] = ()) -> PoseTrainConfig:
    """Defaults, updated by a YAML file and ``key=value`` overrides (unknown keys are errors)."""
    from kprtrack.config import load_config

    return load_config(PoseTrainConfig, path, overrides, "pose config")
