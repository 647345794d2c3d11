import numpy as np
import pytest

from kprtrack.structures import FrameRecord


def make(n=3, **kw):
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (n, 2))
    boxes = np.concatenate([xy, xy + 20], 1)
    return FrameRecord(boxes=boxes, scores=rng.uniform(0, 1, n), keypoints=rng.uniform(0, 1, (n, 17, 3)), **kw)


def test_valid_record_casts_dtypes_and_is_read_only():
    r = make(embeddings=np.zeros((3, 9, 8)), visibility=np.ones((3, 9)), track_ids=[1, 2, 3])
    assert r.boxes.dtype == np.float32 and r.scores.dtype == np.float32 and r.keypoints.dtype == np.float32
    assert r.visibility.dtype == bool and r.track_ids.dtype == np.int64
    with pytest.raises(ValueError):
        r.boxes[0, 0] = 5
    with pytest.raises(AttributeError):
        r.boxes = np.zeros((3, 4))  # frozen


def test_record_does_not_alias_caller_arrays():
    boxes = np.array([[0, 0, 10, 10]], np.float32)
    r = FrameRecord.from_boxes(boxes, [0.5])
    boxes[0, 0] = 99
    assert r.boxes[0, 0] == 0


def test_empty_frame_is_valid():
    r = FrameRecord.empty(frame_index=4)
    assert len(r) == 0 and r.boxes.shape == (0, 4) and r.keypoints.shape == (0, 17, 3)
    r2 = FrameRecord(boxes=[], scores=[], keypoints=[], track_ids=[])
    assert len(r2) == 0 and r2.track_ids.shape == (0,)
    assert len(r[np.zeros(0, bool)]) == 0


@pytest.mark.parametrize(
    "field,value,expected",
    [
        ("boxes", np.zeros((3, 5)), "(N, 4)"),
        ("scores", np.zeros(2), "(N,) with N=3"),
        ("keypoints", np.zeros((3, 16, 3)), "(N, 17, 3)"),
        ("embeddings", np.zeros((3, 8)), "(N, P, D)"),
        ("visibility", np.zeros((3, 8)), "P=9"),
        ("track_ids", np.zeros(4, int), "(N,)"),
    ],
)
def test_bad_shapes_name_field_and_expected_shape(field, value, expected):
    base = dict(
        boxes=np.tile([0, 0, 1, 1], (3, 1)),
        scores=np.zeros(3),
        keypoints=np.zeros((3, 17, 3)),
        embeddings=np.zeros((3, 9, 4)),
    )
    base[field] = value
    with pytest.raises(ValueError) as err:
        FrameRecord(**base)
    assert f"FrameRecord.{field}" in str(err.value) and expected in str(err.value)


def test_bad_values_rejected():
    with pytest.raises(ValueError, match="NaN"):
        FrameRecord.from_boxes([[0, 0, np.nan, 1]], [1])
    with pytest.raises(ValueError, match="xyxy"):
        FrameRecord.from_boxes([[10, 0, 5, 1]], [1])
    with pytest.raises(ValueError, match="integer"):
        make(track_ids=[1.5, 2, 3])
    with pytest.raises(ValueError, match="frame_index"):
        make(frame_index=-1)
    with pytest.raises(ValueError, match="convention"):
        make(keypoint_format="mpii")


@pytest.mark.parametrize("index", [np.array([True, False, True]), np.array([2, 0]), slice(1, 3), 1])
def test_indexing_keeps_fields_aligned(index):
    r = make(
        embeddings=np.arange(3)[:, None, None] * np.ones((3, 2, 2)), visibility=np.ones((3, 2)), track_ids=[7, 8, 9]
    )
    sub = r[index]
    for i in range(len(sub)):
        j = int(np.where(r.track_ids == sub.track_ids[i])[0][0])
        assert np.array_equal(sub.boxes[i], r.boxes[j])
        assert np.array_equal(sub.keypoints[i], r.keypoints[j])
        assert sub.embeddings[i, 0, 0] == j
    assert sub.frame_index == r.frame_index


def test_bad_index_raises():
    r = make()
    with pytest.raises(IndexError):
        r[np.array([True, False])]
    with pytest.raises(IndexError):
        r[np.array([0.5])]


def test_with_methods_return_new_records():
    r = make()
    r2 = r.with_track_ids([1, -1, 2])
    assert r.track_ids is None and list(r2.track_ids) == [1, -1, 2]
    assert len(r2.tracked) == 2
    r3 = r2.with_embeddings(np.zeros((3, 9, 4)), np.ones((3, 9), bool))
    assert r3.embeddings.shape == (3, 9, 4) and r3.track_ids is not None
    r4 = r.with_keypoints(np.ones((3, 17, 3)), "posetrack21")
    assert r4.keypoint_format == "posetrack21" and r.keypoint_format == "coco17"
    with pytest.raises(ValueError):
        r.with_keypoints(np.ones((2, 17, 3)))
