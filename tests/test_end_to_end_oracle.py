"""Synthetic world -> evaluation and -> `kprtrack run` with oracle stages -> evaluation."""

import json

from click.testing import CliRunner

from kprtrack.cli import main
from kprtrack.eval.evaluate import evaluate_folders
from kprtrack.eval.options import EvalOptions
from tests.synth_data import generated


def test_ground_truth_against_itself_scores_100(tmp_path_factory):
    root = generated(tmp_path_factory, "tiny")
    gt = root / "posetrack_data" / "val"
    result = evaluate_folders(gt, gt, EvalOptions())
    summary = result.combined.hota.summary()
    assert summary["HOTA"] == 1.0 and summary["DetA"] == 1.0 and summary["AssA"] == 1.0


def test_run_with_oracle_stages_writes_predictions_the_evaluator_scores(tmp_path_factory, tmp_path):
    root = generated(tmp_path_factory, "tiny")
    gt_dir = root / "posetrack_data" / "val"
    seq = sorted((root / "images" / "val").iterdir())[0]
    pred_dir = tmp_path / "pred"
    out = pred_dir / f"{seq.name}.json"
    result = CliRunner().invoke(
        main,
        ["run", str(seq), "--out", str(out), "--config", "oracle_iou", "--mot", str(tmp_path / "mot.txt"),
         "--render", str(tmp_path / "overlay.mp4")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "frames:" in result.output and (tmp_path / "overlay.mp4").stat().st_size > 0
    doc = json.loads(out.read_text())
    assert doc["annotations"] and all(len(a["keypoints"]) == 51 for a in doc["annotations"])
    res = evaluate_folders(gt_dir, pred_dir, EvalOptions(sequences=[seq.name]))
    summary = res.combined.hota.summary()
    # perfect boxes and poses: detection is near perfect; errors can only come from the IoU tracker and the
    # output filters (occluded joints written with score 0 are dropped, so DetRe < 1)
    assert summary["DetPr"] > 0.99 and summary["DetA"] > 0.6 and summary["HOTA"] > 0.6


def test_run_reports_clear_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["run", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o.json")])
    assert r.exit_code != 0 and "input not found" in r.output
    (tmp_path / "frames").mkdir()
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "frames" / "000000.png"), np.zeros((20, 20, 3), np.uint8))
    r = runner.invoke(main, ["run", str(tmp_path / "frames"), "--out", str(tmp_path / "o.json"), "--set", "bogus=1"])
    assert r.exit_code != 0 and "unknown key(s) bogus" in r.output
    r = runner.invoke(
        main, ["run", str(tmp_path / "frames"), "--out", str(tmp_path / "o.json"), "--config", "oracle_iou"]
    )
    assert r.exit_code != 0 and "ground truth" in r.output
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    r = runner.invoke(main, ["run", str(tmp_path / "frames"), "--out", str(blocker / "o.json")])
    assert r.exit_code != 0 and "cannot write" in r.output
    r = runner.invoke(
        main, ["run", str(tmp_path / "frames"), "--out", str(tmp_path / "o.json"), "--config", "kprtrack"]
    )
    # the message names the missing file and where the official release lives
    assert r.exit_code != 0 and "missing" in r.output and "download.openmmlab.com" in r.output
