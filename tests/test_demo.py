"""`kprtrack demo`: generation, tracking, evaluation and rendering in one command."""

import json

import cv2
from click.testing import CliRunner

from kprtrack.cli import main


def test_demo_with_oracle_stages(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(main, ["demo", "--config", "oracle_iou", "--frames", "20", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "keypoint HOTA" in r.output and "overlay video" in r.output
    results = json.loads((out / "results.json").read_text())
    assert results["combined"]["HOTA"] > 0.9  # perfect boxes and poses, IoU tracker
    cap = cv2.VideoCapture(str(out / "overlay.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 20


def test_demo_rejects_bad_options(tmp_path):
    r = CliRunner().invoke(main, ["demo", "--frames", "3", "--out", str(tmp_path / "d")])
    assert r.exit_code != 0 and "at least 10 frames" in r.output
