"""One resumable epoch loop for trainers that batch their own data set (the detector and pose trainers).

:class:`EpochTrainer` owns what every such run does the same way:

* resume from ``OUT/last.pth`` at the next epoch (``cfg.resume``);
* per epoch, shuffled full batches of data set indices drawn from ``(seed, epoch)``
  (:func:`epoch_batches`), so a resumed run sees the batches of an uninterrupted one;
* the learning rate ``base_lr * cosine_with_warmup(...)`` set before every iteration;
* a tqdm bar, a check that the loss is finite, and a ``OUT/log.csv`` row every ``log_every``
  iterations (and at the end of each epoch) averaging the iterations since the last row;
* ``OUT/last.pth`` after every epoch, the exported file at the end.

A subclass builds its data set and model and fills in the hooks: :meth:`~EpochTrainer.begin_epoch`,
:meth:`~EpochTrainer.train_batch`, :meth:`~EpochTrainer.write_resume`, :meth:`~EpochTrainer.load` and
:meth:`~EpochTrainer.export`.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
import torch

from kprtrack.train.common import CSVLogger, cosine_with_warmup, seed_everything

LAST_CHECKPOINT = "last.pth"
LOG_FILE = "log.csv"


class EpochLoopConfig(Protocol):
    """The settings :class:`EpochTrainer` reads (fields of the detector and pose train configs)."""

    out_dir: str
    epochs: int
    batch_size: int
    warmup_epochs: float
    min_lr_ratio: float
    seed: int
    num_threads: int
    device: str
    log_every: int
    resume: bool


ConfigT = TypeVar("ConfigT", bound=EpochLoopConfig)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> Iterator[list[int]]:
    """Shuffled full batches of ``range(n)`` for one epoch (the last partial batch is dropped)."""
    order = np.random.default_rng([seed, epoch, 7]).permutation(n)
    for start in range(0, n - batch_size + 1, batch_size):
        yield order[start : start + batch_size].tolist()


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def resume_state(checkpoint: Mapping[str, Any], path: Path, trainer: str) -> dict[str, Any]:
    """The ``train_state`` entry of a resume checkpoint.

    Raises:
        ValueError: the checkpoint has none (it is not a resume checkpoint of ``trainer``).
    """
    state = checkpoint.get("train_state")
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a resume checkpoint of kprtrack's {trainer} trainer (no 'train_state')")
    return state


def check_same_settings(path: Path, saved: Mapping[str, Any], mine: Mapping[str, Any], keys: Iterable[str]) -> None:
    """Refuse to resume a run whose ``keys`` the checkpoint recorded with other values.

    Raises:
        ValueError: naming the first differing setting.
    """
    for key in keys:
        if key in saved and saved[key] != mine[key]:
            raise ValueError(f"{path}: was trained with {key}={saved[key]}, the config says {mine[key]}")


class _LogWindow:
    """Sums of the per-iteration logs since the last CSV row."""

    def __init__(self, tick: float) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0
        self.tick = tick

    def add(self, logs: Mapping[str, float]) -> None:
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1

    def means(self) -> dict[str, float]:
        return {k: v / self.count for k, v in self.sums.items()}


class EpochTrainer(ABC, Generic[ConfigT]):
    """The epoch loop; subclasses provide the data, the step and the checkpoint formats.

    A subclass's ``__init__`` calls ``super().__init__(cfg)`` (threads, seeding, device), builds its
    data set, calls :meth:`plan` with the data set size and base learning rate, then builds its model
    (in that order, so the random initialisation follows the seeding).

    Args:
        cfg: the run's settings.

    Attributes:
        start_epoch: the epoch the last :meth:`run` started at (after resuming).
        iters_per_epoch: full batches per epoch (set by :meth:`plan`).
    """

    #: what is trained, in the progress bar and error messages (``"detector"``).
    name: ClassVar[str]
    #: file name of the exported result in ``out_dir``.
    final_checkpoint: ClassVar[str]
    #: what the data set's items are, in messages (``"frames"``).
    item_name: ClassVar[str] = "items"
    #: log column of items per second (``"img_per_s"``).
    rate_column: ClassVar[str] = "items_per_s"
    #: the logs entry checked for being finite and shown in the bar, and its format.
    loss_key: ClassVar[str] = "loss"
    loss_format: ClassVar[str] = ".3f"

    def __init__(self, cfg: ConfigT) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out_dir)
        torch.set_num_threads(cfg.num_threads)
        seed_everything(cfg.seed)
        self.device = torch.device(cfg.device)
        self.start_epoch = 0

    def plan(self, num_items: int, base_lr: float) -> None:
        """Fix the schedule: iterations per epoch, total and warm-up iterations, base learning rate.

        Raises:
            ValueError: ``num_items`` is less than one batch.
        """
        cfg = self.cfg
        self.num_items = num_items
        self.iters_per_epoch = num_items // cfg.batch_size
        if self.iters_per_epoch < 1:
            raise ValueError(f"{num_items} {self.item_name} are fewer than one batch of batch_size={cfg.batch_size}")
        self.total_iters = cfg.epochs * self.iters_per_epoch
        self.warmup_iters = int(round(cfg.warmup_epochs * self.iters_per_epoch))
        self.base_lr = base_lr

    def lr_at(self, iteration: int) -> float:
        """Learning rate of a 0-based global iteration: linear warm-up, then cosine decay."""
        factor = cosine_with_warmup(iteration, self.total_iters, self.warmup_iters, self.cfg.min_lr_ratio)
        return self.base_lr * factor

    # -- hooks -----------------------------------------------------------------------------------
    def begin_epoch(self, epoch: int) -> None:  # noqa: B027 - optional hook
        """Prepare the 0-based ``epoch`` (augmentation seeds, loss switches)."""

    @abstractmethod
    def train_batch(self, indices: list[int], lr: float) -> dict[str, float]:
        """One optimisation step on the data set items ``indices`` at learning rate ``lr``.

        Returns:
            The iteration's scalars (``loss_key`` among them), averaged into the log rows.
        """

    @abstractmethod
    def write_resume(self, path: Path, epoch_done: int) -> None:
        """Write the resume checkpoint after ``epoch_done`` completed epochs to ``path``."""

    @abstractmethod
    def load(self, path: Path) -> int:
        """Restore a resume checkpoint; returns the epoch to start at."""

    @abstractmethod
    def export(self, path: Path) -> Path:
        """Write the shipped file to ``path`` and return it."""

    # -- loop --------------------------------------------------------------------------------------
    def save(self, path: Path, epoch_done: int) -> Path:
        """Write the resume checkpoint after ``epoch_done`` completed epochs (through a temporary file)."""
        tmp = path.with_suffix(".tmp")
        self.write_resume(tmp, epoch_done)
        tmp.replace(path)
        return path

    def run(self, stop_after_epoch: int | None = None, progress: bool = True) -> Path:
        """Train (resuming if configured); returns the exported file, or ``last.pth`` when stopped early.

        Args:
            stop_after_epoch: stop once this many epochs are complete (the run can be resumed).
            progress: show a tqdm bar.
        """
        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        last = self.out / LAST_CHECKPOINT
        if cfg.resume and last.is_file():
            self.start_epoch = self.load(last)
        logger = CSVLogger(self.out / LOG_FILE)
        end = cfg.epochs if stop_after_epoch is None else min(cfg.epochs, stop_after_epoch)
        for epoch in range(self.start_epoch, end):
            self.begin_epoch(epoch)
            self._train_epoch(epoch, logger, progress)
            self.save(last, epoch + 1)
        if end < cfg.epochs:
            return last
        return self.export(self.out / self.final_checkpoint)

    def _train_epoch(self, epoch: int, logger: CSVLogger, progress: bool) -> None:
        from tqdm import tqdm

        cfg = self.cfg
        bar = tqdm(
            epoch_batches(self.num_items, cfg.batch_size, cfg.seed, epoch),
            total=self.iters_per_epoch,
            desc=f"{self.name} epoch {epoch + 1}/{cfg.epochs}",
            unit="it",
            disable=not progress,
            dynamic_ncols=True,
        )
        window = _LogWindow(time.perf_counter())
        for i, indices in enumerate(bar):
            lr = self.lr_at(epoch * self.iters_per_epoch + i)
            logs = self.train_batch(indices, lr)
            loss = logs[self.loss_key]
            if not math.isfinite(loss):
                raise FloatingPointError(f"{self.name} loss is {loss} at epoch {epoch + 1}, iter {i}")
            window.add(logs)
            bar.set_postfix(loss=f"{loss:{self.loss_format}}", lr=f"{lr:.2e}")
            if window.count == cfg.log_every or i == self.iters_per_epoch - 1:
                now = time.perf_counter()
                row: dict[str, Any] = {"epoch": epoch + 1, "iter": i + 1, "lr": lr, **window.means()}
                row[self.rate_column] = window.count * cfg.batch_size / max(now - window.tick, 1e-9)
                logger.log(row)
                window = _LogWindow(now)
