"""Malformed inputs give one clear error naming the file, the record and the field."""

from __future__ import annotations

import copy
import json
import math

import pytest

from kprtrack.eval.evaluate import evaluate_folders
from kprtrack.eval.loading import EvalInputError
from kprtrack.eval.options import EvalOptions
from kprtrack.io.posetrack21 import PoseTrackFormatError
from tests.eval_data import gt_doc, pred_doc, two_people, write_case

SEQ = "000001_mpii_test.json"


def _docs() -> tuple[dict, dict]:
    gt = gt_doc(1, two_people(4))
    return gt, pred_doc(gt, two_people(4))


def _fails(tmp_path, gt: dict, pred: dict, error=PoseTrackFormatError, **options) -> str:
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred})
    with pytest.raises(error) as info:
        evaluate_folders(gdir, pdir, EvalOptions(**options))
    return str(info.value)


def _error(tmp_path, side: str, mutate) -> str:
    """The error once ``mutate`` changed the ``side`` (``gt`` or ``pred``) document; it must name that file."""
    docs = dict(zip(("gt", "pred"), _docs()))
    mutate(docs[side])
    message = _fails(tmp_path, docs["gt"], docs["pred"])
    assert f"{side}/{SEQ}" in message
    return message


def _gt_error(tmp_path, mutate) -> str:
    return _error(tmp_path, "gt", mutate)


def _pred_error(tmp_path, mutate) -> str:
    return _error(tmp_path, "pred", mutate)


# ----------------------------------------------------------------------------- folders and sequences
def test_missing_prediction_file(tmp_path) -> None:
    gdir, pdir = write_case(tmp_path, {SEQ: _docs()[0], "000002_mpii_test.json": gt_doc(2, two_people(2))}, {})
    with pytest.raises(
        EvalInputError, match=r"2 prediction file\(s\) missing .*000001_mpii_test.json.*--allow-missing"
    ):
        evaluate_folders(gdir, pdir)


def test_missing_folders_and_empty_gt(tmp_path) -> None:
    with pytest.raises(EvalInputError, match="ground-truth folder not found"):
        evaluate_folders(tmp_path / "nope", tmp_path)
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "README").write_text("not a sequence")
    with pytest.raises(EvalInputError, match=r"no ground-truth sequence \(\*.json\)"):
        evaluate_folders(tmp_path / "gt", tmp_path)


def test_unknown_sequence_selected(tmp_path) -> None:
    gt, pred = _docs()
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred})
    with pytest.raises(EvalInputError, match="'000009_mpii_test' is not in"):
        evaluate_folders(gdir, pdir, EvalOptions(sequences=("000009_mpii_test",)))
    assert list(evaluate_folders(gdir, pdir, EvalOptions(sequences=("000001_mpii_test",))).sequences) == [SEQ]


def test_non_json_files_are_skipped_but_invalid_json_is_an_error(tmp_path) -> None:
    gt, pred = _docs()
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred})
    (gdir / ".DS_Store").write_bytes(b"\x00\x01")
    assert list(evaluate_folders(gdir, pdir).sequences) == [SEQ]
    (pdir / SEQ).write_text('{"images": [')
    with pytest.raises(PoseTrackFormatError, match="not valid JSON"):
        evaluate_folders(gdir, pdir)


# ----------------------------------------------------------------------------- image alignment
def test_prediction_misses_an_image(tmp_path) -> None:
    message = _pred_error(tmp_path, lambda p: p["images"].pop(2))
    assert "prediction has 3 images, ground truth has 4; missing image ids: 10000010002" in message


def test_prediction_images_out_of_order(tmp_path) -> None:
    def swap(p):
        p["images"][1], p["images"][2] = p["images"][2], p["images"][1]

    message = _pred_error(tmp_path, swap)
    assert "image id 10000010002 at position 1, the ground truth has 10000010001 there" in message


def test_prediction_image_not_in_ground_truth(tmp_path) -> None:
    message = _pred_error(tmp_path, lambda p: p["images"].append({"id": 123}))
    assert "images[4].id: unknown image id 123 (not in the ground truth)" in message


def test_duplicate_prediction_image_entries_are_collapsed(tmp_path) -> None:
    gt, pred = _docs()
    pred["images"].insert(1, dict(pred["images"][0]))
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred})
    assert evaluate_folders(gdir, pdir).combined.hota.summary()["HOTA"] == pytest.approx(1.0)


def test_annotation_with_unknown_image_id(tmp_path) -> None:
    message = _pred_error(tmp_path, lambda p: p["annotations"][3].update(image_id=42))
    assert "annotations[3].image_id: unknown image id 42" in message


def test_prediction_without_images(tmp_path) -> None:
    assert "missing top-level key 'images'" in _pred_error(tmp_path, lambda p: p.pop("images"))


def test_duplicate_gt_image_id(tmp_path) -> None:
    message = _gt_error(tmp_path, lambda g: g["images"][2].update(id=g["images"][1]["id"]))
    assert "images[2].id: duplicate image id (also images[1])" in message


# ----------------------------------------------------------------------------- annotation values
def test_nan_keypoint(tmp_path) -> None:
    message = _pred_error(tmp_path, lambda p: p["annotations"][5]["keypoints"].__setitem__(7, math.nan))
    assert "annotations[5].keypoints: contains NaN or inf" in message


