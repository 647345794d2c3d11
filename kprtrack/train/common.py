"""Small pieces every trainer needs: seeding, LR schedule, identity-balanced sampling, CSV logs."""

from __future__ import annotations

import csv
import math
import os
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cosine_with_warmup(step: int, total_steps: int, warmup_steps: int, min_factor: float = 0.01) -> float:
    """LR multiplier: linear warmup from ``1/warmup`` to 1, then cosine decay to ``min_factor``."""
    if total_steps <= 0:
        raise ValueError("total_steps must be positive")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


class PKSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of ``P`` identities x ``K`` samples each (identities with fewer samples are resampled).

    Args:
        labels: identity label of every dataset item.
        p: identities per batch.
        k: samples per identity.
        seed: sampling seed (changes per epoch through :meth:`set_epoch`).
    """

    def __init__(self, labels: Sequence[int], p: int, k: int, seed: int = 0) -> None:
        if p < 2 or k < 2:
            raise ValueError(f"PK sampling needs P >= 2 and K >= 2 (got P={p}, K={k}) for triplet mining")
        self.by_id: dict[int, list[int]] = defaultdict(list)
        for i, label in enumerate(labels):
            self.by_id[int(label)].append(i)
        if len(self.by_id) < p:
            raise ValueError(f"PK sampling needs at least P={p} identities, the dataset has {len(self.by_id)}")
        self.p, self.k, self.seed, self.epoch = p, k, seed, 0
        self.num_batches = max(1, len(labels) // (p * k))

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently for each epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng(self.seed + 1000 * self.epoch)
        ids = list(self.by_id)
        for _ in range(self.num_batches):
            chosen = rng.choice(len(ids), size=self.p, replace=False)
            batch: list[int] = []
            for c in chosen:
                items = self.by_id[ids[c]]
                batch.extend(int(x) for x in rng.choice(items, size=self.k, replace=len(items) < self.k))
            yield batch


class CSVLogger:
    """Append rows of scalars to a CSV file (header written once; resuming appends)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fields: list[str] | None = None
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, newline="") as f:
                self._fields = next(csv.reader(f), None)

    def log(self, row: dict[str, Any]) -> None:
        """Write one row; the first row fixes the columns."""
        if self._fields is None:
            self._fields = list(row)
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self._fields)
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(k, "")) for k in self._fields])


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, torch.Tensor):
        return f"{v.item():.6g}"
    return v
