"""The full-size architectures (YOLOX-x, HRNet-W32, KPR Swin-B 384x128), randomly initialised, wired end to end.

They are built from ``configs/bench/full_random.yaml`` through the one assembly path (``random:`` weights).
"""

import numpy as np

from kprtrack.pipeline import Pipeline


def test_full_size_random_models_wire_shapes_batching_and_ids():
    # random detectors score ~1e-4: the config zeroes the thresholds so that every detection starts a track
    pipe = Pipeline.from_config("bench/full_random", ["max_people=3"])
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(2)]
    records = list(pipe.track(frames))
    assert len(records) == 2
    for t, rec in enumerate(records):
        n = len(rec)
        assert rec.frame_index == t and 0 < n <= 3
        assert rec.keypoints.shape == (n, 17, 3)
        assert rec.embeddings.shape == (n, 9, 512) and rec.visibility.shape == (n, 9)
        assert rec.visibility[:, 0].all()  # the foreground entry is always visible
        ids = rec.track_ids[rec.track_ids >= 0]
        assert len(set(ids.tolist())) == len(ids) and (ids >= 1).all()
        # boxes lie in the frame, keypoints near their boxes
        assert (rec.boxes[:, :2] >= -1).all() and (rec.boxes[:, 2] <= 321).all() and (rec.boxes[:, 3] <= 241).all()
    assert len(records[0].tracked) == len(records[0])  # first frame: every detection above threshold starts a track
    ms = pipe.timer.ms_per_frame()
    assert all(v > 0 for k, v in ms.items() if k in ("detect", "pose", "reid", "track"))
