"""The KPR training loop: PK batches, BIPO, prompts, GiLt + part-prediction losses, checkpoints, resume.

One iteration:

1. a PK batch (P identities x K crops) of augmented crops (:mod:`kprtrack.reid.train.data`);
2. BIPO on the batch (another person of the batch pasted over 30 % of the crops, parsing, positive
   and negative keypoints updated);
3. prompts built from the (updated) keypoints, unless ``use_prompts`` is off;
4. forward in training mode and the loss
   ``sum_e id_weight * CE_ls(id_logits[e]) + triplet_weight * batch_hard(part distance)
   + part_prediction_weight * CE(pixel logits, parsing)`` with ``e`` in ``id_embeddings``
   (GiLt: global, foreground, concatenated parts) and the part distance averaged over the parts
   visible in both samples;
5. AdamW step with the LR of a cosine schedule with linear warmup, set per iteration.

After each epoch the model is written in the released format
(``output_dir/checkpoints/kpr_epoch{N:03d}.pth.tar``, read by
:func:`kprtrack.reid.checkpoint.load_kpr_checkpoint`) and ``output_dir/resume.pth`` records the
model, optimizer, step and epoch, so that ``fit(resume=...)`` continues with the next epoch and
reproduces the batches of an uninterrupted run. Logs: ``train_log.csv`` (every ``log_every``
iterations) and ``epochs.csv`` (losses, time and evaluation per epoch).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kprtrack.checkpoints import load_checkpoint, load_state_dict_strict
from kprtrack.reid.build import build_kpr
from kprtrack.reid.checkpoint import save_kpr_checkpoint
from kprtrack.reid.head import KPROutput
from kprtrack.reid.model import KPR
from kprtrack.reid.prompts import build_prompt_masks
from kprtrack.reid.train.bipo import bipo
from kprtrack.reid.train.config import RESUMABLE_CHANGES, KPRTrainConfig
from kprtrack.reid.train.data import IGNORE, ReIDCropDataset, SeededBatchSampler, collate, load_records
from kprtrack.reid.train.evaluate import evaluate_reid, metrics_row
from kprtrack.reid.train.losses import batch_hard_triplet, identity_loss, pairwise_part_distance, part_prediction_loss
from kprtrack.train.common import CSVLogger, PKSampler, cosine_with_warmup, seed_everything
from kprtrack.train.loop import set_lr

RESUME_FILE = "resume.pth"


@dataclass
class TrainResult:
    """What :meth:`KPRTrainer.fit` returns.

    Attributes:
        checkpoint: the last released-format checkpoint written.
        epochs_run: epochs trained by this call (0 if the run was already complete).
        last_epoch: number of completed epochs.
        metrics: evaluation of the last evaluated epoch (percent columns), if any.
        seconds: wall time of this call.
    """

    checkpoint: Path | None
    epochs_run: int
    last_epoch: int
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def build_model(config: KPRTrainConfig, num_classes: int) -> KPR:
    """A fresh KPR for ``config`` with ``num_classes`` identity classes."""
    return build_kpr(
        config.model,
        num_classes=num_classes,
        image_size=tuple(config.image_size),
        dim_reduce_output=config.embedding_dim,
        masks_prompting=config.use_prompts,
        swin={"drop_path_rate": config.drop_path_rate},
    )


def normalize_batch(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """``(B, 3, H, W)`` uint8 -> float32 ``(x / 255 - mean) / std``."""
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.float() / 255.0 - m) / s


def gilt_losses(out: KPROutput, pids: torch.Tensor, parsing: torch.Tensor, config: KPRTrainConfig) -> dict[str, Any]:
    """The loss terms of one batch (``total`` plus each term, as tensors)."""
    terms: dict[str, torch.Tensor] = {}
    for name in config.id_embeddings:
        logits = out.id_logits[name]
        if logits.ndim == 3:  # per-part classifiers: average over the parts
            logits = logits.flatten(0, 1)
            labels = pids.repeat_interleave(out.id_logits[name].shape[1])
        else:
            labels = pids
        terms[f"id_{name}"] = identity_loss(logits, labels, config.id_label_smoothing)
    dist = pairwise_part_distance(out.embeddings["parts"], out.visibility["parts"])
    terms["triplet"] = batch_hard_triplet(dist, pids, config.triplet_margin)
    terms["parts"] = part_prediction_loss(
        out.pixel_logits, parsing, config.part_prediction_label_smoothing, ignore_index=IGNORE
    )
    total = config.id_weight * sum(terms[f"id_{n}"] for n in config.id_embeddings)
    total = total + config.triplet_weight * terms["triplet"] + config.part_prediction_weight * terms["parts"]
    return {"total": total, **terms}


def _param_groups(model: KPR, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue  # frozen by design (semantic layers, BNNeck biases)
        if p.ndim <= 1 or "relative_position_bias_table" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class KPRTrainer:
    """Train a KPR model on the ``train`` split of an Occluded-PoseTrack-ReID folder.

    Args:
        config: every setting (:class:`KPRTrainConfig`).
    """

    def __init__(self, config: KPRTrainConfig) -> None:
        if not config.data_root:
            raise ValueError("data_root: give the Occluded-PoseTrack-ReID folder (tools/build_occ_ptrack.py)")
        self.config = config
        self.root = Path(config.data_root)
        self.out = Path(config.output_dir)
        self.device = torch.device(config.device)
        records = load_records(self.root, "train")
        self.dataset = ReIDCropDataset(records, config.image_size, config.augment)
        self.num_classes = self.dataset.num_classes
        self.sampler = SeededBatchSampler(
            PKSampler(self.dataset.labels, config.ids_per_batch, config.samples_per_id, seed=config.seed),
            config.seed,
            config.max_iters_per_epoch,
        )
        self.iters_per_epoch = len(self.sampler)
        self.total_steps = self.iters_per_epoch * config.epochs
        self.warmup_steps = int(round(config.warmup_epochs * self.iters_per_epoch))
        self.has_test = (self.root / "query.json").is_file() and (self.root / "gallery.json").is_file()
        torch.set_num_threads(config.num_threads)
        seed_everything(config.seed)
        self.model = build_model(config, self.num_classes).to(self.device)
        self.prompt_params = [p for p in self.model.prompt_encoder.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(_param_groups(self.model, config.weight_decay), lr=config.lr)
        self.epoch = 0  # completed epochs
        self.step = 0  # completed iterations

    # ------------------------------------------------------------------ resume
    def resume_path(self) -> Path:
        """``output_dir/resume.pth``."""
        return self.out / RESUME_FILE

    def save_resume(self) -> Path:
        """Write the resume file (model, optimizer, epoch, step, config)."""
        path = self.resume_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "format": "kprtrack-kpr-train-resume",
            "epoch": self.epoch,
            "step": self.step,
            "num_classes": self.num_classes,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"step": self.step, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps},
        }
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path

    def load_resume(self, path: str | os.PathLike[str]) -> None:
        """Restore a resume file written by :meth:`save_resume`.

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file is not a resume file or was written with settings that change
                what is learned (the differing keys are named).
        """
        state = load_checkpoint(path)
        if not isinstance(state, dict) or state.get("format") != "kprtrack-kpr-train-resume":
            raise ValueError(f"{path}: not a KPR training resume file")
        saved = dict(state["config"])
        now = self.config.to_dict()
        differ = sorted(k for k in set(saved) | set(now) if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k))
        if differ:
            detail = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in differ)
            raise ValueError(f"{path}: cannot resume with changed settings ({detail})")
        if int(state["num_classes"]) != self.num_classes:
            raise ValueError(f"{path}: trained with {state['num_classes']} identities, the data has {self.num_classes}")
        load_state_dict_strict(self.model, state["model"], str(path))
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])

    # ------------------------------------------------------------------ one batch
    def _lr(self, step: int) -> float:
        return self.config.lr * cosine_with_warmup(step, self.total_steps, self.warmup_steps, self.config.min_lr_factor)

    def _inputs(
        self, batch: dict[str, Any], epoch: int, iteration: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Images, prompts and parsing of a batch after BIPO."""
        cfg = self.config
        images = batch["image"].permute(0, 3, 1, 2)  # (B, 3, H, W) uint8
        rng = np.random.default_rng([cfg.seed, epoch, iteration, 7])
        images, parsing, kps, negs = bipo(
            images,
            batch["parsing"],
            batch["keypoints"],
            batch["negatives"],
            batch["pid"],
            p=cfg.bipo_p,
            rng=rng,
            ignore_index=IGNORE,
        )
        x = normalize_batch(images, self.model.config.mean, self.model.config.std).to(self.device)
        prompts = None
        if cfg.use_prompts:
            h, w = cfg.image_size
            mc = self.model.config
            prompts = build_prompt_masks(
                kps,
                np.tile([w, h], (len(kps), 1)),
                negs,
                grouping=mc.prompt_grouping,
                image_size=(h, w),
                vis_thresh=mc.vis_thresh,
                gaussian_scale=mc.gaussian_scale,
                use_negative_keypoints=mc.use_negative_keypoints,
            ).to(self.device)
        return x, prompts, parsing.to(self.device)

    def _set_prompt_trainable(self, epoch: int) -> None:
        trainable = epoch >= self.config.freeze_prompt_epochs
        for p in self.prompt_params:
            p.requires_grad_(trainable)

    # ------------------------------------------------------------------ loop
    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch (0-based ``epoch``); returns the mean of each loss term."""
        from tqdm import tqdm

        cfg = self.config
        self.model.train()
        self._set_prompt_trainable(epoch)
        self.sampler.set_epoch(epoch)
        torch.manual_seed(cfg.seed + 1000 * (epoch + 1))  # stochastic depth, identical after a resume
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=self.sampler,
            collate_fn=collate,
            num_workers=cfg.num_workers,
            persistent_workers=False,
        )
        sums: dict[str, float] = defaultdict(float)
        count = 0
        log = CSVLogger(self.out / "train_log.csv")
        bar = tqdm(loader, total=self.iters_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not cfg.progress)
        for it, batch in enumerate(bar):
            lr = self._lr(self.step)
            set_lr(self.optimizer, lr)
            x, prompts, parsing = self._inputs(batch, epoch, it)
            pids = batch["pid"].to(self.device)
            out = self.model(x, prompts)
            losses = gilt_losses(out, pids, parsing, cfg)
            if not torch.isfinite(losses["total"]):
                raise FloatingPointError(f"non-finite loss at epoch {epoch + 1}, iteration {it}: {losses}")
            self.optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.step += 1
            count += 1
            values = {k: float(v.detach()) for k, v in losses.items()}
            for k, v in values.items():
                sums[k] += v
            bar.set_postfix(loss=f"{values['total']:.3f}", lr=f"{lr:.2e}")
            if self.step % cfg.log_every == 0:
                log.log({"epoch": epoch + 1, "step": self.step, "lr": lr, **values})
        bar.close()
        return {k: v / max(1, count) for k, v in sums.items()}

    def evaluate(self, use_prompts: bool | None = None) -> dict[str, Any]:
        """Rank-1 / mAP on the data root's query/gallery (percent columns; empty without a test split)."""
        if not self.has_test:
            return {}
        prompts = self.config.use_prompts if use_prompts is None else use_prompts
        res = evaluate_reid(self.model, self.root, prompts, self.config.eval_batch_size, self.device)
        return metrics_row(res)

    def save_checkpoint(self, metrics: dict[str, Any]) -> Path:
        """Write the released-format checkpoint of the current epoch; prune old ones."""
        folder = self.out / "checkpoints"
        path = folder / f"kpr_epoch{self.epoch:03d}.pth.tar"
        save_kpr_checkpoint(
            self.model,
            path,
            epoch=self.epoch,
            rank1=float(metrics.get("all_rank1", 0.0)),
            mAP=float(metrics.get("all_mAP", 0.0)),
            extra={"kprtrack_train": {"config": self.config.to_dict(), "num_classes": self.num_classes, **metrics}},
        )
        keep = self.config.keep_last_checkpoints
        if keep > 0:
            for old in sorted(folder.glob("kpr_epoch*.pth.tar"))[:-keep]:
                old.unlink()
        return path

    def fit(self, resume: str | os.PathLike[str] | None = None, max_epochs: int | None = None) -> TrainResult:
        """Train until ``config.epochs`` epochs are complete.

        Args:
            resume: a resume file, ``"auto"`` (``output_dir/resume.pth`` if it exists) or ``None``
                (start from scratch).
            max_epochs: stop after this many epochs in this call (a later ``fit(resume="auto")``
                continues); ``None``: run to the end.
        """
        t0 = time.time()
        if resume is not None:
            path = self.resume_path() if str(resume) == "auto" else Path(resume)
            if path.is_file() or str(resume) != "auto":
                self.load_resume(path)
        cfg = self.config
        epochs_log = CSVLogger(self.out / "epochs.csv")
        checkpoint: Path | None = None
        metrics: dict[str, Any] = {}
        start = self.epoch
        stop = cfg.epochs if max_epochs is None else min(cfg.epochs, start + max_epochs)
        for epoch in range(start, stop):
            te = time.time()
            losses = self.train_epoch(epoch)
            self.epoch = epoch + 1
            train_s = time.time() - te
            metrics = {}
            last = self.epoch == cfg.epochs
            if cfg.eval_every > 0 and (self.epoch % cfg.eval_every == 0 or last):
                metrics = self.evaluate()
            checkpoint = self.save_checkpoint(metrics)
            self.save_resume()
            row = {"epoch": self.epoch, "step": self.step, "lr": self._lr(max(0, self.step - 1))}
            row.update({f"loss_{k}": round(v, 5) for k, v in losses.items()})
            row.update({"train_s": round(train_s, 1), "epoch_s": round(time.time() - te, 1)})
            row.update(metrics or {"all_rank1": "", "all_mAP": "", "multi_person_rank1": "", "multi_person_mAP": ""})
            epochs_log.log(row)
        return TrainResult(checkpoint, self.epoch - start, self.epoch, metrics, time.time() - t0)
