"""The command line shared by ``tools/train_detector.py`` and ``tools/train_pose.py``.

Both scripts take ``--config FILE``, ``--stop-after-epoch N``, ``--quiet`` and ``key=value`` overrides,
build the trainer, report the data size and run (resuming from ``OUT/last.pth`` when it exists).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kprtrack.config import dataclass_to_dict
from kprtrack.train.loop import EpochTrainer

#: ``config_from_yaml(path, overrides)`` of a trainer's module.
ConfigLoader = Callable[[str | None, Sequence[str]], Any]


def run_training_script(
    trainer_class: type[EpochTrainer[Any]],
    config_class: type,
    config_from_yaml: ConfigLoader,
    description: str | None,
    echo: Callable[[str], None],
    argv: Sequence[str] | None = None,
) -> Path:
    """Parse the command line, train, and return the written checkpoint.

    Args:
        trainer_class: :class:`~kprtrack.train.loop.EpochTrainer` subclass to run.
        config_class: its config dataclass (named in ``--help``).
        config_from_yaml: builds the config from ``--config`` and the overrides.
        description: the script's ``--help`` text (its docstring).
        echo: where progress lines go (the scripts pass ``print``).
        argv: arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=None, help=f"YAML file of {config_class.__name__} fields")
    parser.add_argument("--stop-after-epoch", type=int, default=None, help="stop after this many epochs (resumable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", help="key=value settings applied after the config file")
    args = parser.parse_args(argv)
    cfg = config_from_yaml(args.config, args.overrides)
    echo(f"{trainer_class.name} training config: {dataclass_to_dict(cfg)}")
    tick = time.perf_counter()
    trainer = trainer_class(cfg)
    echo(f"{trainer.num_items} {trainer.item_name}, {trainer.iters_per_epoch} iterations per epoch")
    path = trainer.run(stop_after_epoch=args.stop_after_epoch, progress=not args.quiet)
    echo(f"wrote {path} after {time.perf_counter() - tick:.0f} s (started at epoch {trainer.start_epoch + 1})")
    return path
