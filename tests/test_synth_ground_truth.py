"""Ground truth of the synthetic world: PoseTrack21 validity, official-kit preconditions, ignore regions.

The official PoseTrack21 kit's expectations are those listed in
``shared/fixtures/posetrack21_eval/README.md`` (facts 1-11 and 27); each is checked here on
generated ground truth, so the kit can evaluate the data (GT against itself gives HOTA 1).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kprtrack.io.posetrack21 import make_image_id, read_ground_truth, validate_ground_truth
from kprtrack.synth.dataset import SynthDataset
from tests.synth_data import tiny_with_crowd

KIT_JOINTS = [0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]  # the kit drops the ears


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_with_crowd(tmp_path_factory)


def _strictly_inside(x: float, y: float, xs: list[float], ys: list[float]) -> bool:
    """Even-odd test; points on an edge count as outside (like shapely's ``contains``)."""
    n = len(xs)
    for i in range(n):
        x1, y1, x2, y2 = xs[i], ys[i], xs[(i + 1) % n], ys[(i + 1) % n]
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if abs(cross) < 1e-9 and min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            return False
    inside = False
    for i in range(n):
        x1, y1, x2, y2 = xs[i], ys[i], xs[(i + 1) % n], ys[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def test_ground_truth_passes_the_project_validator(root):
    files = sorted((root / "posetrack_data").glob("*/*.json"))
    assert len(files) == 4
    for f in files:
        validate_ground_truth(json.loads(f.read_text()), f)
        seq = read_ground_truth(f)
        assert seq.annotations, f"{f.name} has no annotation"


def test_sequence_names_follow_posetrack21(root):
    ds = SynthDataset(root)
    assert ds.splits == ["train", "val"]
    assert all(n.endswith("_synth_train") for n in ds.sequence_names("train"))
    # the kit only picks up prediction files whose name contains "_test"
    assert all("_test" in n for n in ds.sequence_names("val"))


def test_official_kit_preconditions(root):
    for split_dir in sorted((root / "posetrack_data").iterdir()):
        # fact 1: the GT folder holds only JSON files
        assert all(p.suffix == ".json" and p.is_file() for p in split_dir.iterdir())
        for f in sorted(split_dir.glob("*.json")):
            data = json.loads(f.read_text())
            images, anns = data["images"], data["annotations"]
            vid = int(images[0]["vid_id"])
            by_image: dict[int, list[dict]] = {img["id"]: [] for img in images}
            for a in anns:
                by_image[a["image_id"]].append(a)
            labeled = 0
            for t, img in enumerate(images):
                # fact 4: fields read by the kit; PoseTrack image id convention
                for key in ("id", "is_labeled", "ignore_regions_x", "ignore_regions_y"):
                    assert key in img
                assert img["id"] == make_image_id(vid, t)
                assert img["nframes"] == len(images)
                regions = list(zip(img["ignore_regions_x"], img["ignore_regions_y"]))
                # fact 8: polygons need at least 3 points
                assert all(len(xs) >= 3 and len(xs) == len(ys) for xs, ys in regions)
                frame_anns = by_image[img["id"]]
                if not img["is_labeled"]:
                    assert not frame_anns, "annotations only on labelled frames"
                    continue
                labeled += 1
                assert img["has_labeled_person"] is True
                # facts 9-10: every labelled frame keeps at least one GT person after ignore regions
                survivors = 0
                track_ids = []
                for a in frame_anns:
                    for key in ("image_id", "keypoints", "track_id", "bbox_head"):
                        assert key in a
                    kp = np.asarray(a["keypoints"], float).reshape(17, 3)  # fact 4: 51 values
                    assert np.all(kp[[3, 4]] == 0), "ears are 0,0,0 in GT"
                    # fact 11: head size > 0
                    assert 0.6 * math.hypot(a["bbox_head"][2], a["bbox_head"][3]) > 0
                    # fact 27: non-negative moderate integer track ids, unique per frame
                    assert isinstance(a["track_id"], int) and 0 <= a["track_id"] < 10_000
                    track_ids.append(a["track_id"])
                    pts = kp[KIT_JOINTS]
                    present = (pts[:, 0] > 0) & (pts[:, 1] > 0)
                    kept = [
                        j
                        for j in np.flatnonzero(present)
                        if not any(_strictly_inside(pts[j, 0], pts[j, 1], xs, ys) for xs, ys in regions)
                    ]
                    survivors += bool(kept)
                assert len(track_ids) == len(set(track_ids))
                assert survivors >= 1, f"{f.name} frame {t}: no GT person survives the ignore regions"
            assert labeled > 0


def test_ignore_regions_contain_no_annotated_person(root):
    ds = SynthDataset(root)
    frames_with_regions = 0
    for split in ds.splits:
        for seq in ds.sequences(split):
            for t in range(len(seq)):
                regions = seq.ignore_regions(t)
                inst = seq.instances(t)
                crowd = inst == 255
                covered = np.zeros_like(crowd)
                for poly in regions:
                    frames_with_regions += 1
                    x1, y1 = np.floor(poly.min(0)).astype(int)
                    x2, y2 = np.ceil(poly.max(0)).astype(int)
                    covered[max(0, y1) : y2, max(0, x1) : x2] = True
                    window = inst[max(0, y1) : y2, max(0, x1) : x2]
                    # no pixel of a scripted (annotated) person inside the region
                    assert set(np.unique(window).tolist()) <= {0, 255}
                    for a in seq.annotations(t):
                        kp = np.asarray(a["keypoints"], float).reshape(17, 3)
                        for x, y, _ in kp[(kp[:, 0] > 0) & (kp[:, 1] > 0)]:
                            assert not _strictly_inside(x, y, poly[:, 0].tolist(), poly[:, 1].tolist())
                # every unannotated crowd pixel is inside an ignore region
                assert not np.any(crowd & ~covered), f"{seq.name} frame {t}: crowd outside the ignore regions"
    assert frames_with_regions > 20


def test_labelling_every_kth_frame(tmp_path_factory):
    from tests.synth_data import generated

    root = generated(tmp_path_factory, "tiny", label_every=3, write_video=False, write_masks=False)
    for f in sorted((root / "posetrack_data").glob("*/*.json")):
        seq = read_ground_truth(f)
        labeled = [t for t, img in enumerate(seq.images) if img["is_labeled"]]
        assert labeled and all(t % 3 == 0 for t in labeled)
        annotated = {a["image_id"] for a in seq.annotations}
        assert annotated == {seq.images[t]["id"] for t in labeled}