def test_nan_in_gt_head_box(tmp_path) -> None:
    message = _gt_error(tmp_path, lambda g: g["annotations"][1]["bbox_head"].__setitem__(2, math.nan))
    assert "annotations[1].bbox_head: contains NaN or inf" in message


def test_wrong_keypoint_count(tmp_path) -> None:
    message = _pred_error(tmp_path, lambda p: p["annotations"][2].update(keypoints=[1.0] * 45))
    assert "annotations[2].keypoints: expected 51 values (17 joints x 3), got 45" in message
    message = _gt_error(tmp_path / "gt", lambda g: g["annotations"][0]["keypoints"].append(0))
    assert "annotations[0].keypoints: expected 51 values" in message


def test_non_numeric_keypoint(tmp_path) -> None:
    message = _pred_error(tmp_path, lambda p: p["annotations"][0]["keypoints"].__setitem__(0, "12"))
    assert "annotations[0].keypoints: expected numbers, found '12'" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "expected a non-negative integer, got 1.0"),
        ("3", "expected a non-negative integer, got '3'"),
        (-2, "negative track ids are not allowed"),
    ],
)
def test_bad_track_ids(tmp_path, value, expected) -> None:
    message = _pred_error(tmp_path, lambda p: p["annotations"][4].update(track_id=value))
    assert f"annotations[4].track_id: {expected}" in message


def test_duplicate_track_id_in_a_frame(tmp_path) -> None:
    message = _pred_error(tmp_path, lambda p: p["annotations"][1].update(track_id=p["annotations"][0]["track_id"]))
    assert "annotations[1].track_id: track_id 1 appears twice in image 10000010000 (also annotations[0])" in message
    message = _gt_error(tmp_path / "gt", lambda g: g["annotations"][3].update(track_id=1))
    assert "annotations[3].track_id: track_id 1 appears twice" in message


def test_missing_field(tmp_path) -> None:
    assert "annotations[2].bbox_head: missing key" in _gt_error(
        tmp_path, lambda g: g["annotations"][2].pop("bbox_head")
    )
    message = _pred_error(tmp_path / "p", lambda p: p["annotations"][0].pop("track_id"))
    assert "annotations[0].track_id: missing key" in message
    message = _gt_error(tmp_path / "g", lambda g: g["images"][0].pop("is_labeled"))
    assert "images[0].is_labeled: missing key" in message


def test_bad_is_labeled(tmp_path) -> None:
    message = _gt_error(tmp_path, lambda g: g["images"][0].update(is_labeled="yes"))
    assert "images[0].is_labeled: expected true/false" in message


# ----------------------------------------------------------------------------- the kit's crash cases
def test_labelled_frame_without_gt(tmp_path) -> None:
    def drop_frame_1(g):
        g["annotations"] = [a for a in g["annotations"] if a["image_id"] != g["images"][1]["id"]]

    message = _gt_error(tmp_path, drop_frame_1)
    assert "images[1].is_labeled: labelled image 10000010001 has no GT person" in message


def test_unlabelled_frame_without_gt_is_fine(tmp_path) -> None:
    gt, pred = _docs()
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] != gt["images"][1]["id"]]
    gt["images"][1]["is_labeled"] = False
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred})
    assert evaluate_folders(gdir, pdir).sequences[SEQ].count["Frames"] == 3


def test_every_gt_person_inside_ignore_regions(tmp_path) -> None:
    region = ([[0, 2000, 2000, 0]], [[0, 0, 2000, 2000]])
    message = _gt_error(
        tmp_path, lambda g: g["images"][2].update(ignore_regions_x=region[0], ignore_regions_y=region[1])
    )
    assert "images[2].ignore_regions_x: every GT person of labelled image 10000010002 lies inside" in message


def test_zero_size_head_box(tmp_path) -> None:
    message = _gt_error(tmp_path, lambda g: g["annotations"][3].update(bbox_head=[10, 10, 0, 0]))
    assert "annotations[3].bbox_head: head box of size 0" in message


def test_polygon_with_fewer_than_three_points(tmp_path) -> None:
    message = _gt_error(tmp_path, lambda g: g["images"][1].update(ignore_regions_x=[[1, 5]], ignore_regions_y=[[1, 5]]))
    assert "images[1].ignore_regions_x[0]: ignore polygon 0 has 2 points, at least 3 are needed" in message


def test_polygon_coordinate_mismatch(tmp_path) -> None:
    def mutate(g):
        g["images"][0].update(ignore_regions_x=[[1, 5, 5]], ignore_regions_y=[[1, 5]])

    assert "images[0].ignore_regions_y[0]: expected 3 values, got 2" in _gt_error(tmp_path, mutate)
    message = _gt_error(tmp_path / "b", lambda g: g["images"][0].update(ignore_regions_x=[[1, 5, 5]]))
    assert "images[0].ignore_regions_y: 1 x-polygons but 0 y-polygons" in message


def test_errors_leave_the_inputs_untouched(tmp_path) -> None:
    gt, pred = _docs()
    bad = copy.deepcopy(pred)
    bad["images"].pop()
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: bad})
    before = sorted(p.name for p in pdir.iterdir())
    with pytest.raises(PoseTrackFormatError):
        evaluate_folders(gdir, pdir)
    assert sorted(p.name for p in pdir.iterdir()) == before  # the kit writes into the prediction folder; we do not
    assert json.loads((pdir / SEQ).read_text()) == bad
