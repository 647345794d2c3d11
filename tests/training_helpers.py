"""Shared checks for the trainers built on the shared epoch loop (detector, pose model, toy trainer)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

T = TypeVar("T")


def read_log(path: Path) -> list[dict[str, str]]:
    """The rows of a trainer's ``log.csv``."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def straight_and_resumed(make_trainer: Callable[[Path], T], tmp_path: Path) -> tuple[T, T]:
    """Train once straight (``tmp_path/a``) and once stopped after epoch 1 then resumed (``tmp_path/b``).

    Checks that the stopped run writes ``last.pth`` but not the final checkpoint, that the resumed run
    starts at epoch 1 and that both logs hold the same epochs.

    Args:
        make_trainer: a fresh trainer writing to the given folder.
        tmp_path: the test's scratch folder.

    Returns:
        ``(straight, resumed)``, both run to the end.
    """
    straight = make_trainer(tmp_path / "a")
    straight.run(progress=False)
    first = make_trainer(tmp_path / "b")
    assert first.run(stop_after_epoch=1, progress=False).name == "last.pth"
    assert not (tmp_path / "b" / first.final_checkpoint).exists()
    resumed = make_trainer(tmp_path / "b")
    resumed.run(progress=False)
    assert resumed.start_epoch == 1
    epochs = [[r["epoch"] for r in read_log(tmp_path / run / "log.csv")] for run in ("a", "b")]
    assert epochs[0] == epochs[1]
    return straight, resumed


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    """``a`` and ``b`` hold bit-identical state dicts."""
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
