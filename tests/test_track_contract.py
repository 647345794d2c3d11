"""Behavioural contract of every tracker variant (hand-made embeddings, boxes and poses)."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.structures import FrameRecord
from kprtrack.track import IdCounter, KPRTracker, TrackState
from tests.track_helpers import (
    APPEARANCE_VARIANTS,
    VARIANTS,
    Det,
    box_at,
    exact_frame,
    frame,
    identity,
    make_tracker,
    run,
)

ALL = list(VARIANTS)


@pytest.fixture
def people():
    rng = np.random.default_rng(123)
    return [identity(rng) for _ in range(6)]


def column(ids: list[np.ndarray], i: int) -> list[int]:
    return [int(f[i]) for f in ids]


@pytest.mark.parametrize("variant", ALL)
def test_empty_frames(variant, people):
    tracker = make_tracker(variant)
    for i in range(3):
        out = tracker.update(FrameRecord.empty(i))
        assert out.track_ids.shape == (0,) and out.track_ids.dtype == np.int64
    assert tracker.tracks == []
    # a person appears after empty frames, then empty frames make the track lost, not removed
    ids = run(tracker, [[Det(people[0], box_at(100))]] * 3, start=3)
    assert column(ids, 0)[-1] == 1
    out = tracker.update(FrameRecord.empty(6))
    assert len(out) == 0
    assert [t.state for t in tracker.tracks] == [TrackState.LOST]


@pytest.mark.parametrize("variant", ALL)
def test_one_person(variant, people):
    ids = run(make_tracker(variant), [[Det(people[0], box_at(100 + 2 * i))] for i in range(20)])
    assert column(ids, 0) == [1] * 20  # confirmed at once in the first frame (ByteTrack)


@pytest.mark.parametrize("variant", ALL)
def test_min_hits_delays_confirmation(variant, people):
    tracker = make_tracker(variant, min_hits=3, confirm_on_first_frame=False)
    ids = run(tracker, [[Det(people[0], box_at(100))]] * 6)
    assert column(ids, 0) == [-1, -1, 1, 1, 1, 1]


@pytest.mark.parametrize("variant", ALL)
def test_unconfirmed_track_missing_a_frame_is_removed(variant, people):
    tracker = make_tracker(variant)
    run(tracker, [[Det(people[0], box_at(100))]])  # frame 1: confirmed at once
    ids = run(tracker, [[Det(people[1], box_at(400))], [], [Det(people[1], box_at(400))]], start=1)
    assert [list(f) for f in ids] == [[-1], [], [-1]]  # never two consecutive hits
    assert tracker.id_counter.issued == 1


@pytest.mark.parametrize("variant", ALL)
def test_stable_ids_over_a_static_scene(variant, people):
    frames = [[Det(p, box_at(80 + 120 * k)) for k, p in enumerate(people[:5])] for _ in range(40)]
    ids = run(make_tracker(variant), frames)
    for k in range(5):
        assert len(set(column(ids, k))) == 1
    assert sorted(int(i) for i in ids[-1]) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("variant", APPEARANCE_VARIANTS)
def test_swapped_positions_keep_ids_by_appearance(variant, people):
    a, b = people[:2]
    before = [[Det(a, box_at(100)), Det(b, box_at(400))]] * 10
    after = [[Det(a, box_at(400)), Det(b, box_at(100))]] * 10
    ids = run(make_tracker(variant), before + after)
    assert column(ids, 0) == [1] * 20
    assert column(ids, 1) == [2] * 20


def test_swapped_positions_follow_boxes_without_appearance(people):
    a, b = people[:2]
    frames = [[Det(a, box_at(100)), Det(b, box_at(400))]] * 10 + [[Det(a, box_at(400)), Det(b, box_at(100))]] * 5
    ids = run(make_tracker("bytetrack_iou"), frames)
    assert column(ids, 0)[-1] == 2 and column(ids, 1)[-1] == 1  # the IoU baseline swaps identities


@pytest.mark.parametrize("variant", APPEARANCE_VARIANTS)
def test_crossing_people_keep_ids(variant, people):
    a, b = people[:2]
    frames = []
    for i in range(40):  # walk through each other, boxes overlapping in the middle frames
        frames.append([Det(a, box_at(100 + 10 * i)), Det(b, box_at(490 - 10 * i))])
    ids = run(make_tracker(variant), frames)
    assert column(ids, 0) == [1] * 40
    assert column(ids, 1) == [2] * 40


def test_motion_gate_stops_tracked_tracks_from_jumping(people):
    a, b = people[:2]
    frames = [[Det(a, box_at(100)), Det(b, box_at(400))]] * 5 + [[Det(a, box_at(400)), Det(b, box_at(100))]] * 3
    ids = run(make_tracker("kpr_motion_iou", motion_gate=0.3), frames)
    # the jump is forbidden while tracked; the lost tracks are then re-identified by appearance
    assert column(ids, 0) == [1] * 5 + [-1, 1, 1]
    assert column(ids, 1) == [2] * 5 + [-1, 2, 2]


def test_motion_weight_keeps_an_overlapping_track_despite_appearance(people):
    a = people[0]
    changed = 0.5 * a + 0.5 * people[1]  # appearance drifts beyond match_thresh, box stays put
    changed = changed / np.linalg.norm(changed, axis=1, keepdims=True)
    frames = [[Det(a, box_at(100))]] * 5 + [[Det(changed, box_at(100))]]
    ids_app = run(make_tracker("kpr"), frames)
    ids_mot = run(make_tracker("kpr_motion_iou", motion_weight=0.9), frames)
    assert column(ids_app, 0)[-1] == -1
    assert column(ids_mot, 0)[-1] == 1


@pytest.mark.parametrize("variant", ALL)
@pytest.mark.parametrize("frame_rate", [30.0, 15.0])
def test_reentry_within_and_beyond_buffer(variant, frame_rate, people):
    tracker_buffer = 10
    max_lost = int(frame_rate / 30 * tracker_buffer)
    present = [Det(people[0], box_at(100)), Det(people[1], box_at(400))]
    only_b = [Det(people[1], box_at(400))]

    tracker = make_tracker(variant, frame_rate=frame_rate, track_buffer=tracker_buffer)
    assert tracker.max_time_lost == max_lost
    ids = run(tracker, [present] * 5 + [only_b] * max_lost + [present] * 3)
    assert column(ids, 0)[:5] == [1] * 5 and column(ids, 0)[-3:] == [1] * 3  # absent max_lost frames: same id

    tracker = make_tracker(variant, frame_rate=frame_rate, track_buffer=tracker_buffer)
    ids = run(tracker, [present] * 5 + [only_b] * (max_lost + 1) + [present] * 3)
    assert column(ids, 0)[-2:] == [3, 3]  # one frame too many: a new (confirmed after 2 hits) id
    assert column(ids, 0)[-3] == -1
    assert [int(f[-1]) for f in ids] == [2] * len(ids)  # the person who stayed keeps their id
    assert all(t.track_id != 1 for t in tracker.tracks)  # the old track is gone, not kept


@pytest.mark.parametrize("variant", APPEARANCE_VARIANTS)
def test_reentry_elsewhere_is_reidentified(variant, people):
    frames = [[Det(people[0], box_at(100))]] * 5 + [[]] * 8 + [[Det(people[0], box_at(500))]] * 3
    ids = run(make_tracker(variant, track_buffer=10), frames)
    assert [int(f[0]) for f in ids if len(f)] == [1] * 8


@pytest.mark.parametrize("variant", ALL)
def test_detections_below_thresholds(variant, people):
    tracker = make_tracker(variant)
    a, b, c, d = people[:4]
    frames = []
    for i in range(6):
        score_a = 0.9 if i < 3 else 0.3  # tracked person whose score drops into the low band
        frames.append(
            [
                Det(a, box_at(100), score_a),
                Det(b, box_at(250), 0.05),  # below low_thresh: ignored
                Det(c, box_at(400), 0.3),  # low band, no track to continue: never starts one
                Det(d, box_at(550), 0.55),  # high, but below new_track_thresh: never starts one
            ]
        )
    ids = run(tracker, frames)
    assert column(ids, 0) == [1] * 6  # continued by the low-confidence pass
    for k in (1, 2, 3):
        assert column(ids, k) == [-1] * 6
    assert len(tracker.tracks) == 1
    # a tracked person whose score falls below low_thresh is untracked and the track becomes lost
    out = tracker.update(frame([Det(a, box_at(100), 0.05)], 6))
    assert list(out.track_ids) == [-1]
    assert tracker.tracks[0].state is TrackState.LOST


@pytest.mark.parametrize("variant", APPEARANCE_VARIANTS)
def test_part_visible_only_in_some_frames(variant):
    rng = np.random.default_rng(7)
    base = identity(rng)
    alpha = 0.9
    tracker = make_tracker(variant, ema_alpha=alpha)
    vis_off = np.ones(9, bool)
    vis_off[3] = False
    feats = [base.copy() for _ in range(4)]
    for k, f in enumerate(feats):
        f[:] = base + 0.01 * k
        f /= np.linalg.norm(f, axis=1, keepdims=True)
    feats[0][3] = 0.0  # garbage for the invisible part
    feats[3][3] = -base[3]
    visibility = [vis_off, np.ones(9, bool), np.ones(9, bool), vis_off]
    for i, (f, v) in enumerate(zip(feats, visibility)):
        assert list(tracker.update(exact_frame(f, v, i)).track_ids) == [1]
        memory = tracker.tracks[0].memory
        if i == 0:
            assert not memory.visibility[3] and memory.visibility[[0, 1, 2, 4, 5, 6, 7, 8]].all()
        if i == 1:  # visible only in the detection: copied
            np.testing.assert_allclose(memory.embeddings[3], feats[1][3], atol=1e-6)
            assert memory.visibility.all()
        if i == 2:  # visible in both: EMA
            np.testing.assert_allclose(memory.embeddings[3], alpha * feats[1][3] + (1 - alpha) * feats[2][3], atol=1e-6)
        if i == 3:  # not visible in the detection: kept, visibility stays on (OR)
            np.testing.assert_allclose(memory.embeddings[3], alpha * feats[1][3] + (1 - alpha) * feats[2][3], atol=1e-6)
            assert memory.visibility.all()
    # the foreground and the always-visible parts went through the EMA in every frame
    expected = feats[0][0]
    for f in feats[1:]:
        expected = alpha * expected + (1 - alpha) * f[0]
    np.testing.assert_allclose(memory.embeddings[0], expected, atol=1e-6)


def test_invisible_foreground_is_still_updated():
    rng = np.random.default_rng(3)
    f0, f1 = identity(rng), identity(rng)
    vis = np.ones(9, bool)
    tracker = KPRTracker()
    for i, (f, v) in enumerate([(f0, vis), (0.99 * f0 + 0.01 * f1, np.r_[False, vis[1:]])]):
        tracker.update(exact_frame(f, v, i))
    fg = (0.99 * f0 + 0.01 * f1)[0]
    fg = fg / np.linalg.norm(fg)
    np.testing.assert_allclose(tracker.tracks[0].memory.embeddings[0], 0.9 * f0[0] + 0.1 * fg, atol=1e-6)


@pytest.mark.parametrize("variant", APPEARANCE_VARIANTS)
def test_pairs_without_a_common_visible_part_never_match(variant):
    rng = np.random.default_rng(4)
    f = identity(rng)
    first = np.zeros(9, bool)
    first[[1, 2]] = True
    second = np.zeros(9, bool)
    second[[3, 4]] = True
    tracker = make_tracker(variant)
    for i, v in enumerate([first, second]):
        # the tracker always counts the foreground as seen in its memory; hide it in both detections
        out = tracker.update(exact_frame(f, v, i))
    assert list(out.track_ids) == [-1]  # the second detection started a new (unconfirmed) track


@pytest.mark.parametrize("variant", ALL)
def test_ids_of_two_tracker_instances(variant, people):
    frames = [[Det(p, box_at(80 + 120 * k)) for k, p in enumerate(people[:3])] for _ in range(5)]
    one, two = make_tracker(variant), make_tracker(variant)
    ids_one, ids_two = [], []
    for i, dets in enumerate(frames):  # interleaved: no state shared between instances
        ids_one.append(one.update(frame(dets, i)).track_ids)
        ids_two.append(two.update(frame(dets, i)).track_ids)
    assert [list(x) for x in ids_one] == [list(x) for x in ids_two] == [[1, 2, 3]] * 5

    shared = IdCounter()
    one, two = make_tracker(variant, id_counter=shared), make_tracker(variant, id_counter=shared)
    a = run(one, frames)
    b = run(two, frames)
    assert set(a[-1].tolist()).isdisjoint(b[-1].tolist())
    assert sorted(a[-1].tolist() + b[-1].tolist()) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("variant", ALL)
def test_input_order_preserved(variant, people):
    positions = [box_at(80 + 120 * k) for k in range(5)]
    rng = np.random.default_rng(0)
    ordered = [[Det(p, positions[k]) for k, p in enumerate(people[:5])] for _ in range(15)]
    perms = [np.arange(5)] + [rng.permutation(5) for _ in range(14)]  # new ids follow row order
    shuffled = [[dets[j] for j in perm] for dets, perm in zip(ordered, perms)]
    tracker = make_tracker(variant)
    ids_sorted = run(make_tracker(variant), ordered)
    for i, (dets, perm) in enumerate(zip(shuffled, perms)):
        rec = frame(dets, i)
        out = tracker.update(rec)
        # rows keep their order and content; ids belong to the same people as in the ordered run
        np.testing.assert_array_equal(out.boxes, rec.boxes)
        np.testing.assert_array_equal(out.scores, rec.scores)
        np.testing.assert_array_equal(out.embeddings, rec.embeddings)
        assert list(out.track_ids) == [int(ids_sorted[i][j]) for j in perm]


@pytest.mark.parametrize("variant", ALL)
def test_reset_starts_a_new_video(variant, people):
    tracker = make_tracker(variant)
    run(tracker, [[Det(people[0], box_at(100)), Det(people[1], box_at(300))]] * 3)
    tracker.reset(frame_rate=15)
    assert tracker.tracks == [] and tracker.frame_count == 0 and tracker.max_time_lost == 15
    ids = run(tracker, [[Det(people[2], box_at(100))]] * 2)
    assert column(ids, 0) == [1, 1]


@pytest.mark.parametrize("variant", ALL)
def test_bad_input_raises_clear_errors(variant, people):
    tracker = make_tracker(variant)
    with pytest.raises(TypeError, match="FrameRecord"):
        tracker.update({"boxes": []})
    tracker.update(frame([Det(people[0], box_at(100))], 5))
    with pytest.raises(ValueError, match="reset"):
        tracker.update(frame([Det(people[0], box_at(100))], 4))
    with pytest.raises(ValueError, match="frame_rate"):
        make_tracker(variant, frame_rate=0)
    with pytest.raises(ValueError, match="frame_rate"):
        tracker.reset(frame_rate=-5)
    with pytest.raises(ValueError, match="min_hits"):
        make_tracker(variant, min_hits=0)
    with pytest.raises(ValueError, match="low_thresh"):
        make_tracker(variant, low_thresh=0.7, high_thresh=0.5)
    with pytest.raises(ValueError, match="match_thresh"):
        make_tracker(variant, match_thresh=1.5)
    with pytest.raises(TypeError, match="IdCounter"):
        make_tracker(variant, id_counter=5)


@pytest.mark.parametrize("variant", APPEARANCE_VARIANTS)
def test_bad_embeddings_raise_clear_errors(variant, people):
    tracker = make_tracker(variant)
    plain = FrameRecord.from_boxes(np.array([box_at(100)]), np.array([0.9]))
    with pytest.raises(ValueError, match="no embeddings"):
        tracker.update(plain)
    tracker.update(frame([Det(people[0], box_at(100))], 0))
    rec = frame([Det(people[0], box_at(100))], 1)
    with pytest.raises(ValueError, match=r"\(N, 5, 32\)"):
        tracker.update(rec.with_embeddings(rec.embeddings[:, :5], rec.visibility[:, :5]))
    emb = rec.embeddings.copy()
    emb[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tracker.update(rec.with_embeddings(emb, rec.visibility))
    with pytest.raises(ValueError, match="motion"):
        make_tracker(variant, motion="kalman")
    with pytest.raises(TypeError, match="KPRTrackerConfig"):
        KPRTracker(object())


def test_bytetrack_iou_needs_no_embeddings():
    tracker = make_tracker("bytetrack_iou")
    for i in range(3):
        out = tracker.update(FrameRecord.from_boxes(np.array([box_at(100 + 3 * i)]), np.array([0.9]), frame_index=i))
    assert list(out.track_ids) == [1]
