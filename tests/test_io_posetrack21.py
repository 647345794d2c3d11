import copy
import json

import numpy as np
import pytest

from kprtrack.io.posetrack21 import (
    PoseTrackFormatError,
    PoseTrackSequence,
    make_image_id,
    read_ground_truth,
    read_predictions,
    validate_ground_truth,
    validate_predictions,
    write_ground_truth,
    write_predictions,
)
from kprtrack.structures import FrameRecord


def gt_doc(num_frames=3, people=2):
    images, annotations = [], []
    for t in range(num_frames):
        iid = make_image_id(900001, t)
        images.append(
            {
                "id": iid,
                "file_name": f"images/test/900001_synth_test/{t:06d}.jpg",
                "frame_id": iid,
                "vid_id": 900001,
                "nframes": num_frames,
                "is_labeled": True,
                "has_labeled_person": True,
                "ignore_regions_x": [[0, 10, 10]] if t == 0 else [],
                "ignore_regions_y": [[0, 0, 10]] if t == 0 else [],
            }
        )
        for p in range(people):
            kps = []
            for j in range(17):
                kps += [100.0 + 50 * p + j, 50.0 + 10 * j, 0 if j in (3, 4) else 1]
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": iid,
                    "bbox": [90.0 + 50 * p, 40.0, 40.0, 200.0],
                    "bbox_head": [95.0 + 50 * p, 40.0, 20.0, 25.0],
                    "keypoints": kps,
                    "track_id": p,
                    "person_id": 10 + p,
                    "category_id": 1,
                }
            )
    return {"images": images, "annotations": annotations, "categories": []}


def test_image_id_convention():
    assert make_image_id(900101, 7) == 19001010007
    with pytest.raises(ValueError):
        make_image_id(900101, 10_000)


def test_ground_truth_round_trip(tmp_path):
    doc = gt_doc()
    seq = PoseTrackSequence("900001_synth_test.json", doc["images"], doc["annotations"])
    path = tmp_path / seq.name
    write_ground_truth(path, seq)
    back = read_ground_truth(path)
    assert back.images == doc["images"] and back.annotations == doc["annotations"]
    assert back.categories[0]["keypoints"][1] == "head_bottom"
    recs = back.to_records()
    assert len(recs) == 3 and all(len(r) == 2 for r in recs)
    assert recs[1].keypoint_format == "posetrack21" and recs[1].frame_index == 1
    assert np.allclose(recs[0].boxes[0], [90, 40, 130, 240])
    assert list(recs[2].track_ids) == [0, 1]


def test_predictions_round_trip(tmp_path):
    doc = gt_doc()
    gt = PoseTrackSequence("s_test.json", doc["images"], doc["annotations"])
    records = {}
    for rec, img in zip(gt.to_records(), gt.images):
        records[img["id"]] = rec.with_track_ids(rec.track_ids + 5)
    # one untracked row must not be written
    first = gt.images[0]["id"]
    records[first] = records[first].with_track_ids([5, -1])
    path = tmp_path / "pred" / "s_test.json"
    write_predictions(path, gt.images, records)
    pred = read_predictions(path, gt)
    assert pred.image_ids == gt.image_ids
    assert len(pred.annotations) == 5
    ann = pred.annotations[0]
    assert set(ann) >= {"image_id", "keypoints", "scores", "track_id", "bbox"}
    assert len(ann["keypoints"]) == 51 and len(ann["scores"]) == 17 and ann["track_id"] == 5
    assert ann["keypoints"][:3] == doc["annotations"][0]["keypoints"][:3]
    assert ann["bbox"] == [90.0, 40.0, 40.0, 200.0]


def test_predictions_need_posetrack_convention_and_ids():
    doc = gt_doc(1, 1)
    rec = FrameRecord.from_boxes([[0, 0, 1, 1]], [1.0])
    with pytest.raises(ValueError, match="posetrack21"):
        write_predictions("/tmp/unused.json", doc["images"], {doc["images"][0]["id"]: rec.with_track_ids([1])})
    rec = FrameRecord.from_boxes([[0, 0, 1, 1]], [1.0], keypoint_format="posetrack21")
    with pytest.raises(ValueError, match="track_ids"):
        write_predictions("/tmp/unused.json", doc["images"], {doc["images"][0]["id"]: rec})
    with pytest.raises(ValueError, match="unknown image id"):
        write_predictions("/tmp/unused.json", doc["images"], {123: rec.with_track_ids([1])})


def _mutate(doc, where, fn):
    doc = copy.deepcopy(doc)
    fn(doc)
    return doc


