import numpy as np

from kprtrack.io.mot import read_mot, write_mot
from kprtrack.structures import FrameRecord


def test_mot_rows_written_for_tracked_rows_only(tmp_path):
    r0 = FrameRecord.from_boxes([[10, 20, 40, 80], [0, 0, 5, 5]], [0.9, 0.3], frame_index=0).with_track_ids([3, -1])
    r1 = FrameRecord.from_boxes([[12, 22, 42, 82]], [0.8], frame_index=1).with_track_ids([3])
    empty = FrameRecord.empty(frame_index=2).with_track_ids([])
    untracked = FrameRecord.from_boxes([[1, 1, 2, 2]], [0.5], frame_index=3)
    path = tmp_path / "out" / "mot.txt"
    n = write_mot(path, [r0, r1, empty, untracked])
    assert n == 2
    lines = path.read_text().splitlines()
    assert lines[0] == "1,3,10.00,20.00,30.00,60.00,0.9000,-1,-1,-1"
    rows = read_mot(path)
    assert rows.shape == (2, 10)
    assert np.allclose(rows[1, :6], [2, 3, 12, 22, 30, 60])


def test_empty_mot_file(tmp_path):
    path = tmp_path / "mot.txt"
    assert write_mot(path, []) == 0
    assert read_mot(path).shape == (0, 10)
