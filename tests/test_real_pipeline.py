"""The offline real-video path (``configs/real.yaml``) on real photos and clips (``../shared/real``).

Floors below the measured figures (README, "Real videos"): on the 12 people with keypoints of
``coco_keypoints`` the shipped real models find 11 (recall 0.917, precision 1.0, mean OKS of hits 0.886).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kprtrack.eval.coco_keypoints import PoseMatchResult, load_coco_keypoints, match_image, score_pipeline
from kprtrack.pipeline import Pipeline
from kprtrack.pipeline_config import load_pipeline_config
from tests.conftest import require_real


@pytest.fixture(scope="module")
def real_pipeline():
    return Pipeline.from_config("real")


def test_real_config_finds_real_people_with_accurate_keypoints(real_pipeline):
    data = require_real("coco_keypoints")
    result, _ = score_pipeline(real_pipeline, data / "test_coco.json", load_pipeline_config("real").output)
    assert result.people == 12
    assert result.recall >= 0.9 and result.precision >= 0.9, (result.recall, result.precision)
    assert result.mean_oks >= 0.85, result.mean_oks


def test_real_config_sees_nobody_where_nobody_is(real_pipeline):
    import numpy as np

    rng = np.random.default_rng(0)
    frames = [
        np.full((360, 640, 3), 128, np.uint8),
        rng.integers(0, 255, (360, 640, 3), dtype=np.uint8),
        np.tile(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], (360, 1, 3)),  # a gradient "sky"
    ]
    real_pipeline.reset()
    assert sum(len(r.tracked) for r in real_pipeline.track(frames)) == 0


def test_matching_counts_hits_misses_and_ignored_people():
    data = require_real("coco_keypoints")
    image = next(i for i in load_coco_keypoints(data / "test_coco.json") if len(i.ignored_boxes))
    gt = image.keypoints.copy()
    gt[:, :, 2] = 1.0
    boxes = image.boxes
    result = PoseMatchResult()
    match_image(result, image, boxes, [1.0] * len(boxes), gt)  # perfect poses: every person a hit
    assert len(result.hit_oks) == result.people == result.predictions and min(result.hit_oks) > 0.999
    result = PoseMatchResult()
    n = len(image.ignored_boxes)
    match_image(result, image, image.ignored_boxes, [1.0] * n, gt[:n] * 0)
    assert result.predictions == 0 and not result.hit_oks  # predictions on ignored (unlabelled) people do not count


def test_run_without_config_and_without_official_weights_uses_real(tmp_path):
    from kprtrack.cli import main

    data = require_real("coco_keypoints")
    folder = tmp_path / "photo"
    folder.mkdir()
    (folder / "000001.jpg").write_bytes((data / "000000196141.jpg").read_bytes())
    out = tmp_path / "tracks.json"
    r = CliRunner().invoke(main, ["run", str(folder), "--out", str(out), "--offline"])
    assert r.exit_code == 0, r.output
    assert "Falling back to the 'real' config" in r.output
    assert "models: detector yolox (yolox_nano_coco, 608x1088), pose tinypose (tinypose_256x192)" in r.output
    assert "synth" not in r.output.split("models:")[1].splitlines()[0]  # never the synthetic-world models
    people = json.loads(out.read_text())["annotations"]
    assert 1 <= len(people) <= 6
