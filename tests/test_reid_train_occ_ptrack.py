"""Occluded-PoseTrack-ReID builder: protocol rules on hand-made detections, and a build of the tiny world."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from kprtrack.reid.train.occ_ptrack import (
    Detection,
    OccPTrackConfig,
    SamplingConfig,
    build_occ_ptrack,
    frame_detections,
    multi_person_occlusion_level,
    sample_detections,
    split_query_gallery,
    uniform_sample,
)
from tests.synth_data import generated


def _det(pid: int, frame: int, video: str = "v", vis: float = 1.0, w: float = 40, h: float = 80, mpol: float = 0.0):
    return Detection(
        video=video,
        frame=frame,
        image_id=frame,
        person_id=pid,
        track_id=pid,
        bbox=np.array([0.0, 0.0, w, h]),
        keypoints=np.zeros((17, 3)),
        negatives=np.zeros((0, 17, 3)),
        visibility=vis,
        mpol=mpol,
    )


def test_mpol_is_negative_over_positive_visibility():
    pos = np.zeros((17, 3))
    pos[:10, 2] = 1
    neg = np.zeros((2, 17, 3))
    neg[0, :3, 2] = 1
    neg[1, :2, 2] = 1
    assert multi_person_occlusion_level(pos, neg) == pytest.approx(0.5)
    assert multi_person_occlusion_level(pos, np.zeros((0, 17, 3))) == 0.0
    assert multi_person_occlusion_level(np.zeros((17, 3)), neg) == pytest.approx(10.0)  # 2 * sum(neg)


def test_frame_detections_negatives_are_other_people_inside_the_box():
    def ann(track, x, kp_x):
        kps = np.zeros((17, 3))
        kps[:, 0], kps[:, 1], kps[:, 2] = kp_x, 50.0, 1.0
        kps[16] = 0  # absent joint
        return {"image_id": 7, "person_id": 100 + track, "track_id": track, "bbox": [x, 10, 40, 90],
                "keypoints": kps.ravel().tolist()}  # fmt: skip

    dets = frame_detections("v", 0, 7, [ann(0, 0, 20), ann(1, 30, 60), ann(2, 200, 220)])
    # boxes [0, 40), [30, 70), [200, 240): nobody's joints (x = 20, 60, 220) fall in another box
    assert all(d.negatives.shape[0] == 0 and d.mpol == 0 for d in dets)
    dets = frame_detections("v", 0, 7, [ann(0, 0, 35), ann(1, 30, 60)])
    a, b = dets
    assert b.negatives.shape == (1, 17, 3) and a.negatives.shape[0] == 0
    assert b.mpol == pytest.approx(16 / 16)
    assert a.visibility == pytest.approx(16 / 17)


def test_uniform_sampling_keeps_first_and_last():
    items = [_det(1, t) for t in range(100)]
    picked = uniform_sample(items, 20)
    assert len(picked) == 20 and picked[0].frame == 0 and picked[-1].frame == 99
    gaps = np.diff([d.frame for d in picked])
    assert gaps.max() - gaps.min() <= 1
    assert uniform_sample(items[:5], 20) == items[:5]


def test_sampling_filters_and_identity_limits():
    cfg = SamplingConfig(min_visibility=0.3, min_width=10, min_height=10, min_samples_per_id=4, max_samples_per_id=6)
    dets = [_det(1, t) for t in range(30)]  # plenty -> 6
    dets += [_det(2, t) for t in range(3)]  # too few -> dropped
    dets += [_det(3, t, vis=0.2) for t in range(10)]  # invisible -> dropped
    dets += [_det(4, t, w=10) for t in range(10)]  # not larger than 10 px -> dropped
    dets += [_det(5, t, video="b") for t in range(3)] + [_det(5, t, video="a") for t in range(2)]  # two videos
    kept = sample_detections(dets, cfg, np.random.default_rng(0))
    assert sorted(kept) == [1, 5]
    assert len(kept[1]) == 6
    assert [(d.video, d.frame) for d in kept[5]] == [("a", 0), ("a", 1), ("b", 0), ("b", 1), ("b", 2)]
    many = [_det(pid, t) for pid in range(50) for t in range(4)]
    sub = sample_detections(many, SamplingConfig(max_total_ids=10), np.random.default_rng(0))
    again = sample_detections(many, SamplingConfig(max_total_ids=10), np.random.default_rng(0))
    assert len(sub) == 10 and sorted(sub) == sorted(again)
    assert sorted(sample_detections(many, SamplingConfig(max_total_ids=-1), np.random.default_rng(0))) == list(
        range(50)
    )


def test_query_split_takes_the_most_occluded_fifth():
    levels = [0.0, 0.9, 0.1, 0.5, 0.0, 0.3, 0.0, 0.0, 0.8, 0.2, 0.0]  # 11 samples -> floor(2.2) = 2 queries
    samples = {7: [_det(7, t, mpol=m) for t, m in enumerate(levels)], 8: [_det(8, t, mpol=1.0) for t in range(4)]}
    queries, gallery = split_query_gallery(samples, 0.2)
    assert sorted(d.mpol for d in queries if d.person_id == 7) == [0.8, 0.9]
    assert not [d for d in queries if d.person_id == 8]  # floor(0.8) = 0: gallery only
    assert len(queries) + len(gallery) == 15
    assert not {(d.person_id, d.frame) for d in queries} & {(d.person_id, d.frame) for d in gallery}
    # ties keep the tracklet order
    tie = {1: [_det(1, t, mpol=1.0) for t in range(10)]}
    assert [d.frame for d in split_query_gallery(tie, 0.2)[0]] == [0, 1]


def test_config_validation():
    with pytest.raises(ValueError, match="max_samples_per_id"):
        SamplingConfig(min_samples_per_id=5, max_samples_per_id=4)
    with pytest.raises(ValueError, match="query_ratio"):
        OccPTrackConfig(query_ratio=1.5)
    with pytest.raises(ValueError, match="train root"):
        build_occ_ptrack("/nonexistent", None, None)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = generated(tmp_path_factory, "tiny", write_video=False)
    out = tmp_path_factory.mktemp("occ")
    meta = build_occ_ptrack(out, root, root, OccPTrackConfig())
    return root, out, meta


def test_build_on_the_tiny_world(built):
    root, out, meta = built
    assert meta["format"] == "kprtrack-occ-ptrack"
    recs = {s: json.loads((out / f"{s}.json").read_text())["records"] for s in ("train", "query", "gallery")}
    assert meta["counts"]["train"]["images"] == len(recs["train"]) > 0
    for items in recs.values():
        per_id: dict[int, int] = {}
        for r in items:
            per_id[r["person_id"]] = per_id.get(r["person_id"], 0) + 1
        assert max(per_id.values()) <= 20
    train_ids = {r["person_id"] for r in recs["train"]}
    test_ids = {r["person_id"] for r in recs["query"] + recs["gallery"]}
    assert not train_ids & test_ids  # train and val identities are disjoint in the world
    assert sorted({r["pid"] for r in recs["train"]}) == list(range(len(train_ids)))
    # every test identity with >= 5 samples has floor(20 %) queries, the most occluded ones
    for pid in test_ids:
        q = [r for r in recs["query"] if r["person_id"] == pid]
        g = [r for r in recs["gallery"] if r["person_id"] == pid]
        assert len(q) == int(0.2 * (len(q) + len(g)))
        if q:
            assert min(r["mpol"] for r in q) >= max(r["mpol"] for r in g)
    assert sum(r["mpol"] > 0 for r in recs["query"]) == meta["counts"]["query"]["multi_person"] > 0


def test_built_crops_keypoints_and_target_only_parsing(built):
    from kprtrack.synth.dataset import SynthSequence

    root, out, _ = built
    records = json.loads((out / "query.json").read_text())["records"]
    for r in records[:10]:
        img = cv2.imread(str(out / r["image"]))
        parsing = cv2.imread(str(out / r["parsing"]), cv2.IMREAD_UNCHANGED)
        l, t, rr, b = r["crop_box"]
        assert img.shape[:2] == parsing.shape == (b - t, rr - l)
        kps = np.array(r["keypoints"])
        vis = kps[:, 2] > 0
        assert (kps[vis, 0] < rr - l).all() and (kps[vis, 1] < b - t).all() and (kps[vis, :2] >= 0).all()
        seq = SynthSequence(root, "val", r["video"])
        inst = seq.instances(r["frame"])[t:b, l:rr]
        # parsing labels exist exactly on the target's visible pixels
        assert ((parsing > 0) == (inst == r["track_id"] + 1)).all()
        for neg in np.array(r["negatives"]).reshape(-1, 17, 3):
            on = neg[:, 2] > 0
            assert on.any() and (neg[on, 0] < rr - l).all() and (neg[on, 1] < b - t).all()


def test_build_without_masks_has_no_parsing(tmp_path_factory):
    root = generated(tmp_path_factory, "tiny", write_video=False, write_masks=False)
    out = tmp_path_factory.mktemp("occ_nomask")
    build_occ_ptrack(out, root, None, OccPTrackConfig())
    records = json.loads((out / "train.json").read_text())["records"]
    assert records and all(r["parsing"] is None for r in records)
    assert not (out / "query.json").exists()
