"""Cost matrices and the cost-limited assignment."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.reid.distance import tracking_distance
from kprtrack.track import kalman
from kprtrack.track.association import linear_assignment
from kprtrack.track.costs import iou_matrix, kpr_tracking_distance, oks_matrix
from kprtrack.track.memory import l2_normalize
from tests.track_helpers import box_at, pose_in_box


def _inputs(seed: int, m: int = 7, n: int = 5, p: int = 9, d: int = 64):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(m, p, d)).astype(np.float32) * rng.uniform(0.1, 3, size=(m, p, 1)).astype(np.float32)
    g = rng.normal(size=(n, p, d)).astype(np.float32)
    g[:2] = q[:2] + 0.05 * rng.normal(size=(2, p, d)).astype(np.float32)
    qv = rng.random((m, p)) > 0.4
    gv = rng.random((n, p)) > 0.4
    qv[3] = False  # a track with nothing visible
    gv[4] = ~qv[5]  # a pair with no common entry
    return q, qv, g, gv


@pytest.mark.parametrize("seed", range(4))
def test_kpr_distance_equals_the_reference(seed):
    q, qv, g, gv = _inputs(seed)
    ours, has_common = kpr_tracking_distance(q, qv, g, gv)
    ref = tracking_distance(q, qv, g, gv)
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    ours_n, _ = kpr_tracking_distance(l2_normalize(q), qv, l2_normalize(g), gv, normalized=True)
    np.testing.assert_allclose(ours_n, ref, rtol=1e-5, atol=1e-5)
    expected_common = (qv[:, None, :] & gv[None, :, :]).any(-1)
    np.testing.assert_array_equal(has_common, expected_common)
    assert not has_common[3].any() and not has_common[5, 4]


def test_kpr_distance_identical_features_and_degenerate_matrices():
    q, qv, _, _ = _inputs(0)
    qv[:] = True
    ours, _ = kpr_tracking_distance(q, qv, q, qv)
    ref = tracking_distance(q, qv, q, qv)
    # near-zero distances are square roots of float32 cancellation residues (reference: up to ~4e-4)
    np.testing.assert_allclose(ours, ref, atol=1e-3)
    assert np.all(np.diag(ours) < 1e-3)
    none = np.zeros_like(qv)
    ours, has_common = kpr_tracking_distance(q, none, q, none)
    np.testing.assert_allclose(ours, tracking_distance(q, none, q, none))  # reference fill: 0
    assert not has_common.any()
    empty, common = kpr_tracking_distance(q[:0], qv[:0], q, qv)
    assert empty.shape == (0, len(q)) and common.shape == (0, len(q))
    with pytest.raises(ValueError, match=r"\(M, P, D\)"):
        kpr_tracking_distance(q, qv, q[:, :3], qv[:, :3])


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 100, 100]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1, 50 / 150, 0], [0, 0, 0]])
    assert iou_matrix(a[:0], b).shape == (0, 3)


def test_oks_matrix():
    box = np.array([box_at(100)], np.float32)
    kp = pose_in_box(box[0])[None]
    far = np.array([box_at(400)], np.float32)
    oks = oks_matrix(kp, box, np.concatenate([kp, pose_in_box(far[0])[None]]), np.concatenate([box, far]))
    np.testing.assert_allclose(oks[0, 0], 1.0)
    assert oks[0, 1] < 1e-6
    shifted = kp.copy()
    shifted[..., 0] += 5
    assert 0.3 < oks_matrix(kp, box, shifted, box)[0, 0] < 1.0
    no_joints = np.zeros_like(kp)  # no shared joint: falls back to the box IoU
    moved = box + [10, 0, 10, 0]
    np.testing.assert_allclose(oks_matrix(no_joints, box, kp, moved), iou_matrix(box, moved))


def test_linear_assignment_respects_the_limit():
    cost = np.array([[0.1, 0.15, 0.9], [0.12, 0.5, 0.9], [0.9, 0.9, 0.25]])
    matches, rows, cols = linear_assignment(cost, 0.2)
    assert matches.tolist() == [[0, 1], [1, 0]]  # optimal total, never a pair above 0.2
    assert rows.tolist() == [2] and cols.tolist() == [2]
    matches, rows, cols = linear_assignment(np.full((2, 3), np.inf), 0.2)
    assert len(matches) == 0 and rows.tolist() == [0, 1] and cols.tolist() == [0, 1, 2]
    for shape in [(0, 3), (2, 0), (0, 0)]:
        matches, rows, cols = linear_assignment(np.zeros(shape), 0.2)
        assert matches.shape == (0, 2) and len(rows) == shape[0] and len(cols) == shape[1]
    with pytest.raises(ValueError, match="matrix"):
        linear_assignment(np.zeros(3), 0.2)


def test_kalman_follows_constant_velocity():
    state = kalman.initiate(np.array(box_at(100), np.float32))
    for t in range(1, 30):
        kalman.predict([state])
        kalman.update([state], np.array([box_at(100 + 4 * t)], np.float32))
    kalman.predict([state])
    np.testing.assert_allclose(state.box, box_at(100 + 4 * 30), atol=0.5)
    lost = kalman.initiate(np.array(box_at(100), np.float32))
    lost.mean[7] = 3.0
    kalman.predict([lost], [True])
    np.testing.assert_allclose(lost.mean[3], 160.0)  # height velocity frozen for non-tracked tracks
