"""The part-appearance memory rules."""

from __future__ import annotations

import numpy as np

from kprtrack.track.memory import PartMemory, ema_update, l2_normalize, update_memories


def test_ema_rules_per_part():
    rng = np.random.default_rng(0)
    track = l2_normalize(rng.normal(size=(5, 8)))
    det = l2_normalize(rng.normal(size=(5, 8)))
    track_vis = np.array([True, True, False, True, False])
    det_vis = np.array([True, True, True, False, False])
    emb, vis = ema_update(track, track_vis, det, det_vis, 0.9)
    np.testing.assert_allclose(emb[:2], 0.9 * track[:2] + 0.1 * det[:2], atol=1e-7)  # both visible: EMA
    np.testing.assert_array_equal(emb[2], det[2])  # only in the detection: copy
    np.testing.assert_array_equal(emb[3:], track[3:])  # not in the detection: keep
    np.testing.assert_array_equal(vis, [True, True, True, True, False])  # OR
    np.testing.assert_array_equal(track_vis, [True, True, False, True, False])  # inputs untouched


def test_foreground_always_updated():
    track = np.ones((3, 4), np.float32) / 2
    det = np.zeros((3, 4), np.float32)
    det[0] = 1.0
    emb, vis = ema_update(track, np.array([True, False, False]), det, np.zeros(3, bool), 0.5)
    np.testing.assert_allclose(emb[0], 0.5 * track[0] + 0.5 * det[0])
    np.testing.assert_array_equal(emb[1:], track[1:])
    assert vis.tolist() == [True, False, False]


def test_part_memory_starts_from_the_detection():
    det = np.arange(12, dtype=np.float32).reshape(3, 4)
    memory = PartMemory(det, np.array([False, True, False]), alpha=0.9)
    np.testing.assert_array_equal(memory.embeddings, det)
    assert memory.visibility.tolist() == [True, True, False]  # foreground counts as seen
    memory.update(det + 1, np.array([True, True, True]))
    np.testing.assert_allclose(memory.embeddings[1], 0.9 * det[1] + 0.1 * (det[1] + 1), rtol=1e-6)
    np.testing.assert_array_equal(memory.embeddings[2], det[2] + 1)
    assert memory.visibility.all()


def test_l2_normalize_matches_torch_semantics():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    np.testing.assert_allclose(l2_normalize(x), [[0.6, 0.8], [0.0, 0.0]])


def test_batched_update_equals_one_by_one():
    rng = np.random.default_rng(1)
    mems = [PartMemory(l2_normalize(rng.normal(size=(4, 6))), rng.random(4) > 0.5, 0.8) for _ in range(3)]
    twins = [PartMemory(m.embeddings, m.visibility, 0.8) for m in mems]
    det = l2_normalize(rng.normal(size=(3, 4, 6)))
    det_vis = rng.random((3, 4)) > 0.5
    update_memories(mems, det.copy(), det_vis)
    for twin, d, v in zip(twins, det, det_vis):
        twin.update(d, v)
    for m, twin in zip(mems, twins):
        np.testing.assert_array_equal(m.embeddings, twin.embeddings)
        np.testing.assert_array_equal(m.visibility, twin.visibility)
        np.testing.assert_allclose(m.normalized, l2_normalize(m.embeddings))
        assert m.embeddings.base is None  # owns its memory
