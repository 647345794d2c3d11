"""YOLOX training: SimOTA assignment, loss terms, a few optimisation steps, Megvii-format saving."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kprtrack.detect.detector import YOLOXDetector, YOLOXDetectorConfig
from kprtrack.detect.loss import YOLOXLoss, iou_cxcywh, simota_assign
from kprtrack.detect.model import YOLOXArch, level_grids
from kprtrack.detect.train import ModelEMA, TrainStep, build_optimizer, param_groups, prepare_batch, use_l1_at
from kprtrack.detect.variants import build_yolox_from_arch
from kprtrack.detect.weights import load_yolox, save_megvii_checkpoint

SMALL = YOLOXArch(0.33, 0.125, num_classes=1)
SIZE = 96


def _levels_predicting(box: torch.Tensor, num_classes: int = 1, size: int = SIZE) -> list[torch.Tensor]:
    """Head logits whose every anchor predicts ``box`` (cx, cy, w, h) exactly."""
    levels = []
    for s in (8, 16, 32):
        h = w = size // s
        out = torch.zeros(1, 5 + num_classes, h, w)
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        out[0, 0] = box[0] / s - xs
        out[0, 1] = box[1] / s - ys
        out[0, 2] = torch.log(box[2] / s)
        out[0, 3] = torch.log(box[3] / s)
        levels.append(out.requires_grad_())
    return levels


def _scene() -> tuple[torch.Tensor, torch.Tensor]:
    img = np.full((SIZE, SIZE, 3), 90, np.uint8)
    img[30:80, 20:60] = (230, 40, 40)
    frames = [img, np.ascontiguousarray(img[:, ::-1])]
    return prepare_batch(frames, [np.array([[20, 30, 60, 80]]), np.array([[36, 30, 76, 80]])], input_size=(SIZE, SIZE))


def test_prepare_batch_targets() -> None:
    img = np.zeros((192, 96, 3), np.uint8)
    x, t = prepare_batch([img], [np.array([[10, 20, 50, 100], [0, 0, 1.5, 50]])], [np.array([0, 0])], (96, 96))
    assert x.shape == (1, 3, 96, 96) and t.shape == (1, 50, 5)
    np.testing.assert_allclose(t[0, 0].numpy(), [0, 15, 30, 20, 40])  # r = 0.5, xyxy -> cxcywh
    assert not t[0, 1:].any()  # the 0.75-pixel-wide box is dropped, the rest is padding


def test_perfect_prediction_has_no_box_loss() -> None:
    box = torch.tensor([40.0, 50.0, 30.0, 44.0])
    targets = torch.tensor([[[0.0, *box.tolist()]]])
    out = YOLOXLoss(1, use_l1=True)(_levels_predicting(box), targets).as_dict()
    assert out["iou_loss"] == pytest.approx(0.0, abs=1e-5) and out["l1_loss"] == pytest.approx(0.0, abs=1e-5)
    assert out["num_fg"] >= 1 and out["cls_loss"] > 0 and out["conf_loss"] > 0
    assert YOLOXLoss(1)(_levels_predicting(box), targets).as_dict()["l1_loss"] == 0.0


def test_simota_candidates_and_shared_anchors() -> None:
    shapes = [(SIZE // s, SIZE // s) for s in (8, 16, 32)]
    grid, stride = level_grids(shapes, (8, 16, 32), torch.device("cpu"), torch.float32)
    gts = torch.tensor([[40.0, 50.0, 30.0, 44.0], [44.0, 50.0, 30.0, 44.0]])
    torch.manual_seed(0)
    pred = torch.cat([(grid + 0.5) * stride, torch.full_like(grid, 36.0)], 1) + torch.randn(len(grid), 4)
    a = simota_assign(
        gts, torch.tensor([0.0, 0.0]), pred, torch.zeros(len(grid), 1), torch.zeros(len(grid), 1), grid, stride, 1
    )
    assert int(a.fg_mask.sum()) == len(a.matched_gt) > 2
    centres = ((grid + 0.5) * stride)[a.fg_mask]
    own = gts[a.matched_gt]
    assert torch.all((centres - own[:, :2]).abs() < 1.5 * stride[a.fg_mask])  # inside the centre region
    assert set(a.matched_gt.tolist()) == {0, 1}  # each anchor goes to one gt; both gts get anchors
    ious = iou_cxcywh(gts, pred[a.fg_mask])
    torch.testing.assert_close(a.matched_ious, ious[a.matched_gt, torch.arange(len(a.matched_gt))])


def test_images_without_boxes() -> None:
    torch.manual_seed(0)
    model = build_yolox_from_arch(SMALL).train()
    out = YOLOXLoss(1)(model.forward_levels(torch.rand(2, 3, SIZE, SIZE) * 255), torch.zeros(2, 5, 5)).as_dict()
    assert out["num_fg"] == 0 and out["iou_loss"] == 0 and out["cls_loss"] == 0 and np.isfinite(out["total_loss"])
    with pytest.raises(ValueError, match="targets"):
        YOLOXLoss(1)(model.forward_levels(torch.zeros(2, 3, SIZE, SIZE)), torch.zeros(2, 5))


def test_a_few_steps_decrease_the_loss() -> None:
    torch.manual_seed(0)
    images, targets = _scene()
    model = build_yolox_from_arch(SMALL)
    loss = YOLOXLoss(1)

    def evaluate() -> float:
        model.train()
        with torch.no_grad():
            return float(loss(model.forward_levels(images), targets).total)

    before = evaluate()
    step = TrainStep(model, torch.optim.Adam(model.parameters(), 2e-3), ModelEMA(model))
    logs = [step(images, targets) for _ in range(20)]
    assert all(np.isfinite(log["total_loss"]) for log in logs)
    assert evaluate() < 0.8 * before
    assert step.ema is not None and step.ema.updates == 20


def test_official_optimizer_l1_schedule_and_megvii_save(tmp_path) -> None:
    torch.manual_seed(0)
    images, targets = _scene()
    model = build_yolox_from_arch(SMALL)
    groups = param_groups(model)
    assert [g["weight_decay"] for g in groups] == [0.0, 5e-4, 0.0]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    step = TrainStep(model, build_optimizer(model, lr=0.01), ModelEMA(model))
    assert [use_l1_at(e, 300) for e in (0, 284, 285, 299)] == [False, False, True, True]
    step.use_l1 = True
    assert step(images, targets)["l1_loss"] > 0
    path = save_megvii_checkpoint(tmp_path / "synth_yolox.pth", step.model_to_save(), step.optimizer, start_epoch=1)
    ckpt = torch.load(path, weights_only=True)
    assert {"model", "optimizer", "start_epoch"} <= set(ckpt)
    det = YOLOXDetector.from_checkpoint(path, input_size=(SIZE, SIZE))
    loaded, fmt = load_yolox(path)
    assert fmt == "megvii" and det.config == YOLOXDetector(loaded, YOLOXDetectorConfig(input_size=(SIZE, SIZE))).config
    x = images[:1]
    with torch.no_grad():
        torch.testing.assert_close(det.model(x), step.model_to_save().eval()(x))
