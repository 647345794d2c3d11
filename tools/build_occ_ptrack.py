#!/usr/bin/env python
"""Build an Occluded-PoseTrack-ReID folder from PoseTrack21-layout annotations.

Protocol (KPR paper, supplementary; see kprtrack/reid/train/occ_ptrack.py): train = at most 1000
random identities of the train split (keypoint visibility >= 0.3, box > 10 x 10 px), test = every
identity of the val split; 4-20 crops per identity sampled uniformly along its tracklets; the 20 %
most occluded crops (multi-person occlusion level, paper eq. 3) of each test identity are the
queries, the rest the gallery.

Usage::

    # real PoseTrack21 (images/ and posetrack_data/{train,val} under one root; no parsing labels)
    python tools/build_occ_ptrack.py --root /data/PoseTrack21 --out /data/occ_ptrack_reid
    # the synthetic world: train and test sets generated separately
    kprtrack synth --preset train --occlusion 0.6 --out data/synth_train --no-video
    kprtrack synth --preset val --occlusion 0.8 --out data/synth_val_occ --no-video
    python tools/build_occ_ptrack.py --root data/synth_train --test-root data/synth_val_occ --out data/occ_synth
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from kprtrack.reid.train.occ_ptrack import OccPTrackConfig, build_occ_ptrack


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", type=Path, help="PoseTrack21-layout root of the train split (and of the test split)")
    p.add_argument("--test-root", type=Path, help="root of the test split (default: --root)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--train-split", default="train", help="source split of the training set (default: train)")
    p.add_argument("--test-split", default="val", help="source split of query/gallery (default: val)")
    p.add_argument("--no-train", action="store_true", help="only build query/gallery")
    p.add_argument("--no-test", action="store_true", help="only build the training set")
    p.add_argument("--max-train-ids", type=int, default=None, help="training identities (default 1000; -1: all)")
    p.add_argument("--train-max-per-id", type=int, default=None, help="crops per training identity (default 20)")
    p.add_argument("--test-max-per-id", type=int, default=None, help="crops per test identity (default 20)")
    p.add_argument("--query-ratio", type=float, default=None, help="share of queries per test identity (default 0.2)")
    p.add_argument("--seed", type=int, default=None, help="identity selection seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.root is None and args.test_root is None:
        p.error("give --root (and/or --test-root)")

    cfg = OccPTrackConfig()
    train, test = cfg.train, cfg.test
    if args.max_train_ids is not None:
        train = replace(train, max_total_ids=args.max_train_ids)
    if args.train_max_per_id is not None:
        train = replace(train, max_samples_per_id=args.train_max_per_id)
    if args.test_max_per_id is not None:
        test = replace(test, max_samples_per_id=args.test_max_per_id)
    changes = {"train": train, "test": test}
    if args.query_ratio is not None:
        changes["query_ratio"] = args.query_ratio
    if args.seed is not None:
        changes["seed"] = args.seed
    cfg = replace(cfg, **changes)

    train_root = None if args.no_train else args.root
    test_root = None if args.no_test else (args.test_root or args.root)

    def progress(split: str, total: int):
        bar = tqdm(total=total, desc=f"{split} crops", unit="crop", disable=args.quiet)
        return lambda: bar.update(1)

    t0 = time.time()
    meta = build_occ_ptrack(args.out, train_root, test_root, cfg, args.train_split, args.test_split, progress)
    print(json.dumps(meta["counts"], indent=2))
    print(f"written to {args.out} in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
