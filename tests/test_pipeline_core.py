"""Pipeline wiring with fake stages: order, shapes, ids and streaming."""

import numpy as np
import pytest

from kprtrack.pipeline import Pipeline
from kprtrack.structures import FrameRecord


class FakeDetector:
    def __init__(self, n=3):
        self.n = n
        self.calls = 0

    def detect(self, frames):
        self.calls += 1
        out = []
        for _frame in frames:
            boxes = np.array([[10 * i, 5, 10 * i + 8, 40] for i in range(self.n)], np.float32)
            out.append((boxes, np.linspace(0.9, 0.5, self.n).astype(np.float32)))
        return out


class FakePose:
    keypoint_format = "posetrack21"

    def estimate(self, frame, boxes):
        kps = np.zeros((len(boxes), 17, 3), np.float32)
        kps[:, :, 0] = boxes[:, None, 0] + 1
        kps[:, :, 1] = boxes[:, None, 1] + 1
        kps[:, :, 2] = 0.9
        return kps


class FakeEmbedder:
    def embed(self, frame, boxes, keypoints, negatives=None):
        emb = np.repeat(boxes[:, None, :1], 9, 1).repeat(4, 2)
        return emb.astype(np.float32), np.ones((len(boxes), 9), bool)


class CountingTracker:
    def __init__(self):
        self.frames = 0

    def update(self, record):
        self.frames += 1
        assert record.embeddings is not None and record.embeddings.shape[1:] == (9, 4)
        return record.with_track_ids(np.arange(len(record)) + 1)

    def reset(self):
        self.frames = 0


def test_pipeline_runs_every_stage_and_keeps_row_order():
    det = FakeDetector(3)
    pipe = Pipeline(det, FakePose(), FakeEmbedder(), CountingTracker())
    frames = [np.zeros((48, 64, 3), np.uint8) for _ in range(5)]
    records = list(pipe.track(frames))
    assert len(records) == 5 and det.calls == 5
    for t, rec in enumerate(records):
        assert isinstance(rec, FrameRecord) and rec.frame_index == t
        assert rec.keypoint_format == "posetrack21"
        assert list(rec.track_ids) == [1, 2, 3]
        assert np.allclose(rec.keypoints[:, 0, 0], rec.boxes[:, 0] + 1)  # pose rows follow detector rows
        assert np.allclose(rec.embeddings[:, 0, 0], rec.boxes[:, 0])
    ms = pipe.timer.ms_per_frame()
    assert set(ms) == {"decode", "detect", "pose", "reid", "track"} and pipe.timer.frames == 5


def test_max_people_keeps_highest_scores_in_detector_order():
    pipe = Pipeline(FakeDetector(6), FakePose(), FakeEmbedder(), CountingTracker(), max_people=2)
    rec = pipe.process(np.zeros((48, 64, 3), np.uint8), 0)
    assert len(rec) == 2 and np.allclose(rec.boxes[:, 0], [0, 10])


def test_empty_frames_and_bad_frames():
    pipe = Pipeline(FakeDetector(0), FakePose(), FakeEmbedder(), CountingTracker())
    rec = pipe.process(np.zeros((48, 64, 3), np.uint8), 0)
    assert len(rec) == 0 and rec.track_ids.shape == (0,)
    with pytest.raises(ValueError, match=r"frame 1: expected an RGB \(H, W, 3\) frame, got shape \(48, 64\)"):
        pipe.process(np.zeros((48, 64), np.uint8), 1)
    with pytest.raises(ValueError, match="frame 1: expected dtype uint8, got float32"):
        pipe.process(np.zeros((48, 64, 3), np.float32), 1)


def test_oracle_stages_reproduce_ground_truth(tmp_path):
    from kprtrack.io.posetrack21 import PoseTrackSequence, write_ground_truth
    from kprtrack.oracle import GroundTruthOracle
    from tests.test_io_posetrack21 import gt_doc

    doc = gt_doc(3, 2)
    path = tmp_path / "s.json"
    write_ground_truth(path, PoseTrackSequence("s.json", doc["images"], doc["annotations"]))
    oracle = GroundTruthOracle(path)
    pipe = Pipeline(oracle, oracle, FakeEmbedder(), CountingTracker())
    recs = list(pipe.track([np.zeros((300, 300, 3), np.uint8)] * 3))
    gt = PoseTrackSequence("s.json", doc["images"], doc["annotations"]).to_records()
    for rec, g in zip(recs, gt):
        assert np.allclose(rec.boxes, g.boxes)
        assert np.allclose(rec.keypoints[:, :, :2], g.keypoints[:, :, :2])