GT_CASES = [
    ("missing image key", lambda d: d["images"][1].pop("is_labeled"), "images[1].is_labeled", "missing key"),
    ("missing ann key", lambda d: d["annotations"][2].pop("bbox_head"), "annotations[2].bbox_head", "missing key"),
    ("short keypoints", lambda d: d["annotations"][0].update(keypoints=[1.0] * 50), "annotations[0].keypoints", "51"),
    ("nan keypoint", lambda d: d["annotations"][1]["keypoints"].__setitem__(4, float("nan")), "keypoints", "NaN"),
    ("inf bbox", lambda d: d["annotations"][1]["bbox"].__setitem__(0, float("inf")), "annotations[1].bbox", "NaN"),
    ("unknown image id", lambda d: d["annotations"][3].update(image_id=5), "annotations[3].image_id", "unknown"),
    ("dup image id", lambda d: d["images"][2].update(id=d["images"][0]["id"]), "images[2].id", "duplicate"),
    ("dup annotation id", lambda d: d["annotations"][3].update(id=0), "annotations[3].id", "duplicate"),
    ("float track id", lambda d: d["annotations"][0].update(track_id=1.0), "annotations[0].track_id", "integer"),
    ("negative track id", lambda d: d["annotations"][0].update(track_id=-2), "annotations[0].track_id", "negative"),
    ("dup track in frame", lambda d: d["annotations"][1].update(track_id=0), "annotations[1].track_id", "twice"),
    (
        "bad polygon",
        lambda d: d["images"][0].update(ignore_regions_x=[[0, 1]], ignore_regions_y=[[0, 1]]),
        "images[0]",
        "3",
    ),
    ("uneven polygon", lambda d: d["images"][0].update(ignore_regions_y=[[0, 1]]), "ignore_regions_y[0]", "expected 3"),
    ("no images list", lambda d: d.pop("images"), "", "images"),
]


@pytest.mark.parametrize("name,fn,where,msg", GT_CASES, ids=[c[0] for c in GT_CASES])
def test_ground_truth_validation_errors_name_file_record_field(tmp_path, name, fn, where, msg):
    doc = _mutate(gt_doc(), name, fn)
    path = tmp_path / "seq_test.json"
    path.write_text(json.dumps(doc, allow_nan=True))
    with pytest.raises(PoseTrackFormatError) as err:
        read_ground_truth(path)
    text = str(err.value)
    assert str(path) in text and where in text and msg in text


def pred_doc():
    gt = gt_doc()
    return gt, {
        "images": [{"id": i["id"], "file_name": i["file_name"]} for i in gt["images"]],
        "annotations": [
            {"image_id": a["image_id"], "keypoints": a["keypoints"], "scores": [1.0] * 17, "track_id": a["track_id"]}
            for a in gt["annotations"]
        ],
    }


PRED_CASES = [
    ("missing image", lambda d: d["images"].pop(1), "prediction has 2 images, ground truth has 3"),
    ("reordered", lambda d: d["images"].reverse(), "images[0].id"),
    ("unknown image id", lambda d: d["annotations"][0].update(image_id=7), "annotations[0].image_id"),
    ("wrong kp count", lambda d: d["annotations"][4].update(keypoints=[1.0] * 48), "annotations[4].keypoints"),
    ("nan", lambda d: d["annotations"][2]["keypoints"].__setitem__(0, float("nan")), "annotations[2].keypoints"),
    ("wrong scores", lambda d: d["annotations"][2].update(scores=[1.0]), "annotations[2].scores"),
    ("missing track", lambda d: d["annotations"][5].pop("track_id"), "annotations[5].track_id"),
    ("string track", lambda d: d["annotations"][5].update(track_id="a"), "annotations[5].track_id"),
]


@pytest.mark.parametrize("name,fn,where", PRED_CASES, ids=[c[0] for c in PRED_CASES])
def test_prediction_validation_errors(tmp_path, name, fn, where):
    gt, doc = pred_doc()
    doc = _mutate(doc, name, fn)
    gt_path = tmp_path / "gt" / "s_test.json"
    write_ground_truth(gt_path, PoseTrackSequence("s_test.json", gt["images"], gt["annotations"]))
    path = tmp_path / "s_test.json"
    path.write_text(json.dumps(doc, allow_nan=True))
    with pytest.raises(PoseTrackFormatError) as err:
        read_predictions(path, read_ground_truth(gt_path))
    assert str(path) in str(err.value) and where in str(err.value)


def test_not_json_and_missing_file(tmp_path):
    p = tmp_path / "x_test.json"
    p.write_text("{not json")
    with pytest.raises(PoseTrackFormatError, match="not valid JSON"):
        read_ground_truth(p)
    with pytest.raises(FileNotFoundError):
        read_ground_truth(tmp_path / "missing.json")


def test_validators_accept_fixture_files(fixture_dir):
    root = fixture_dir("posetrack21_eval")
    for gt_path in sorted(root.glob("*/gt/*.json")):
        gt = read_ground_truth(gt_path)
        validate_ground_truth({"images": gt.images, "annotations": gt.annotations}, gt_path)
        pred = read_predictions(gt_path.parent.parent / "pred" / gt_path.name, gt)
        validate_predictions({"images": pred.images, "annotations": pred.annotations})


def test_prediction_writer_streams_same_content(tmp_path):
    doc = gt_doc(4, 3)
    gt = PoseTrackSequence("s_test.json", doc["images"], doc["annotations"])
    records = {img["id"]: rec for img, rec in zip(gt.images, gt.to_records())}
    from kprtrack.io.posetrack21 import PredictionWriter

    writer = PredictionWriter(tmp_path / "a.json", gt.images)
    for image_id, rec in records.items():
        writer.add(image_id, rec)
    writer.close()
    write_predictions(tmp_path / "b.json", gt.images, records)
    assert json.loads((tmp_path / "a.json").read_text()) == json.loads((tmp_path / "b.json").read_text())
    assert writer.num_annotations == 12
    with pytest.raises(ValueError, match="unknown image id"):
        writer.add(1, records[gt.images[0]["id"]])
