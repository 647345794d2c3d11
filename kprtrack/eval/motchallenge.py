"""Box tracking metrics in the MOTChallenge protocol (MOT17 semantics), through TrackEval.

Ground truth in the MOTChallenge layout (``<gt_root>/<seq>/gt/gt.txt`` + ``seqinfo.ini`` and a
``seqmap.txt``): rows ``frame,id,x,y,w,h,flag,class,visibility``. TrackEval's MOT17 preprocessing
scores pedestrians (class 1, flag 1) and removes predictions matched to distractors (person on a
vehicle, static person, distractor, reflection), so they are not false positives.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from kprtrack.io.atomic import atomic_write_text

#: Reported fields: HOTA family in [0, 1], MOTA/IDF1 in [0, 1], counts as integers.
MOT_FIELDS: tuple[str, ...] = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN")


def evaluate_mot(
    gt_root: str | os.PathLike[str],
    predictions: Mapping[str, str],
    seqmap: str | os.PathLike[str] | None = None,
    benchmark: str = "MOT17",
) -> dict[str, dict[str, float]]:
    """Score MOT rows against MOTChallenge ground truth with TrackEval.

    Args:
        gt_root: folder holding one ``<seq>/gt/gt.txt`` + ``<seq>/seqinfo.ini`` per sequence.
        predictions: sequence name -> its MOT rows (``frame,id,x,y,w,h,conf,-1,-1,-1`` lines).
        seqmap: sequence list (default ``<gt_root>/seqmap.txt``); every listed sequence needs rows.
        benchmark: TrackEval benchmark name (``MOT17`` applies the MOT17 distractor rules).

    Returns:
        ``{sequence or "COMBINED": {field: value}}`` with :data:`MOT_FIELDS`.
    """
    import trackeval

    gt_root = Path(gt_root)
    seqmap = Path(seqmap) if seqmap is not None else gt_root / "seqmap.txt"
    with tempfile.TemporaryDirectory(prefix="kprtrack_mot_") as tmp:
        data = Path(tmp) / "kprtrack" / "data"
        for name, rows in predictions.items():
            atomic_write_text(data / f"{name}.txt", rows)
        evaluator = trackeval.Evaluator(
            {
                "USE_PARALLEL": False,
                "PRINT_CONFIG": False,
                "PRINT_RESULTS": False,
                "OUTPUT_SUMMARY": False,
                "OUTPUT_DETAILED": False,
                "PLOT_CURVES": False,
                "TIME_PROGRESS": False,
                "DISPLAY_LESS_PROGRESS": True,
            }
        )
        dataset = trackeval.datasets.MotChallenge2DBox(
            {
                "GT_FOLDER": str(gt_root),
                "TRACKERS_FOLDER": tmp,
                "SKIP_SPLIT_FOL": True,
                "SEQMAP_FILE": str(seqmap),
                "BENCHMARK": benchmark,
                "SPLIT_TO_EVAL": "train",
                "TRACKERS_TO_EVAL": ["kprtrack"],
                "PRINT_CONFIG": False,
            }
        )
        with contextlib.redirect_stdout(io.StringIO()):  # TrackEval prints its configs and progress
            metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
            results, _ = evaluator.evaluate([dataset], metrics)
    out = {}
    for seq, res in results["MotChallenge2DBox"]["kprtrack"].items():
        r = res["pedestrian"]
        out["COMBINED" if seq == "COMBINED_SEQ" else seq] = {
            "HOTA": float(np.mean(r["HOTA"]["HOTA"])),
            "DetA": float(np.mean(r["HOTA"]["DetA"])),
            "AssA": float(np.mean(r["HOTA"]["AssA"])),
            "MOTA": float(r["CLEAR"]["MOTA"]),
            "IDF1": float(r["Identity"]["IDF1"]),
            "IDSW": int(r["CLEAR"]["IDSW"]),
            "FP": int(r["CLEAR"]["CLR_FP"]),
            "FN": int(r["CLEAR"]["CLR_FN"]),
        }
    return out
