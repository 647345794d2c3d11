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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "real" / "coco_keypoints"


def evaluate(data: Path, config: str, overrides: list[str]):
    """``(PoseMatchResult, ms per image)`` of one config on the annotated photos."""
    import cv2

    from kprtrack.eval.coco_keypoints import PoseMatchResult, load_coco_keypoints, match_image
    from kprtrack.keypoints import convert_keypoints
    from kprtrack.pipeline import Pipeline
    from kprtrack.pipeline_config import load_pipeline_config
    from kprtrack.track.filters import filter_frame

    cfg = load_pipeline_config(config, overrides)
    pipeline = Pipeline.from_config(cfg)
    result, seconds = PoseMatchResult(), 0.0
    images = load_coco_keypoints(data / "test_coco.json")
    for image in images:
        frame = cv2.cvtColor(cv2.imread(str(data / image.file_name)), cv2.COLOR_BGR2RGB)
        pipeline.reset()
        t0 = time.perf_counter()
        record = pipeline.process(frame, 0)
        seconds += time.perf_counter() - t0
        out = filter_frame(record, cfg.output)
        out = out[out.track_ids >= 0]
        kps = convert_keypoints(out.keypoints, out.keypoint_format, "coco17")
        match_image(result, image, out.boxes, out.scores, kps)
    return result, 1000 * seconds / len(images)


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
