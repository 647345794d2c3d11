#!/usr/bin/env python
"""Train KPR on an Occluded-PoseTrack-ReID folder (thin CLI over kprtrack.reid.train.KPRTrainer).

Settings: the dataclass defaults (kprtrack/reid/train/config.py), then --config YAML, then
--set key=value overrides, then --data/--out. Writes OUT/checkpoints/kpr_epochNNN.pth.tar (released
format, one per epoch), OUT/resume.pth, OUT/train_log.csv, OUT/epochs.csv and OUT/config.yaml.

Usage::

    python tools/train_kpr.py --data data/occ_synth --out runs/kpr_synth_nano
    python tools/train_kpr.py --data data/occ_synth --out runs/kpr_synth_nano_noprompt --set use_prompts=false
    python tools/train_kpr.py --data data/occ_synth --out runs/kpr_synth_nano --resume auto   # continue
    python tools/train_kpr.py --config configs/train/kpr.yaml --data /data/occ_pt --out runs/kpr_b \\
        --set model=kpr_swin_base_k8 --set image_size=[384,128] --set embedding_dim=512 --set device=cuda
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

from kprtrack.config import ConfigError
from kprtrack.reid.train.config import default_config_path, load_train_config
from kprtrack.reid.train.trainer import KPRTrainer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--config", type=Path, default=None, help=f"YAML settings (default: {default_config_path().name})")
    p.add_argument("--data", help="Occluded-PoseTrack-ReID folder (sets data_root)")
    p.add_argument("--out", help="output folder (sets output_dir)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a setting"
    )
    p.add_argument("--resume", nargs="?", const="auto", default=None, help="resume file, or 'auto' (OUT/resume.pth)")
    p.add_argument("--copy-to", type=Path, default=None, help="copy the last checkpoint to this path when done")
    args = p.parse_args(argv)

    config_path = args.config if args.config is not None else default_config_path()
    try:
        cfg = load_train_config(config_path, args.overrides, data_root=args.data, output_dir=args.out)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    trainer = KPRTrainer(cfg)
    prompts = "on" if cfg.use_prompts else "off"
    print(
        f"{len(trainer.dataset)} training crops, {trainer.num_classes} identities, "
        f"{trainer.iters_per_epoch} iterations/epoch x {cfg.epochs} epochs, prompts {prompts}"
    )
    result = trainer.fit(resume=args.resume)
    print(f"done: {result.epochs_run} epoch(s) in {result.seconds:.0f} s; last checkpoint {result.checkpoint}")
    if result.metrics:
        print("evaluation (percent):", result.metrics)
    if args.copy_to is not None and result.checkpoint is not None:
        args.copy_to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.checkpoint, args.copy_to)
        print(f"copied to {args.copy_to}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
