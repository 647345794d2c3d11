"""Every setting of KPR training in one dataclass (``configs/train/kpr.yaml`` restates the defaults).

The defaults are the recipe of the project's shipped small model (``weights/kpr_synth_nano_k8.pth.tar``):
a nano Swin at 128 x 64 trained from scratch on the synthetic world. The loss and augmentation
settings are the paper's (GiLt, BIPO p = 0.3, part prediction 0.35, PK 16 x 4); for the released
Swin-B recipe on real data override ``model``, ``image_size``, ``embedding_dim`` and the
optimisation settings (see docs/training.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from kprtrack.config import ConfigError, apply_overrides, dataclass_from_dict, dataclass_to_dict, load_yaml
from kprtrack.reid.build import KPR_CONFIGS
from kprtrack.reid.train.data import AugmentSettings
from kprtrack.validate import check_at_least, check_in_range

#: Embeddings that may carry an identity loss (``KPROutput.id_logits`` keys).
ID_EMBEDDINGS = ("globl", "foreg", "backg", "conct", "parts")

#: Fields of :class:`KPRTrainConfig` checked to be >= 1, >= 0 and in [0, 1].
_AT_LEAST_ONE = ("epochs", "ids_per_batch", "samples_per_id", "embedding_dim", "eval_batch_size", "log_every",
                 "num_threads")  # fmt: skip
_NON_NEGATIVE = ("lr", "weight_decay", "warmup_epochs", "grad_clip", "pad_fraction", "triplet_margin",
                 "freeze_prompt_epochs", "num_workers", "eval_every", "keep_last_checkpoints",
                 "max_iters_per_epoch")  # fmt: skip
_UNIT_INTERVAL = ("bipo_p", "erasing_p", "min_lr_factor")


@dataclass(frozen=True)
class KPRTrainConfig:
    """KPR training settings.

    Attributes:
        data_root: Occluded-PoseTrack-ReID folder (``tools/build_occ_ptrack.py``); its ``train``
            split is trained on, ``query`` / ``gallery`` (if present) are evaluated.
        output_dir: where checkpoints, the resume file and the CSV logs go.
        model: KPR variant (:data:`kprtrack.reid.build.KPR_CONFIGS`).
        image_size: model input ``(H, W)`` (recorded in the checkpoint).
        embedding_dim: D, the embedding size.
        drop_path_rate: Swin stochastic depth.
        use_prompts: train with the keypoint prompt tokenizer; ``false`` builds the same model
            without it (``masks_prompting`` off): the "no prompts" ablation.
        epochs: training epochs.
        ids_per_batch: P of the PK sampler (paper 16).
        samples_per_id: K of the PK sampler (paper 4).
        lr: peak learning rate (AdamW).
        weight_decay: AdamW weight decay (not applied to norms, biases and position tables).
        warmup_epochs: linear warmup length (fractions allowed).
        min_lr_factor: final LR of the cosine decay, relative to ``lr``.
        freeze_prompt_epochs: the prompt tokenizer is frozen during the first epochs.
        grad_clip: clip the gradient norm (0: off).
        id_embeddings: embeddings with an identity cross-entropy (GiLt: global, foreground, concatenated parts).
        id_label_smoothing: label smoothing of the identity loss.
        id_weight: weight of each identity loss.
        triplet_margin: margin of the batch-hard triplet on the part-based distance.
        triplet_weight: weight of the triplet loss.
        part_prediction_weight: weight of the pixel part-prediction loss (reference code 0.35; paper 0.3).
        part_prediction_label_smoothing: label smoothing of the part-prediction loss.
        bipo_p: probability that a crop is occluded by another person of the batch (BIPO).
        pad_fraction: random translation, as a fraction of the width (0: off).
        erasing_p: probability of random erasing.
        erasing_area: range of the erased area fraction.
        erasing_ratio: erased rectangle aspect ratio range ``[r, 1/r]``.
        seed: random seed (sampling, augmentation, initialisation).
        num_threads: torch CPU threads.
        num_workers: data loader worker processes (0: load in the main process).
        device: ``cpu`` or ``cuda``.
        eval_every: evaluate on query/gallery every this many epochs (0: never); the last epoch is
            always evaluated when query/gallery exist and this is positive.
        eval_batch_size: crops per forward at evaluation.
        log_every: write a row to ``train_log.csv`` every this many iterations.
        keep_last_checkpoints: keep the released-format checkpoints of the last N epochs (0: all).
        max_iters_per_epoch: cap iterations per epoch (0: full epochs; for smoke tests).
        progress: show a progress bar.
    """

    data_root: str = ""
    output_dir: str = "runs/kpr"
    model: str = "kpr_swin_nano_k8"
    image_size: tuple[int, int] = (128, 64)
    embedding_dim: int = 256
    drop_path_rate: float = 0.1
    use_prompts: bool = True
    epochs: int = 6
    ids_per_batch: int = 16
    samples_per_id: int = 4
    lr: float = 0.001
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    min_lr_factor: float = 0.01
    freeze_prompt_epochs: int = 1
    grad_clip: float = 5.0
    id_embeddings: tuple[str, ...] = ("globl", "foreg", "conct")
    id_label_smoothing: float = 0.1
    id_weight: float = 1.0
    triplet_margin: float = 0.3
    triplet_weight: float = 1.0
    part_prediction_weight: float = 0.35
    part_prediction_label_smoothing: float = 0.1
    bipo_p: float = 0.3
    pad_fraction: float = 0.08
    erasing_p: float = 0.5
    erasing_area: tuple[float, float] = (0.02, 0.4)
    erasing_ratio: float = 0.3
    seed: int = 0
    num_threads: int = 1
    num_workers: int = 0
    device: str = "cpu"
    eval_every: int = 1
    eval_batch_size: int = 64
    log_every: int = 10
    keep_last_checkpoints: int = 3
    max_iters_per_epoch: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.model not in KPR_CONFIGS:
            raise ValueError(f"model: unknown KPR variant {self.model!r}; expected one of {sorted(KPR_CONFIGS)}")
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            raise ValueError(f"image_size: expected (H, W) with both >= 16, got {self.image_size}")
        bad = [e for e in self.id_embeddings if e not in ID_EMBEDDINGS]
        if bad:
            raise ValueError(f"id_embeddings: unknown {bad}; expected names from {ID_EMBEDDINGS}")
        check_at_least(self, _AT_LEAST_ONE, 1)
        if self.ids_per_batch < 2 or self.samples_per_id < 2:
            raise ValueError("ids_per_batch and samples_per_id must be >= 2 (batch-hard triplet mining)")
        check_in_range(self, _UNIT_INTERVAL)
        check_at_least(self, _NON_NEGATIVE, 0)
        lo, hi = self.erasing_area
        if not 0 < lo <= hi < 1 or not 0 < self.erasing_ratio <= 1:
            raise ValueError(f"erasing_area {self.erasing_area} / erasing_ratio {self.erasing_ratio} out of range")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")

    @property
    def batch_size(self) -> int:
        """P x K."""
        return self.ids_per_batch * self.samples_per_id

    @property
    def augment(self) -> AugmentSettings:
        """The per-item augmentation settings."""
        return AugmentSettings(self.pad_fraction, self.erasing_p, self.erasing_area, self.erasing_ratio)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON/pickle friendly)."""
        return dataclass_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> KPRTrainConfig:
        """Validate a mapping (unknown keys and wrong types raise :class:`kprtrack.config.ConfigError`)."""
        return dataclass_from_dict(cls, data, where)


#: Settings that may differ when resuming (they do not change what is learned).
RESUMABLE_CHANGES = frozenset(
    {"output_dir", "num_threads", "num_workers", "device", "eval_every", "eval_batch_size", "log_every",
     "keep_last_checkpoints", "progress", "data_root"}
)  # fmt: skip


def load_train_config(
    path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None, **changes: Any
) -> KPRTrainConfig:
    """Defaults, then a YAML file, then ``key=value`` overrides, then keyword changes.

    Raises:
        kprtrack.config.ConfigError: unknown key or bad value (the message names it).
    """
    data: dict[str, Any] = load_yaml(path) if path is not None else {}
    if overrides:
        data = apply_overrides(data, overrides)
    data.update({k: v for k, v in changes.items() if v is not None})
    known = {f.name for f in fields(KPRTrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path or 'train config'}: unknown key(s) {', '.join(unknown)}")
    return KPRTrainConfig.from_dict(data, str(path) if path else "")


def default_config_path() -> Path:
    """``configs/train/kpr.yaml`` of the source tree."""
    return Path(__file__).resolve().parents[3] / "configs" / "train" / "kpr.yaml"
