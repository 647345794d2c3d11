"""Keypoints, visibility flags, boxes and head boxes agree with the rendered instance and parsing maps."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.synth.dataset import SynthDataset
from kprtrack.synth.parts import CROWD, JOINT_PART_TABLE, LEFT_ARM, RIGHT_ARM, TORSO
from tests.synth_data import generated

ANNOTATED = [0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """(sequence, t, instances, parsing, annotations) for every labelled frame of the tiny preset."""
    ds = SynthDataset(generated(tmp_path_factory, "tiny"))
    out = []
    for split in ds.splits:
        for seq in ds.sequences(split):
            for t in range(len(seq)):
                if seq.is_labeled(t):
                    out.append((seq, t, seq.instances(t), seq.parsing(t), seq.annotations(t)))
    assert len(out) > 100
    return out


def _pixel(kp: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    px = np.clip(kp[:, 0].astype(int), 0, shape[1] - 1)
    py = np.clip(kp[:, 1].astype(int), 0, shape[0] - 1)
    return py, px


def test_visible_joints_lie_on_their_persons_mask(frames):
    visible = 0
    for _, _, inst, parts, anns in frames:
        for a in anns:
            kp = np.asarray(a["keypoints"], float).reshape(17, 3)
            py, px = _pixel(kp, inst.shape)
            for j in np.flatnonzero(kp[:, 2] > 0):
                assert inst[py[j], px[j]] == a["track_id"] + 1
                assert JOINT_PART_TABLE[j, parts[py[j], px[j]]], f"joint {j} on part {parts[py[j], px[j]]}"
                visible += 1
    assert visible > 2000


def test_visibility_flags_agree_with_masks(frames):
    by_other = by_self = 0
    for _, _, inst, parts, anns in frames:
        h, w = inst.shape
        for a in anns:
            kp = np.asarray(a["keypoints"], float).reshape(17, 3)
            present = (kp[:, 0] > 0) & (kp[:, 1] > 0)
            assert not present[[3, 4]].any(), "ears are placeholders"
            assert np.all(kp[~present] == 0), "absent joints are 0,0,0"
            assert np.all((kp[present, 0] < w) & (kp[present, 1] < h)), "joints outside the image are 0,0,0"
            py, px = _pixel(kp, inst.shape)
            own = inst[py, px] == a["track_id"] + 1
            on_part = JOINT_PART_TABLE[np.arange(17), parts[py, px]]
            mask_says = present & own & on_part
            flags = kp[:, 2] > 0
            assert not np.any(flags & ~mask_says)
            # the only flag the masks cannot show: a nose on the back of the head
            hidden = np.flatnonzero(mask_says & ~flags)
            assert set(hidden.tolist()) <= {0}
            other = present & ~own & (inst[py, px] > 0) & (inst[py, px] != CROWD)
            assert not np.any(flags & other)
            by_other += int(other.sum())
            by_self += int((present & own & ~on_part).sum()) + len(hidden)
    assert by_other > 50, "people must occlude each other"
    assert by_self > 50, "bodies must occlude their own joints"


def test_bbox_encloses_the_visible_pixels(frames):
    for seq, t, inst, _, anns in frames:
        for a in anns:
            ys, xs = np.nonzero(inst == a["track_id"] + 1)
            assert len(xs) > 0
            x, y, w, h = a["bbox"]
            assert xs.min() >= x - 1e-6 and xs.max() + 1 <= x + w + 0.011, (seq.name, t, a["track_id"])
            assert ys.min() >= y - 1e-6 and ys.max() + 1 <= y + h + 0.011, (seq.name, t, a["track_id"])
            vx, vy, vw, vh = a["bbox_visible"]
            assert (vx, vy, vx + vw, vy + vh) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_head_box_encloses_the_head_joints(frames):
    checked = 0
    for _, _, _, _, anns in frames:
        for a in anns:
            kp = np.asarray(a["keypoints"], float).reshape(17, 3)
            x, y, w, h = a["bbox_head"]
            assert w > 0 and h > 0
            for j in (0, 1, 2):
                if kp[j, 0] > 0 and kp[j, 1] > 0:
                    assert x <= kp[j, 0] <= x + w and y <= kp[j, 1] <= y + h
                    checked += 1
    assert checked > 500


def test_parsing_and_instance_maps_agree(frames):
    for _, _, inst, parts, _ in frames:
        person = (inst > 0) & (inst != CROWD)
        assert np.array_equal(parts > 0, person)
        assert parts.max() <= 8


def test_left_and_right_arms_are_labelled_by_side(frames):
    counts = {LEFT_ARM: 0, RIGHT_ARM: 0}
    for _, _, inst, parts, anns in frames:
        for a in anns:
            kp = np.asarray(a["keypoints"], float).reshape(17, 3)
            py, px = _pixel(kp, inst.shape)
            for j, label in ((9, LEFT_ARM), (10, RIGHT_ARM)):
                if kp[j, 2] > 0:
                    assert parts[py[j], px[j]] == label
                    counts[label] += 1
    assert min(counts.values()) > 50


def test_reader_crops_carry_identity_and_own_parts(frames):
    seq, t, inst, _, anns = frames[len(frames) // 2]
    rgb = seq.frame(t)
    assert rgb.dtype == np.uint8 and rgb.shape == (*inst.shape, 3)
    crops = seq.crops(t)
    assert len(crops) == len(anns)
    for crop, a in zip(crops, anns):
        assert crop.person_id == a["person_id"] and crop.track_id == a["track_id"]
        assert crop.image.shape[:2] == crop.parts.shape == crop.all_parts.shape
        x1, y1, x2, y2 = crop.box
        mine = inst[y1:y2, x1:x2] == a["track_id"] + 1
        assert np.array_equal(crop.parts > 0, mine)
        assert np.any(crop.parts == TORSO) or np.count_nonzero(mine) < 200
        vis = crop.keypoints[:, 2] > 0
        assert np.all(crop.keypoints[vis, 0] < x2 - x1) and np.all(crop.keypoints[vis, 1] < y2 - y1)
    records = seq.records()
    assert len(records) == len(seq)
    assert records[t].keypoints.shape == (len(anns), 17, 3)
