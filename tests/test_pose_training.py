"""Pose training: people and targets, a smoke run, resume, the shipped format, PCKh on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.checkpoints import load_checkpoint
from kprtrack.config import ConfigError
from kprtrack.keypoints import POSETRACK21_NAMES
from kprtrack.pose import HRNetPoseEstimator
from kprtrack.pose.codecs import HeatmapCodec
from kprtrack.pose.evaluate import evaluate_pose, head_sizes, pckh
from kprtrack.pose.training import (
    PoseDataset,
    PoseTrainConfig,
    PoseTrainer,
    config_from_yaml,
    flip_indices,
    labelled_joints,
    load_people,
)
from kprtrack.synth.dataset import SynthDataset
from tests.conftest import REPO
from tests.training_helpers import assert_same_weights, read_log, straight_and_resumed

SHIPPED = REPO / "weights" / "hrnet_w8_synth_128x96.pth"
POSETRACK_FLIP = (0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)


def _small_cfg(root, out, **kw) -> PoseTrainConfig:
    base = dict(
        data=str(root),
        out_dir=str(out),
        frame_stride=10,
        width=2,
        input_size=(32, 64),
        epochs=2,
        batch_size=8,
        log_every=2,
    )
    base.update(kw)
    return PoseTrainConfig(**base)


def test_config_overrides_and_errors():
    cfg = config_from_yaml(None, ["augment.rotate_factor=10", "width=16"])
    assert cfg.augment.rotate_factor == 10.0 and cfg.width == 16 and cfg.augment.flip_prob == 0.5
    with pytest.raises(ConfigError, match="augment"):
        config_from_yaml(None, ["augment.rotation=3"])
    with pytest.raises(ConfigError, match="codec"):
        config_from_yaml(None, ["codec=simcc"])
    with pytest.raises(ConfigError, match="input_size"):
        config_from_yaml(None, ["input_size=[96, 120]"])


def test_model_declares_posetrack21_with_its_flip_pairs():
    assert flip_indices(POSETRACK21_NAMES) == POSETRACK_FLIP  # head_bottom / head_top do not swap
    cfg = PoseTrainConfig().model_config()
    assert cfg.keypoint_format == "posetrack21" and cfg.pipeline.flip_indices == POSETRACK_FLIP
    assert cfg.pipeline.input_size == (96, 128) and cfg.codec.heatmap_size == (24, 32) and cfg.codec.unbiased


def test_people_and_their_labelled_joints(tiny):
    people = load_people(tiny, "train", min_keypoints=1, min_box_size=0)
    seqs = SynthDataset(tiny).sequences("train")
    anns = [a for seq in seqs for t in range(len(seq)) for a in seq.annotations(t)]
    assert len(people) == len(anns)
    kp = np.stack([p.keypoints for p in people])
    assert not kp[:, 3:5, 2].any()  # PoseTrack21 ears are never annotated
    gt = np.stack([np.asarray(a["keypoints"], np.float32).reshape(17, 3) for a in anns])
    present = (gt[..., 0] > 0) & (gt[..., 1] > 0)
    np.testing.assert_array_equal(kp[..., 2] > 0, present)  # occluded joints included
    assert (present & (gt[..., 2] == 0)).any()
    np.testing.assert_array_equal(labelled_joints(gt[0], train_occluded=False), present[0] & (gt[0, :, 2] > 0))
    assert len(load_people(tiny, "train", frame_stride=10)) < len(people) / 5


def test_plain_targets_peak_at_the_keypoints(tiny):
    cfg = PoseTrainConfig(data=str(tiny))
    model_cfg = cfg.model_config()
    people = load_people(tiny, "train")
    sample = PoseDataset(people, model_cfg, augment=None)[5]
    assert sample.crop.shape == (128, 96, 3) and sample.heatmaps.shape == (17, 32, 24)
    lab = people[5].keypoints[:, 2] > 0
    inside = lab & (sample.keypoints[:, 0] >= 0) & (sample.keypoints[:, 0] < 96)
    np.testing.assert_array_equal(sample.weights[~lab], 0)
    assert sample.weights[inside].min() == 1
    with np.errstate(invalid="ignore", divide="ignore"):  # the ears' empty target maps blur to 0 / 0
        decoded, _ = HeatmapCodec(model_cfg.codec).decode(sample.heatmaps[None])
    err = np.linalg.norm(decoded[0] - sample.keypoints, axis=1)[inside]
    assert err.max() < 1.5  # crop pixels (the heatmap is a quarter of the crop)


def test_augmented_samples_are_reproducible(tiny):
    cfg = PoseTrainConfig(data=str(tiny))
    ds = PoseDataset(load_people(tiny, "train"), cfg.model_config(), cfg.augment, seed=3)
    ds.set_epoch(2)
    a, b = ds[4], ds[4]
    np.testing.assert_array_equal(a.crop, b.crop)
    ds.set_epoch(3)
    c = ds[4]
    assert not (np.array_equal(a.crop, c.crop) and a.flipped == c.flipped and a.rotation == c.rotation)


def test_smoke_training_writes_a_loadable_estimator(tiny, tmp_path):
    cfg = _small_cfg(tiny, tmp_path / "run", epochs=1)
    path = PoseTrainer(cfg).run(progress=False)
    assert path.name == "pose.pth"
    ckpt = load_checkpoint(path)
    assert set(ckpt) == {"meta", "state_dict"}
    assert ckpt["meta"]["dataset_meta"]["flip_indices"] == list(POSETRACK_FLIP)
    assert "optimizer" in load_checkpoint(tmp_path / "run" / "last.pth")
    assert all(np.isfinite(float(r["loss"])) for r in read_log(tmp_path / "run" / "log.csv"))
    est = HRNetPoseEstimator.from_checkpoint(path)
    assert est.keypoint_format == "posetrack21" and est.cfg.pipeline.flip_indices == POSETRACK_FLIP
    assert est.cfg.pipeline.input_size == (32, 64) and est.cfg.codec.unbiased
    frame = SynthDataset(tiny).sequences("val")[0].frame(0)
    out = est.estimate(frame, np.array([[10, 10, 60, 120], [100, 20, 150, 170]], np.float32))
    assert out.shape == (2, 17, 3) and np.isfinite(out).all()


def test_resume_continues_where_it_stopped(tiny, tmp_path):
    straight, second = straight_and_resumed(lambda out: PoseTrainer(_small_cfg(tiny, out)), tmp_path)
    assert_same_weights(straight.net, second.net)
    with pytest.raises(ValueError, match="sigma"):
        PoseTrainer(_small_cfg(tiny, tmp_path / "b", sigma=1.5)).run(progress=False)


# -- evaluation -----------------------------------------------------------------------------------


def test_head_size_is_the_kits():
    np.testing.assert_allclose(head_sizes(np.array([[5, 5, 30, 40]])), [0.6 * 50])


def test_pckh_by_hand():
    gt = np.zeros((1, 17, 3))
    gt[0, :, :2] = 100.0
    gt[0, :, 2] = 1
    gt[0, 3:5] = 0  # ears absent
    gt[0, 5:8, 2] = 0  # occluded but annotated
    pred = gt[..., :2].copy()
    pred[0, 0, 0] += 14.9  # head size 30 -> threshold 15: hit
    pred[0, 1, 1] += 15.1  # miss
    pred[0, 5, 0] += 40  # occluded miss
    pred[0, 3] = 0  # absent joints are not scored whatever is predicted
    m = pckh(pred, gt, np.array([[0, 0, 30, 40]]))
    assert m.num_joints == 15 and m.num_people == 1
    assert m.pckh == pytest.approx(13 / 15)
    assert m.pckh_visible == pytest.approx(11 / 12) and m.pckh_occluded == pytest.approx(2 / 3)
    assert m.mean_error == pytest.approx((14.9 + 15.1 + 40) / 15)
    assert m.per_joint[0] == 1.0 and m.per_joint[1] == 0.0 and 3 not in m.per_joint
    with pytest.raises(ValueError, match="head boxes"):
        pckh(pred, gt, np.zeros((2, 4)))


class _OraclePose:
    """Answers with the ground-truth keypoints of the box it is given."""

    keypoint_format = "posetrack21"

    def __init__(self, root, split):
        self.lookup = {}
        for seq in SynthDataset(root).sequences(split):
            for t in range(len(seq)):
                for a in seq.annotations(t):
                    x, y, w, h = a["bbox"]
                    key = tuple(np.asarray([x, y, x + w, y + h], np.float32).tolist())
                    self.lookup[key] = np.asarray(a["keypoints"], np.float32).reshape(17, 3)

    def estimate(self, frame, boxes):
        return np.stack([self.lookup[tuple(b.tolist())] for b in np.asarray(boxes, np.float32)])


def test_evaluate_pose_on_the_ground_truth_is_perfect(tiny):
    metrics, speed = evaluate_pose(_OraclePose(tiny, "val"), tiny, "val", progress=False)
    assert metrics.pckh == 1.0 and metrics.mean_error == pytest.approx(0.0, abs=1e-3) and speed > 0
    with pytest.raises(ValueError, match="posetrack21"):

        class _Coco(_OraclePose):
            keypoint_format = "coco17"

        evaluate_pose(_Coco(tiny, "val"), tiny, "val", progress=False)


def test_shipped_pose_model_finds_the_joints_of_a_synthetic_clip(tiny):
    """The shipped file loads unchanged, declares posetrack21 and localises the tiny preset's joints."""
    est = HRNetPoseEstimator.from_checkpoint(SHIPPED)
    assert est.keypoint_format == "posetrack21" and est.flip_test and est.cfg.pipeline.flip_indices == POSETRACK_FLIP
    assert est.cfg.pipeline.input_size == (96, 128)
    metrics, _ = evaluate_pose(est, tiny, "val", frame_stride=8, progress=False)
    assert metrics.pckh > 0.5, metrics.as_dict()
