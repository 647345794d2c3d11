#!/usr/bin/env python
"""Score PoseTrack21 predictions: keypoint HOTA identical to the official kit, pose IDSW/MOTA, box metrics.

Usage: ``python tools/eval_posetrack21.py --gt DIR --pred DIR [--seqs ...] [--out results.json]
[--allow-missing] [--plot curve.png]`` (the same command as ``kprtrack eval``; see docs/eval.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from kprtrack.cli import main  # noqa: E402

if __name__ == "__main__":
    # through the `kprtrack` group: one-line errors with exit status 2, like `kprtrack eval`
    main(args=["eval", *sys.argv[1:]], prog_name="eval_posetrack21.py")
