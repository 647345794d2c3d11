#!/usr/bin/env python
"""Person recall / precision and keypoint OKS of a pipeline config on real COCO photos.

Each photo of ``../shared/real/coco_keypoints`` goes through the whole pipeline as a one-frame video;
what is scored is what ``kprtrack run`` would write (tracked rows after the output filters, poses in
COCO order). See :mod:`kprtrack.eval.coco_keypoints` for the matching rules (OKS >= 0.5 = hit).

Examples::

    python tools/eval_real_coco.py --config real
    python tools/eval_real_coco.py --config real --variant fast=pose.weights=tinypose_128x96
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "real" / "coco_keypoints"


def evaluate(data: Path, config: str, overrides: list[str]):
    """``(PoseMatchResult, ms per image)`` of one config on the annotated photos."""
    from kprtrack.eval.coco_keypoints import score_pipeline
    from kprtrack.pipeline import Pipeline
    from kprtrack.pipeline_config import load_pipeline_config

    cfg = load_pipeline_config(config, overrides)
    return score_pipeline(Pipeline.from_config(cfg), data / "test_coco.json", cfg.output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with test_coco.json and the photos")
    parser.add_argument("--config", default="real")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=KEY=VALUE;...")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    variants = {}
    for item in args.variant or ["config="]:
        name, _, rest = item.partition("=")
        variants[name] = [s for s in rest.split(";") if s]
    print(f"{'variant':<22} {'people':>6} {'hits':>5} {'recall':>7} {'precision':>9} {'OKS(hits)':>9} {'ms/img':>7}")
    for name, overrides in variants.items():
        r, ms = evaluate(args.data, args.config, overrides)
        print(
            f"{name:<22} {r.people:6d} {len(r.hit_oks):5d} {r.recall:7.3f} {r.precision:9.3f} "
            f"{r.mean_oks:9.3f} {ms:7.0f}"
        )


if __name__ == "__main__":
    main()
