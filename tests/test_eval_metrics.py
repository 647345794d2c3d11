"""Behaviour of the evaluation on small synthetic sequences."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.eval.evaluate import evaluate_folders
from kprtrack.eval.kit_view import kit_view
from kprtrack.eval.loading import load_sequence
from kprtrack.eval.options import EvalOptions
from tests.eval_data import gt_doc, pred_doc, two_people, write_case

SEQ = "000001_mpii_test.json"


def _run(tmp_path, gt, pred, **options):
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred} if pred is not None else {})
    return evaluate_folders(gdir, pdir, EvalOptions(**options))


def test_perfect_prediction_scores_100(tmp_path) -> None:
    frames = two_people()
    gt = gt_doc(1, frames)
    result = _run(tmp_path, gt, pred_doc(gt, frames))
    for row in (result.sequences[SEQ], result.combined):
        s = row.hota.summary()
        for k in ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "FragA", "RHOTA", "FA-HOTA"):
            assert s[k] == pytest.approx(1.0), k
        assert s["HOTA_FN"] == 0 and s["HOTA_FP"] == 0 and s["HOTA_TP"] == 6 * 2 * 15
        clear = row.clear("posetrack21")
        assert (clear["MOTA"], clear["precision"], clear["recall"], clear["IDSW"]) == (1.0, 1.0, 1.0, 0)
        assert row.boxes["HOTA"] == pytest.approx(1.0)
        assert (row.boxes["MOTA"], row.boxes["IDF1"], row.boxes["IDSW"]) == (1.0, 1.0, 0)
    assert result.sequences[SEQ].count == {"Dets": 12, "GT_Dets": 12, "IDs": 2, "GT_IDs": 2, "Frames": 6}


def test_identity_swap_lowers_assa_but_not_deta(tmp_path) -> None:
    frames = two_people(8)
    swapped = [[(3 - tid, x, y) for tid, x, y in people] if t >= 4 else people for t, people in enumerate(frames)]
    gt = gt_doc(1, frames)
    result = _run(tmp_path, gt, pred_doc(gt, swapped))
    s = result.combined.hota.summary()
    assert s["DetA"] == pytest.approx(1.0)
    assert s["AssA"] < 0.99
    assert s["HOTA"] == pytest.approx(np.sqrt(s["AssA"]))
    clear = result.combined.clear("posetrack21")
    assert clear["IDSW"] == 2 * 15  # two GT tracks switch once, on every joint
    assert result.combined.boxes["IDSW"] == 2
    assert result.combined.boxes["DetA"] == pytest.approx(1.0) and result.combined.boxes["AssA"] < 0.99


def test_labelled_frame_without_predictions_kit_rule_and_frame_option(tmp_path) -> None:
    frames = two_people(6)
    pred_frames = [people if t != 2 else [] for t, people in enumerate(frames)]
    gt = gt_doc(1, frames)
    kit = _run(tmp_path / "a", gt, pred_doc(gt, pred_frames))
    own = _run(tmp_path / "b", gt, pred_doc(gt, pred_frames), missing_frame_fn="frame")
    # kit: the whole sequence's 6 x 2 x 15 GT joints; option: only that frame's 2 x 15
    np.testing.assert_array_equal(kit.combined.hota.arrays["HOTA_FN"][:, -1], 180)
    np.testing.assert_array_equal(own.combined.hota.arrays["HOTA_FN"][:, -1], 30)
    assert own.combined.hota.summary()["DetA"] == pytest.approx(150 / 180)
    np.testing.assert_array_equal(kit.combined.hota.arrays["HOTA_TP"], own.combined.hota.arrays["HOTA_TP"])


def test_missing_sequence_scored_empty_with_allow_missing(tmp_path) -> None:
    gt = gt_doc(1, two_people(4))
    result = _run(tmp_path, gt, None, allow_missing=True)
    row = result.sequences[SEQ]
    assert result.missing == [SEQ]
    np.testing.assert_array_equal(row.hota.arrays["HOTA_FN"][:, :15], 4 * 2)  # the kit's early return
    np.testing.assert_array_equal(row.hota.arrays["LocA"], 1.0)
    assert row.hota.summary()["HOTA"] == 0.0
    assert row.count["Dets"] == 0 and row.count["GT_Dets"] == 8
    assert row.clear("posetrack21")["FN"] == 4 * 2 * 15


def test_joint_exists_iff_both_coordinates_positive(tmp_path) -> None:
    frames = [[(1, 300, 300)]]
    gt = gt_doc(1, frames)
    pred = pred_doc(gt, frames)
    kps = pred["annotations"][0]["keypoints"]
    kps[3 * 9 : 3 * 9 + 2] = [-3, 120]  # left wrist: negative x -> missing
    kps[3 * 10 : 3 * 10 + 2] = [50, 0]  # right wrist: zero y -> missing
    result = _run(tmp_path, gt, pred)
    fn = result.combined.hota.arrays["HOTA_FN"][0]
    assert fn[7] == 1 and fn[8] == 1 and fn[-1] == 2  # kit columns LW, RW
    assert result.combined.hota.arrays["HOTA_FP"][0, -1] == 0


def test_ignore_region_strict_interior(tmp_path) -> None:
    # left wrist of the person at (300, 300) is at (260, 330); GT and prediction identical
    on_edge = ([[260, 280, 280, 260]], [[320, 320, 340, 340]])  # square with the wrist on its left edge
    inside = ([[250, 280, 280, 250]], [[320, 320, 340, 340]])
    for regions, valid in ((on_edge, True), (inside, False)):
        gt = gt_doc(1, [[(1, 300, 300)]], regions={0: regions})
        gdir, pdir = write_case(tmp_path / str(valid), {SEQ: gt}, {SEQ: pred_doc(gt, [[(1, 300, 300)]])})
        view = kit_view(load_sequence(gdir / SEQ, pdir / SEQ))
        assert view.frames[0].gt_valid[0, 7] == valid
        assert view.frames[0].pr_valid[0, 7] == valid
        assert view.frames[0].gt_valid[0, [0, 1, 2, 8]].all()


def test_person_entirely_inside_region_is_dropped(tmp_path) -> None:
    region = ([[700, 1000, 1000, 700]], [[100, 100, 600, 600]])
    frames = [[(1, 300, 300)]] * 3
    gt = gt_doc(1, frames, regions={1: region})
    pred_frames = [[(1, 300, 300), (9, 850, 300)]] * 3  # a false positive; inside the region in frame 1
    result = _run(tmp_path, gt, pred_doc(gt, pred_frames))
    assert result.sequences[SEQ].count["Dets"] == 5
    assert result.combined.hota.arrays["HOTA_FP"][0, -1] == 2 * 15
    assert result.combined.boxes["FP"] == 2  # the kit's MOT rule drops the unmatched box in the region too


def test_box_metrics_need_boxes(tmp_path) -> None:
    frames = two_people(3)
    gt = gt_doc(1, frames)
    pred = pred_doc(gt, frames)
    for ann in pred["annotations"]:
        del ann["bbox"]
    result = _run(tmp_path, gt, pred)
    assert result.combined.boxes is None and "bbox" in result.box_note
    assert result.to_json()["combined"]["boxes"] is None


def test_unlabelled_frames_are_ignored(tmp_path) -> None:
    frames = two_people(6)
    gt = gt_doc(1, frames, labeled=[True, False, True, False, True, False])
    garbage = [people if t % 2 == 0 else [(7, 900, 500)] for t, people in enumerate(frames)]
    result = _run(tmp_path, gt, pred_doc(gt, garbage))
    assert result.combined.hota.summary()["HOTA"] == pytest.approx(1.0)
    assert result.sequences[SEQ].count["Frames"] == 3
    assert result.combined.boxes["HOTA"] == pytest.approx(1.0)


def test_poseval_protocol_quirks(tmp_path) -> None:
    frames = two_people(5)
    gt = gt_doc(1, frames, labeled=[True, True, False, True, True])
    pred_frames = [people if t != 1 else [] for t, people in enumerate(frames)]
    result = _run(tmp_path, gt, pred_doc(gt, pred_frames), clear_protocol="poseval")
    clear = result.combined.clear("poseval")
    # last frame dropped; frame 1 (no prediction) becomes one unmatchable object + hypothesis per joint
    assert clear["GT"] == (3 * 2 + 1) * 15
    assert (clear["FN"], clear["FP"]) == (15, 15)
    default = _run(tmp_path / "d", gt, pred_doc(gt, pred_frames)).combined.clear("posetrack21")
    assert (default["GT"], default["FN"], default["FP"]) == (4 * 2 * 15, 2 * 15, 0)


def test_alpha_curve_png(tmp_path) -> None:
    import cv2

    from kprtrack.eval.plot import save_alpha_curve

    frames = two_people(3)
    gt = gt_doc(1, frames)
    result = _run(tmp_path, gt, pred_doc(gt, frames, shift=8.0))
    path = tmp_path / "curve.png"
    save_alpha_curve(result.combined.hota, path)
    image = cv2.imread(str(path))
    assert image is not None and image.shape == (520, 820, 3)
    assert (image != 255).any(axis=2).mean() > 0.02  # something was drawn


def test_large_track_ids_are_fine(tmp_path) -> None:
    frames = two_people(3)
    gt = gt_doc(1, frames)
    big = [[(tid * 2**40, x, y) for tid, x, y in people] for people in frames]  # the kit would allocate TiBs
    result = _run(tmp_path, gt, pred_doc(gt, big))
    assert result.combined.hota.summary()["HOTA"] == pytest.approx(1.0)
    assert result.combined.count["IDs"] == 2


def test_fragments_and_association_hand_computed(tmp_path) -> None:
    # one GT track over 4 frames, predicted ids 5, 5, 6, 5: fragments (5: 2 frames), (6: 1), (5: 1)
    frames = [[(1, 300, 300)]] * 4
    gt = gt_doc(1, frames)
    pred = pred_doc(gt, [[(tid, 300, 300)] for tid in (5, 5, 6, 5)])
    s = _run(tmp_path, gt, pred).sequences[SEQ].hota.summary()
    # pair (1, 5): 3 matches, denominator 4 + 3 - 3; pair (1, 6): 1 match, denominator 4 + 1 - 1; TP = 4
    assert s["AssA"] == pytest.approx((9 / 4 + 1 / 4) / 4)
    assert s["FragA"] == pytest.approx((2**2 / 4 + 1**2 / 4 + 1**2 / 4) / 4)
    assert s["AssRe"] == pytest.approx((9 / 4 + 1 / 4) / 4)
    assert s["AssPr"] == pytest.approx((9 / 3 + 1 / 1) / 4)
    assert s["DetA"] == 1.0
    assert s["FA-HOTA"] == pytest.approx(np.sqrt(np.sqrt(s["AssA"] * s["FragA"])))
