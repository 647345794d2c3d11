"""Overlapped stages (``Pipeline.track(..., overlap=True)``): the same records as the sequential path."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from kprtrack.overlap import run_in_threads
from kprtrack.pipeline import Pipeline
from tests.test_pipeline_core import CountingTracker, FakeEmbedder, FakePose


class StatefulDetector:
    """Boxes that depend on the call count (so out-of-order or repeated calls would show)."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[str] = set()

    def detect(self, frames):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        n = 1 + self.calls % 3
        boxes = np.array([[10 * i + self.calls, 5, 10 * i + 8 + self.calls, 40] for i in range(n)], np.float32)
        return [(boxes, np.linspace(0.9, 0.5, n).astype(np.float32))]


class IdTracker(CountingTracker):
    """Ids that depend on the frames seen before (a stateful tracker)."""

    def update(self, record):
        self.frames += 1
        return record.with_track_ids(np.arange(len(record)) + 100 * self.frames)


class FailingPose(FakePose):
    def __init__(self, bad_call: int) -> None:
        self.calls, self.bad_call = 0, bad_call

    def estimate(self, frame, boxes):
        self.calls += 1
        if self.calls == self.bad_call:
            raise RuntimeError(f"pose failed on call {self.calls}")
        return super().estimate(frame, boxes)


def _stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("kprtrack-") and t.name != "kprtrack-decode"]


def _frames(n: int) -> list[np.ndarray]:
    return [np.full((48, 64, 3), t, np.uint8) for t in range(n)]


def test_overlap_gives_the_sequential_records_and_uses_worker_threads():
    runs = {}
    for overlap in (False, True):
        det = StatefulDetector()
        pipe = Pipeline(det, FakePose(), FakeEmbedder(), IdTracker())
        runs[overlap] = list(pipe.track(_frames(9), overlap=overlap))
        assert pipe.timer.frames == 9 and det.calls == 9
        assert (det.threads == {threading.current_thread().name}) == (not overlap)
    for seq, ovl in zip(runs[False], runs[True]):
        assert seq.frame_index == ovl.frame_index
        for key in ("boxes", "scores", "keypoints", "embeddings", "visibility", "track_ids"):
            np.testing.assert_array_equal(getattr(seq, key), getattr(ovl, key))
    assert not _stage_threads()


def test_the_config_field_sets_the_default():
    pipe = Pipeline(StatefulDetector(), FakePose(), FakeEmbedder(), IdTracker(), overlap=True)
    assert len(list(pipe.track(_frames(3)))) == 3 and pipe.detector.threads != {threading.current_thread().name}
    pipe = Pipeline(StatefulDetector(), FakePose(), FakeEmbedder(), IdTracker(), overlap=True)
    assert len(list(pipe.track(_frames(3), overlap=False))) == 3
    assert pipe.detector.threads == {threading.current_thread().name}


def test_a_bad_frame_is_raised_after_the_earlier_records():
    frames = _frames(5)
    frames[3] = np.zeros((48, 64), np.uint8)
    pipe = Pipeline(StatefulDetector(), FakePose(), FakeEmbedder(), IdTracker(), overlap=True)
    got = []
    with pytest.raises(ValueError, match=r"^frame 3: expected an RGB"):
        for record in pipe.track(frames):
            got.append(record.frame_index)
    assert got == [0, 1, 2]
    assert not _stage_threads()


def test_a_stage_error_is_raised_after_the_earlier_records():
    pipe = Pipeline(StatefulDetector(), FailingPose(bad_call=4), FakeEmbedder(), IdTracker(), overlap=True)
    got = []
    with pytest.raises(RuntimeError, match="pose failed on call 4"):
        for record in pipe.track(_frames(8)):
            got.append(record.frame_index)
    assert got == [0, 1, 2]
    assert not _stage_threads()


def test_stopping_early_stops_the_workers():
    pipe = Pipeline(StatefulDetector(), FakePose(), FakeEmbedder(), IdTracker(), overlap=True)
    it = pipe.track(_frames(50))
    assert [next(it).frame_index for _ in range(2)] == [0, 1]
    it.close()
    assert not _stage_threads()
    assert pipe.detector.calls < 50  # bounded queues: the workers did not run far ahead


def test_frame_observers_run_sequentially():
    class ObservingDetector(StatefulDetector):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[int] = []

        def on_frame(self, index: int) -> None:
            self.seen.append(index)

    det = ObservingDetector()
    pipe = Pipeline(det, FakePose(), FakeEmbedder(), IdTracker(), overlap=True)
    assert len(list(pipe.track(_frames(4)))) == 4
    assert det.seen == [0, 1, 2, 3] and det.threads == {threading.current_thread().name}


def test_run_in_threads_keeps_order_and_reports_iterator_errors():
    assert list(run_in_threads(range(20), [lambda x: x + 1, lambda x: 2 * x], queue_size=1)) == [
        2 * (x + 1) for x in range(20)
    ]

    def broken():
        yield 1
        raise OSError("damaged stream")

    got = []
    with pytest.raises(OSError, match="damaged stream"):
        for value in run_in_threads(broken(), [lambda x: x]):
            got.append(value)
    assert got == [1]
    with pytest.raises(ValueError, match="at least one step"):
        list(run_in_threads([1], []))


def test_demo_pipeline_records_are_identical_with_overlap(tmp_path: Path):
    from kprtrack.synth.config import make_config
    from kprtrack.synth.writer import write_dataset

    write_dataset(make_config("tiny", write_masks=False), tmp_path)
    seq = sorted((tmp_path / "images" / "val").iterdir())[0]
    pipe = Pipeline.from_config("demo", frame_rate=25.0)
    runs = {}
    for overlap in (False, True):
        pipe.reset()
        runs[overlap] = list(pipe.track(seq, overlap=overlap, max_frames=12))
    assert len(runs[True]) == 12 and sum(len(r) for r in runs[True]) > 0
    for seq_rec, ovl_rec in zip(runs[False], runs[True]):
        for key in ("boxes", "scores", "keypoints", "embeddings", "visibility", "track_ids"):
            np.testing.assert_array_equal(getattr(seq_rec, key), getattr(ovl_rec, key), err_msg=key)


def test_kprtrack_run_writes_the_same_predictions_with_overlap(tmp_path: Path):
    from kprtrack.run import RunOptions, run_video
    from kprtrack.synth.config import make_config
    from kprtrack.synth.writer import write_dataset

    write_dataset(make_config("tiny", write_masks=False), tmp_path / "data")
    seq = sorted((tmp_path / "data" / "images" / "val").iterdir())[0]
    outs = {}
    for overlap in ("false", "true"):
        out = tmp_path / f"pred_{overlap}.json"
        options = RunOptions(seq, out, config="demo", overrides=[f"overlap={overlap}"], max_frames=10)
        options.mot = out.with_suffix(".txt")
        summary = run_video(options)
        assert summary.frames == 10
        outs[overlap] = (out.read_text(), out.with_suffix(".txt").read_text())
    assert outs["true"] == outs["false"] and outs["true"][1]
