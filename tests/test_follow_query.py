"""Follow building blocks without models: clicks, selection, prompts, the matcher, results, scoring."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.follow.clicks import (
    Clicks,
    FollowError,
    FrameOutOfRangeError,
    NoPersonAtClickError,
    PointOutsideFrameError,
    parse_point,
)
from kprtrack.follow.evaluate import gt_identity, score_follow, simulate_clicks
from kprtrack.follow.matcher import FollowMatcher, FollowOptions
from kprtrack.follow.query import Query, build_query, click_prompts, select_target
from kprtrack.follow.result import FollowFrame, FollowResult
from kprtrack.structures import FrameRecord


def _skeleton(x: float, y: float, h: float = 100.0) -> np.ndarray:
    """A standing person's 17 joints, head at (x, y), height h."""
    from kprtrack.follow.query import STANDING_TEMPLATE

    xy = (STANDING_TEMPLATE - [0.5, 0.0]) * [h * 0.4, h] + [x, y]
    return np.concatenate([xy, np.ones((17, 1))], axis=1).astype(np.float32)


def _crowd() -> FrameRecord:
    """Two overlapping people: A (row 0) at x=100, B (row 1) at x=125 standing in A's box."""
    kps = np.stack([_skeleton(100, 50), _skeleton(125, 52)])
    boxes = np.array([[75, 45, 135, 155], [100, 47, 150, 157]], np.float32)
    return FrameRecord(boxes, np.array([0.9, 0.8], np.float32), kps, frame_index=3)


def test_parse_point():
    assert parse_point("12,34.5") == (12.0, 34.5)
    assert parse_point(" 1 , 2 ") == (1.0, 2.0)
    for bad in ("12", "a,b", "1,2,3", "nan,1"):
        with pytest.raises(FollowError, match="point"):
            parse_point(bad)


def test_clicks_validate_input():
    with pytest.raises(FollowError, match="at least one positive"):
        Clicks.create(0, [])
    with pytest.raises(FollowError, match="at most 17"):
        Clicks.create(0, [(1, 1)] * 18)
    with pytest.raises(FollowError, match="finite"):
        Clicks.create(0, [(np.inf, 1)])
    with pytest.raises(FrameOutOfRangeError):
        Clicks.create(-1, [(1, 1)])
    clicks = Clicks.create(5, [(10, 20)], [(30, 40)])
    clicks.check(num_frames=6, width=64, height=48)
    with pytest.raises(FrameOutOfRangeError, match="frame 5 is out of range: the video has 5 frames"):
        clicks.check(num_frames=5, width=64, height=48)
    with pytest.raises(PointOutsideFrameError, match=r"negative point \(30, 40\) is outside the 30x48 frame"):
        clicks.check(num_frames=6, width=30, height=48)
    assert clicks.to_json() == {"frame": 5, "positives": [[10.0, 20.0]], "negatives": [[30.0, 40.0]]}


def test_selection_uses_the_joints_not_just_the_boxes():
    record = _crowd()
    head_b, hip_b = record.keypoints[1, 1, :2], record.keypoints[1, 11, :2]
    # both clicks lie in both boxes; B's joints are nearer
    sel = select_target(record, Clicks.create(3, [head_b + 1, hip_b - 1]))
    assert sel.row == 1 and sel.candidates == (0, 1) and sel.excluded == ()
    sel = select_target(record, Clicks.create(3, [record.keypoints[0, 1, :2]], [head_b]))
    assert sel.row == 0 and sel.excluded == (1,)
    with pytest.raises(NoPersonAtClickError, match=r"no detected person at \(300, 10\) in frame 3"):
        select_target(record, Clicks.create(3, [(300, 10)]))
    with pytest.raises(NoPersonAtClickError, match="no person detected"):
        select_target(FrameRecord.empty(3), Clicks.create(3, [(1, 1)]))


def test_click_prompts_snap_clicks_onto_joints():
    record = _crowd()
    clicks = Clicks.create(3, [record.keypoints[1, 11, :2] + [2, 3]], [record.keypoints[0, 0, :2]])
    kps, negatives = click_prompts(record, 1, clicks, "clicks+pose")
    expected = record.keypoints[1].copy()
    expected[11] = [*(record.keypoints[1, 11, :2] + [2, 3]), 1.0]
    np.testing.assert_allclose(kps, expected)
    # the automatic negatives (A's joints inside B's box) and one skeleton for the negative click
    assert negatives.shape[1:] == (17, 3) and len(negatives) == 2
    np.testing.assert_allclose(negatives[-1, 0], [*record.keypoints[0, 0, :2], 1.0])
    assert (negatives[-1, 1:] == 0).all()
    only, _ = click_prompts(record, 1, clicks, "clicks")
    assert (only[:, 2] > 0).sum() == 1 and only[11, 2] == 1
    pose, _ = click_prompts(record, 1, clicks, "pose")
    np.testing.assert_allclose(pose, record.keypoints[1])
    with pytest.raises(ValueError, match="prompt mode"):
        click_prompts(record, 1, clicks, "magic")


