"""The shipped demo pipeline's outputs on a generated synthetic sequence, as a JSON-able summary.

``python -m tests.golden_pipeline OUT.json`` writes the reference that ``test_pipeline_golden.py``
compares against (regenerate it only when a change is meant to alter the pipeline's outputs).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

FRAMES = 25


def demo_outputs(root: Path | None = None) -> dict[str, Any]:
    """Run ``configs/demo.yaml`` on the first sequence of the ``tiny`` preset (generated into ``root``)."""
    import torch

    from kprtrack.pipeline import Pipeline
    from kprtrack.synth.config import make_config
    from kprtrack.synth.writer import write_dataset

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = root or Path(tmp)
        if not (root / "images").is_dir():
            write_dataset(make_config("tiny", write_masks=False), root)
        seq = sorted((root / "images" / "val").iterdir())[0]
        pipeline = Pipeline.from_config("demo", frame_rate=25.0)
        frames = []
        for record in pipeline.track(seq, max_frames=FRAMES):
            frames.append(
                {
                    "boxes": record.boxes.round(3).tolist(),
                    "scores": record.scores.round(5).tolist(),
                    "keypoints": record.keypoints.round(3).tolist(),
                    "visibility": record.visibility.astype(int).tolist(),
                    "embedding_sums": record.embeddings.sum(axis=-1).round(4).tolist(),
                    "track_ids": record.track_ids.tolist(),
                }
            )
    return {"sequence": seq.name, "frames": frames}


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(demo_outputs(), indent=None))
