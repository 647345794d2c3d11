"""The shared epoch loop (kprtrack/train/loop.py) and training command line, on a toy linear regression."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from kprtrack.checkpoints import load_checkpoint
from kprtrack.config import load_config
from kprtrack.train.common import cosine_with_warmup
from kprtrack.train.loop import EpochTrainer, check_same_settings, epoch_batches, resume_state, set_lr
from kprtrack.train.script import run_training_script
from tests.training_helpers import read_log


@dataclass
class ToyConfig:
    out_dir: str = "runs/toy"
    num_items: int = 10
    epochs: int = 3
    batch_size: int = 2
    lr: float = 0.05
    warmup_epochs: float = 0.5
    min_lr_ratio: float = 0.1
    seed: int = 0
    num_threads: int = 1
    device: str = "cpu"
    log_every: int = 2
    resume: bool = True
    nan_at: int = -1  # global iteration whose loss is NaN (-1: never)


class ToyTrainer(EpochTrainer[ToyConfig]):
    """Fits ``y = 2 x + 1`` with one linear layer; records every iteration's loss and learning rate."""

    name = "toy"
    final_checkpoint = "toy.pth"
    item_name = "points"
    rate_column = "points_per_s"

    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__(cfg)
        self.x = torch.linspace(-1, 1, cfg.num_items).unsqueeze(1)
        self.plan(cfg.num_items, base_lr=cfg.lr)
        self.net = torch.nn.Linear(1, 1)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=cfg.lr, momentum=0.9)
        self.seen: list[tuple[int, float, float]] = []  # (epoch, lr, loss)
        self.epoch = -1

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def train_batch(self, indices: list[int], lr: float) -> dict[str, float]:
        set_lr(self.optimizer, lr)
        x = self.x[indices]
        loss = torch.nn.functional.mse_loss(self.net(x), 2 * x + 1)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        value = float(loss.detach()) if len(self.seen) != self.cfg.nan_at else math.nan
        self.seen.append((self.epoch, lr, value))
        return {"loss": value, "half": value / 2}

    def write_resume(self, path: Path, epoch_done: int) -> None:
        state = {"epoch": epoch_done, "config": {"batch_size": self.cfg.batch_size}}
        torch.save({"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "train_state": state}, path)

    def load(self, path: Path) -> int:
        ckpt = load_checkpoint(path)
        state = resume_state(ckpt, path, self.name)
        check_same_settings(path, state["config"], {"batch_size": self.cfg.batch_size}, ("batch_size",))
        self.net.load_state_dict(ckpt["net"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        return int(state["epoch"])

    def export(self, path: Path) -> Path:
        torch.save({"net": self.net.state_dict()}, path)
        return path


def test_epoch_batches_are_seeded_full_batches():
    batches = list(epoch_batches(11, 3, seed=4, epoch=2))
    assert [len(b) for b in batches] == [3, 3, 3]  # the partial batch is dropped
    assert len(set(sum(batches, []))) == 9 and batches == list(epoch_batches(11, 3, seed=4, epoch=2))
    assert batches != list(epoch_batches(11, 3, seed=4, epoch=3))


def test_schedule_logs_and_export(tmp_path):
    trainer = ToyTrainer(ToyConfig(out_dir=str(tmp_path)))
    assert trainer.run(progress=False) == tmp_path / "toy.pth"
    ipe = 5
    lrs = [lr for _, lr, _ in trainer.seen]
    assert lrs == [0.05 * cosine_with_warmup(i, 3 * ipe, round(0.5 * ipe), 0.1) for i in range(3 * ipe)]
    rows = read_log(tmp_path / "log.csv")
    assert list(rows[0]) == ["epoch", "iter", "lr", "loss", "half", "points_per_s"]
    assert [(r["epoch"], r["iter"]) for r in rows] == [(str(e), str(i)) for e in (1, 2, 3) for i in (2, 4, 5)]
    losses = [loss for _, _, loss in trainer.seen]
    windows = [w for e in range(3) for w in ((e * 5, e * 5 + 2), (e * 5 + 2, e * 5 + 4), (e * 5 + 4, e * 5 + 5))]
    for row, (a, b) in zip(rows, windows):
        assert float(row["loss"]) == pytest.approx(np.mean(losses[a:b]), rel=1e-5)
        assert float(row["lr"]) == pytest.approx(lrs[b - 1], rel=1e-5)
    assert (tmp_path / "last.pth").is_file()


def test_resume_continues_with_the_same_batches(tmp_path):
    straight = ToyTrainer(ToyConfig(out_dir=str(tmp_path / "a")))
    straight.run(progress=False)
    first = ToyTrainer(ToyConfig(out_dir=str(tmp_path / "b")))
    assert first.run(stop_after_epoch=2, progress=False) == tmp_path / "b" / "last.pth"
    second = ToyTrainer(ToyConfig(out_dir=str(tmp_path / "b")))
    second.run(progress=False)
    assert second.start_epoch == 2 and [e for e, _, _ in second.seen] == [2] * 5
    assert all(torch.equal(v, second.net.state_dict()[k]) for k, v in straight.net.state_dict().items())
    assert len(read_log(tmp_path / "b" / "log.csv")) == len(read_log(tmp_path / "a" / "log.csv"))
    with pytest.raises(ValueError, match="batch_size=2, the config says 5"):
        ToyTrainer(ToyConfig(out_dir=str(tmp_path / "b"), batch_size=5)).run(progress=False)


def test_errors(tmp_path):
    with pytest.raises(FloatingPointError, match="toy loss is nan at epoch 2, iter 1"):
        ToyTrainer(ToyConfig(out_dir=str(tmp_path / "nan"), nan_at=6)).run(progress=False)
    with pytest.raises(ValueError, match="1 points are fewer than one batch of batch_size=2"):
        ToyTrainer(ToyConfig(num_items=1))
    with pytest.raises(ValueError, match="not a resume checkpoint of kprtrack's toy trainer"):
        resume_state({"model": {}}, tmp_path / "x.pth", "toy")


def test_training_script(tmp_path):
    lines: list[str] = []

    def from_yaml(path, overrides):
        return load_config(ToyConfig, path, overrides, "toy config")

    argv = [f"out_dir={tmp_path}", "epochs=2", "--stop-after-epoch", "1", "--quiet"]
    path = run_training_script(ToyTrainer, ToyConfig, from_yaml, "toy", lines.append, argv)
    assert path == tmp_path / "last.pth"
    assert lines[0].startswith("toy training config: {'out_dir': ") and "'epochs': 2" in lines[0]
    assert lines[1] == "10 points, 5 iterations per epoch"
    assert lines[2].startswith(f"wrote {path} after ") and lines[2].endswith("(started at epoch 1)")
    run_training_script(ToyTrainer, ToyConfig, from_yaml, "toy", lines.append, argv[:2])
    assert lines[-1].endswith("(started at epoch 2)") and (tmp_path / "toy.pth").is_file()