def test_clicks_on_a_person_without_estimated_joints_use_the_template():
    record = _crowd().with_keypoints(np.zeros((2, 17, 3), np.float32))
    kps, _ = click_prompts(record, 0, Clicks.create(3, [(105, 50)]), "clicks+pose")
    assert int(np.argmax(kps[:, 2])) in (0, 1, 2, 3, 4)  # a click near the top of the box is a head joint


class _Recorder:
    """An embedder without prompts: returns fixed embeddings, records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def embed(self, frame, boxes, keypoints, negatives=None):
        self.calls.append((np.array(boxes), np.array(keypoints), negatives))
        n = len(boxes)
        return np.ones((n, 2, 4), np.float32), np.ones((n, 2), bool)


def test_build_query_passes_the_click_prompts_to_the_embedder():
    record = _crowd()
    embedder = _Recorder()
    clicks = Clicks.create(3, [record.keypoints[1, 1, :2]], [record.keypoints[0, 0, :2]])
    query = build_query(embedder, np.zeros((200, 200, 3), np.uint8), record, clicks)
    boxes, keypoints, negatives = embedder.calls[0]
    np.testing.assert_allclose(boxes, record.boxes[1:2])
    np.testing.assert_allclose(keypoints[0], query.keypoints)
    assert len(negatives) == 1 and negatives[0].shape == query.negatives.shape
    assert query.row == 1 and not query.prompts_used  # this embedder has no use_prompts attribute
    assert query.excluded_embeddings.shape == (1, 2, 4)  # row 0, excluded by the negative click


# ---------------------------------------------------------------------------------------------- matcher
E = np.eye(4, dtype=np.float32)


def _near(base: np.ndarray, other: np.ndarray, distance: float) -> np.ndarray:
    """A unit vector at KPR tracking distance ``distance`` (half the Euclidean distance) from unit ``base``."""
    angle = 2 * np.arcsin(distance)  # |a - b| = 2 sin(angle / 2) = 2 * distance
    return (np.cos(angle) * base + np.sin(angle) * other).astype(np.float32)


def _frame(index: int, people: list[tuple[np.ndarray, int]]) -> FrameRecord:
    """A record with one row per (embedding (D,), track id); boxes side by side."""
    n = len(people)
    boxes = np.array([[10 + 40 * i, 10, 40 + 40 * i, 90] for i in range(n)], np.float32).reshape(-1, 4)
    emb = np.stack([np.stack([e, e]) for e, _ in people]) if n else np.zeros((0, 2, 4), np.float32)
    return FrameRecord(
        boxes,
        np.ones(n, np.float32),
        np.zeros((n, 17, 3), np.float32),
        embeddings=emb,
        visibility=np.ones((n, 2), bool),
        track_ids=np.array([t for _, t in people], np.int64),
        frame_index=index,
    )


def _query(embedding: np.ndarray, excluded: list[np.ndarray] = ()) -> Query:
    ex = np.stack([np.stack([e, e]) for e in excluded]) if excluded else np.zeros((0, 2, 4), np.float32)
    return Query(
        frame=2,
        row=0,
        box=np.array([10, 10, 40, 90], np.float32),
        keypoints=np.zeros((17, 3), np.float32),
        negatives=np.zeros((0, 17, 3), np.float32),
        embeddings=np.stack([embedding, embedding]),
        visibility=np.ones(2, bool),
        excluded_embeddings=ex,
        excluded_visibility=np.ones((len(ex), 2), bool),
        prompts_used=True,
    )


def test_matcher_follows_the_track_and_refinds_the_person_after_an_absence():
    me, other = E[0], E[1]
    matcher = FollowMatcher(_query(me), FollowOptions(refind_distance=0.2, drop_distance=0.45))
    frames = [
        _frame(0, [(other, 7), (_near(me, other, 0.15), 5)]),  # before the click: re-found by appearance
        _frame(1, [(other, 7), (_near(me, other, 0.3), 5)]),  # followed along track 5 despite 0.3 > 0.2
        _frame(2, [(me, 5), (other, 7)]),  # the clicked frame
        _frame(3, [(other, 7)]),  # the person is hidden: absent, not the other person
        _frame(4, []),
        _frame(5, [(_near(me, other, 0.1), 9), (other, 7)]),  # back with a new track id: re-found
        _frame(6, [(_near(me, other, 0.5), 9), (other, 7)]),  # track 9 now far away: dropped
    ]
    out = [matcher.step(f, 0 if f.frame_index == 2 else None) for f in frames]
    assert [f.present for f in out] == [True, True, True, False, False, True, False]
    assert [f.track_id for f in out if f.present] == [5, 5, 5, 9]
    assert out[2].clicked and out[2].confidence == 1.0
    assert out[5].confidence == pytest.approx(0.9, abs=1e-5) and out[5].distance == pytest.approx(0.1, abs=1e-5)
    assert 7 in matcher.others


def test_matcher_never_picks_a_track_seen_beside_the_person_nor_an_excluded_look_alike():
    me, other = E[0], E[1]
    look_alike = _near(me, other, 0.12)
    matcher = FollowMatcher(_query(me), FollowOptions(refind_distance=0.2))
    matcher.step(_frame(0, [(me, 1), (look_alike, 2)]), clicked_row=0)
    # the person is gone; track 2 (seen beside them) looks like them but is somebody else
    assert not matcher.step(_frame(1, [(look_alike, 2)])).present
    excluded = FollowMatcher(_query(me, excluded=[_near(me, other, 0.05)]), FollowOptions(refind_distance=0.2))
    assert not excluded.step(_frame(0, [(_near(me, other, 0.1), 4)])).present  # nearer to the excluded person


def test_revise_gives_earlier_frames_of_the_clicked_track_to_the_person():
    me, other = E[0], E[1]
    matcher = FollowMatcher(_query(me), FollowOptions(refind_distance=0.2))
    frames = [_frame(0, [(other, 3), (_near(me, other, 0.4), 8)]), _frame(1, [(me, 8)])]
    out = [matcher.step(frames[0]), matcher.step(frames[1], clicked_row=0)]
    assert not out[0].present  # too far to be re-found online
    revised = matcher.revise(out)
    assert revised[0].present and revised[0].track_id == 8 and revised[0].row == 1
    assert revised[0].distance == pytest.approx(0.4, abs=1e-5)


def test_matcher_needs_embeddings():
    matcher = FollowMatcher(_query(E[0]))
    record = _frame(0, [(E[0], 1)])
    with pytest.raises(ValueError, match="no appearance embedder"):
        matcher.step(FrameRecord(record.boxes, record.scores, record.keypoints, frame_index=0))
    with pytest.raises(ValueError, match="do not match"):
        matcher.step(record.with_embeddings(np.ones((1, 3, 4), np.float32), np.ones((1, 3), bool)))


def test_options_are_validated():
    with pytest.raises(ValueError, match="refind_distance"):
        FollowOptions(refind_distance=1.5)
    with pytest.raises(ValueError, match="prompt_mode"):
        FollowOptions(prompt_mode="x")


# ---------------------------------------------------------------------------------------------- results
def test_result_json_round_trip():
    frames = [
        FollowFrame(0, False),
        FollowFrame(
            1, True, 0.8, 0.2, np.array([1, 2, 3, 4], np.float32), np.ones((17, 3), np.float32), np.ones(9, bool), 4
        ),
    ]
    result = FollowResult({"name": "v"}, {"frame": 1}, {"prompts_used": True}, "demo", {}, frames)
    data = result.to_json()
    assert data["summary"] == {"present_frames": 1, "mean_confidence": 0.8}
    back = FollowResult.from_json(data)
    assert back.present_frames == 1 and back.frames[1].track_id == 4
    np.testing.assert_allclose(back.frames[1].box, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="not a kprtrack-follow file"):
        FollowResult.from_json({"format": "x"})
    with pytest.raises(ValueError, match="version"):
        FollowResult.from_json({**data, "version": 99})


def test_scoring_against_ground_truth():
    gt = [
        FrameRecord(
            np.array([[0, 0, 10, 20], [30, 0, 40, 20]], np.float32),
            np.ones(2, np.float32),
            np.zeros((2, 17, 3), np.float32),
            track_ids=np.array([1, 2]),
            frame_index=i,
        )
        for i in range(4)
    ]
    box1, box2 = gt[0].boxes[0], gt[0].boxes[1]
    assert gt_identity(box1 + 1, gt[0]) == 1 and gt_identity(np.array([100, 0, 110, 20]), gt[0]) == -1
    frames = [FollowFrame(0, True, box=box1, clicked=True), FollowFrame(1, True, box=box2), FollowFrame(2, False)]
    score = score_follow(frames, gt, target=1)
    assert (score.reported, score.correct, score.annotated, score.query_correct) == (2, 1, 4, True)
    assert score.accuracy == 0.5 and score.recall == 0.25


def test_simulated_clicks_hit_visible_joints():
    kps = np.zeros((2, 17, 3), np.float32)
    kps[0, [1, 11, 12], :] = [[5, 5, 1], [6, 15, 1], [7, 15, 0]]
    kps[1, [1, 5], :] = [[8, 6, 1], [35, 6, 1]]
    gt = FrameRecord(
        np.array([[0, 0, 10, 20], [5, 0, 40, 20]], np.float32),
        np.ones(2, np.float32),
        kps,
        track_ids=np.array([4, 6]),
        frame_index=9,
    )
    clicks = simulate_clicks(gt, 4, negative=True)
    assert clicks.frame == 9
    np.testing.assert_allclose(clicks.positives, [[5, 5], [6, 15]])  # neck, then the visible hip
    np.testing.assert_allclose(clicks.negatives, [[8, 6]])  # person 6's joint inside person 4's box
    with pytest.raises(ValueError, match="not annotated"):
        simulate_clicks(gt, 5)
