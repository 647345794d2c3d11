#!/usr/bin/env python
"""Rank-1 / mAP of KPR checkpoints on an Occluded-PoseTrack-ReID folder, with and without prompts.

Single query, no re-ranking, no camera filter, part-based distance (the KPR test distance).
Reported on all queries and on the multi-person-occlusion queries (MPOL > 0: another person's
keypoints inside the query box).

Usage::

    python tools/eval_reid.py --weights weights/kpr_synth_nano_k8.pth.tar --data data/occ_synth
    python tools/eval_reid.py --weights a.pth.tar --weights b.pth.tar --data data/occ_synth --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from kprtrack.reid.checkpoint import load_kpr_checkpoint
from kprtrack.reid.train.evaluate import evaluate_reid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--weights", type=Path, action="append", required=True, help="released-format checkpoint(s)")
    p.add_argument("--data", type=Path, required=True, help="Occluded-PoseTrack-ReID folder (query.json, gallery.json)")
    p.add_argument("--prompts", choices=("both", "on", "off"), default="both", help="prompts at test time")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    modes = {"both": (True, False), "on": (True,), "off": (False,)}[args.prompts]
    results = []
    print(f"{'weights':<40} {'prompts':<8} {'subset':<13} {'queries':>7} {'Rank-1':>7} {'mAP':>7}")
    for path in args.weights:
        model, info = load_kpr_checkpoint(path, map_location=args.device)
        for use_prompts in modes:
            t0 = time.time()
            res = evaluate_reid(model, args.data, use_prompts, args.batch_size, args.device)
            for subset, m in res.items():
                row = {"weights": str(path), "model_prompts": info.config.masks_prompting, "prompts": use_prompts,
                       "subset": subset, **m.as_percent(), "seconds": round(time.time() - t0, 1)}  # fmt: skip
                results.append(row)
                print(
                    f"{path.name:<40} {'on' if use_prompts else 'off':<8} {subset:<13} {m.num_queries:>7} "
                    f"{100 * m.rank1:>7.2f} {100 * m.mAP:>7.2f}"
                )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
