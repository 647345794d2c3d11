"""Detector training: data and targets, augmentation geometry, a smoke run, resume, AP on hand-made cases."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kprtrack.checkpoints import load_checkpoint
from kprtrack.config import ConfigError
from kprtrack.detect import YOLOXDetector
from kprtrack.detect.evaluate import (
    average_precision,
    box_iou,
    evaluate_detections,
    evaluate_detector,
    fraction_inside,
    ignore_mask,
    precision_recall_at,
)
from kprtrack.detect.preprocess import letterbox
from kprtrack.detect.training import (
    DetectionDataset,
    DetectorTrainConfig,
    DetectorTrainer,
    boxes_to_targets,
    config_from_yaml,
    load_frames,
    random_letterbox,
)
from kprtrack.synth.dataset import SynthDataset
from tests.conftest import REPO
from tests.training_helpers import assert_same_weights, read_log, straight_and_resumed

SIZE = (64, 96)
SHIPPED = REPO / "weights" / "yolox_nano_synth_192x320.pth"


def _small_cfg(root, out, **kw) -> DetectorTrainConfig:
    base = dict(
        data=str(root),
        out_dir=str(out),
        frame_stride=8,
        width=0.125,
        depthwise=False,
        input_size=SIZE,
        epochs=2,
        batch_size=4,
        log_every=2,
    )
    base.update(kw)
    return DetectorTrainConfig(**base)


def test_config_overrides_and_errors(tmp_path):
    cfg = config_from_yaml(None, ["epochs=7", "input_size=[96, 160]"])
    assert cfg.epochs == 7 and cfg.input_size == (96, 160)
    with pytest.raises(ConfigError, match="epoch"):
        config_from_yaml(None, ["epoch=3"])
    with pytest.raises(ConfigError, match="input_size"):
        config_from_yaml(None, ["input_size=[100, 160]"])
    with pytest.raises(ConfigError, match="box"):
        config_from_yaml(None, ["box=mask"])


def test_frames_hold_the_ground_truth_boxes(tiny):
    frames = load_frames(tiny, "train")
    seqs = SynthDataset(tiny).sequences("train")
    assert len(frames) == sum(seq.is_labeled(t) for seq in seqs for t in range(len(seq)))
    seq = seqs[0]
    t = next(t for t in range(len(seq)) if seq.is_labeled(t))
    want = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in seq.annotations(t))], np.float32)
    first = next(f for f in frames if f.path == seq.image_path(t))
    np.testing.assert_allclose(first.boxes, want)
    assert len(load_frames(tiny, "train", frame_stride=8)) < len(frames) / 4
    vis = next(f for f in load_frames(tiny, "train", box="bbox_visible") if f.path == seq.image_path(t))
    assert np.all(vis.boxes[:, 2] - vis.boxes[:, 0] <= first.boxes[:, 2] - first.boxes[:, 0] + 1e-3)


def test_plain_items_are_the_inference_letterbox(tiny):
    cfg = _small_cfg(tiny, "unused", input_size=(96, 160))
    frames = load_frames(tiny, "train")
    ds = DetectionDataset(frames, cfg)
    ds.set_epoch(0, augment=False)
    canvas, targets = ds[3]
    image = cv2.imread(str(frames[3].path))
    ref, info = letterbox(image, (96, 160), "megvii")
    np.testing.assert_array_equal(canvas, ref)
    b = frames[3].boxes * info.ratio
    want = np.concatenate([np.zeros((len(b), 1)), (b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1)
    n = len(want)
    np.testing.assert_allclose(targets[:n], want, atol=1e-4)
    assert not targets[n:].any()


def test_augmentation_geometry_follows_the_boxes():
    rng = np.random.default_rng(0)
    image = np.full((180, 320, 3), 60, np.uint8)
    image[40:140, 100:150] = (0, 0, 255)
    box = np.array([[100, 40, 150, 140]], np.float32)
    # no scale / shift: same pixels and boxes as the inference letterbox
    canvas, boxes = random_letterbox(image, box, (96, 160), rng, (1.0, 1.0), 0.0, 0.0)
    ref, info = letterbox(image, (96, 160), "megvii")
    assert np.abs(canvas.astype(int) - ref.astype(int)).max() <= 1
    np.testing.assert_allclose(boxes, box * info.ratio, atol=1e-4)
    # flip: mirrored canvas and boxes
    flipped, fboxes = random_letterbox(image, box, (96, 160), rng, (1.0, 1.0), 0.0, 1.0)
    np.testing.assert_array_equal(flipped, canvas[:, ::-1])
    np.testing.assert_allclose(fboxes, [[160 - 75, 20, 160 - 50, 70]], atol=1e-4)
    # random scale / shift: the red block stays inside its transformed box
    for _ in range(5):
        canvas, boxes = random_letterbox(image, box, (96, 160), rng, (0.7, 1.3), 0.1, 0.5)
        red = (canvas[..., 2] > 200) & (canvas[..., 0] < 50)
        ys, xs = np.nonzero(red)
        x1, y1, x2, y2 = boxes[0]
        assert xs.min() >= x1 - 1 and xs.max() <= x2 and ys.min() >= y1 - 1 and ys.max() <= y2


def test_boxes_to_targets_clips_and_drops():
    boxes = np.array(
        [
            [10, 10, 30, 50],  # inside
            [-10, 10, 10, 50],  # half outside: clipped, kept
            [-30, 10, 2, 50],  # mostly outside: dropped (keeps < 25 %)
            [40, 40, 41.5, 60],  # too thin: dropped
        ],
        np.float32,
    )
    t = boxes_to_targets(boxes, (64, 96), max_labels=5, min_size=2.0, min_kept=0.25)
    np.testing.assert_allclose(t[0], [0, 20, 30, 20, 40])
    np.testing.assert_allclose(t[1], [0, 5, 30, 10, 40])
    assert not t[2:].any()
    assert boxes_to_targets(np.tile(boxes[:1], (9, 1)), (64, 96), 4, 2.0, 0.25).shape == (4, 5)


def test_smoke_training_writes_a_loadable_detector(tiny, tmp_path):
    cfg = _small_cfg(tiny, tmp_path / "run", epochs=1, no_aug_epochs=0)
    path = DetectorTrainer(cfg).run(progress=False)
    assert path.name == "detector.pth"
    ckpt = load_checkpoint(path)
    assert "optimizer" not in ckpt and "train_state" not in ckpt
    assert ckpt["meta"]["input_size"] == list(SIZE) and ckpt["arch"]["num_classes"] == 1
    assert "optimizer" in load_checkpoint(tmp_path / "run" / "last.pth")
    rows = read_log(tmp_path / "run" / "log.csv")
    assert rows and all(np.isfinite(float(r["total_loss"])) for r in rows)
    det = YOLOXDetector.from_checkpoint(path, input_size=SIZE, conf_threshold=0.001)
    frame = SynthDataset(tiny).sequences("val")[0].frame(0)
    boxes, scores = det.detect([frame])[0]
    assert boxes.shape[1] == 4 and boxes.dtype == np.float32 and len(scores) == len(boxes)


def test_resume_continues_where_it_stopped(tiny, tmp_path):
    straight, second = straight_and_resumed(lambda out: DetectorTrainer(_small_cfg(tiny, out)), tmp_path)
    assert_same_weights(straight.step.model, second.step.model)
    assert_same_weights(straight.step.ema.ema, second.step.ema.ema)
    with pytest.raises(ValueError, match="width"):
        DetectorTrainer(_small_cfg(tiny, tmp_path / "b", width=0.25)).run(progress=False)


# -- evaluation -----------------------------------------------------------------------------------


def test_box_iou_and_ignore_fraction():
    np.testing.assert_allclose(box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]]), [[1 / 3, 0]])
    mask = ignore_mask((20, 40), [np.array([[0, 0], [20, 0], [20, 20], [0, 20]])])
    np.testing.assert_allclose(fraction_inside(np.array([[10, 0, 30, 10], [30, 0, 40, 10]]), mask), [0.5, 0], atol=0.06)
    assert ignore_mask((20, 40), []) is None


def test_average_precision_by_hand():
    # 2 gts; detections by score: TP, FP, TP -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    ap, rec = average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2)
    want = (51 * 1.0 + 50 * (2 / 3)) / 101
    assert ap == pytest.approx(want) and rec == 1.0
    assert average_precision(np.array([]), np.array([], bool), 3) == (0.0, 0.0)


def test_evaluate_detections_by_hand():
    gt = [np.array([[0, 0, 10, 20], [30, 0, 40, 20]], np.float32)]
    perfect = [(gt[0].copy(), np.array([0.9, 0.8]))]
    m = evaluate_detections(perfect, gt)
    assert m.ap50 == pytest.approx(1.0) and m.ap == pytest.approx(1.0) and m.recall50 == 1.0
    # a box with IoU 0.6 is a hit up to the 0.6 threshold and a miss from 0.65 on
    shifted = np.array([[0, 0, 10, 20], [30, 0, 40, 12]], np.float32)  # IoU of the second = 0.6
    m = evaluate_detections([(shifted, np.array([0.9, 0.8]))], gt)
    assert m.ap50 == pytest.approx(1.0) and m.ap75 == pytest.approx((51 * 1.0) / 101)
    assert m.ap == pytest.approx((3 * 1.0 + 7 * 51 / 101) / 10)
    # a duplicate is a false positive; a detection in an ignore region is not counted
    dup = np.array([[0, 0, 10, 20], [0, 0, 10, 20], [60, 0, 70, 20]], np.float32)
    mask = np.zeros((40, 80), bool)
    mask[:, 55:] = True
    m_dup = evaluate_detections([(dup, np.array([0.9, 0.95, 0.99]))], gt, [mask])
    assert m_dup.num_dets == 3 and m_dup.recall50 == 0.5
    # ranking: TP (0.95) then FP duplicate (0.9); the 0.99 box is ignored
    assert m_dup.ap50 == pytest.approx(51 / 101)
    m_no_ignore = evaluate_detections([(dup, np.array([0.9, 0.95, 0.99]))], gt)
    assert m_no_ignore.ap50 < m_dup.ap50
    with pytest.raises(ValueError, match="one entry per image"):
        evaluate_detections(perfect, gt + gt)


def test_precision_recall_at_score_cut_offs():
    gt = [np.array([[0, 0, 10, 20], [30, 0, 40, 20]], np.float32), np.array([[0, 0, 10, 10]], np.float32)]
    dets = [
        (np.array([[0, 0, 10, 20], [50, 0, 60, 20]], np.float32), np.array([0.9, 0.6])),  # TP, FP
        (np.array([[0, 0, 10, 10]], np.float32), np.array([0.3])),  # TP
    ]
    cuts = precision_recall_at(dets, gt, [0.5, 0.2, 0.95])
    assert cuts[0] == {"score": 0.5, "precision": 0.5, "recall": 1 / 3, "tp": 1, "fp": 1}
    assert cuts[1]["precision"] == pytest.approx(2 / 3) and cuts[1]["recall"] == pytest.approx(2 / 3)
    assert cuts[2]["tp"] == cuts[2]["fp"] == 0 and cuts[2]["precision"] == 0.0


class _OracleDetector:
    """Returns the ground-truth boxes of the frames it is shown (looked up by the frame's bytes)."""

    def __init__(self, root, split):
        self.lookup = {}
        for seq in SynthDataset(root).sequences(split):
            for t in range(len(seq)):
                rows = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in seq.annotations(t))]
                self.lookup[seq.frame(t).tobytes()] = np.asarray(rows, np.float32).reshape(-1, 4)

    def detect(self, frames):
        out = []
        for f in frames:
            b = self.lookup[f.tobytes()]
            out.append((b, np.linspace(1, 0.5, len(b)).astype(np.float32)))
        return out


def test_evaluate_detector_on_the_ground_truth_is_perfect(tiny):
    metrics, fps = evaluate_detector(_OracleDetector(tiny, "val"), tiny, "val", progress=False)
    assert metrics.ap50 == pytest.approx(1.0) and metrics.ap == pytest.approx(1.0) and fps > 0
    assert metrics.num_gt == metrics.num_dets > 0


def test_shipped_detector_finds_the_people_of_a_synthetic_clip(tiny):
    """The shipped file loads unchanged and detects the tiny preset's people (320x180 frames, scale 1)."""
    det = YOLOXDetector.from_checkpoint(SHIPPED, input_size=(192, 320))
    assert det.num_classes == 1 and det.config.conf_threshold == 0.1 and det.config.nms_threshold == 0.45
    metrics, _ = evaluate_detector(det, tiny, "val", frame_stride=4, progress=False)
    assert metrics.ap50 > 0.6, metrics.as_dict()
