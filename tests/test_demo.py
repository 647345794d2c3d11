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
    assert r.exit_code == 2 and "'--frames': 3 is not in the range x>=10" in r.output


def test_demo_with_shipped_weights(tmp_path):
    """The README's first command: the whole pipeline with the shipped small models, no download."""
    out = tmp_path / "demo"
    r = CliRunner().invoke(main, ["demo", "--frames", "30", "--out", str(out)])
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    combined = results["combined"]
    # trained models on the synthetic world: far above chance (a random pipeline scores ~0)
    assert combined["HOTA"] > 0.15 and combined["DetA"] > 0.15 and combined["AssA"] > 0.15
    assert combined["boxes"]["HOTA"] > 0.4


def test_shipped_weights_are_listed_verified_and_small():
    from kprtrack.weights import load_manifest, repo_weights_dir, resolve, sha256sum

    shipped = [e for e in load_manifest().values() if e.shipped]
    assert {e.name for e in shipped} >= {
        "yolox_nano_synth_192x320",
        "hrnet_w8_synth_128x96",
        "kpr_synth_nano_k8",
        "kpr_synth_nano_k8_noprompt",
    }
    total = 0
    for entry in shipped:
        path = resolve(entry.name)
        assert path.parent == repo_weights_dir()
        assert sha256sum(path) == entry.sha256, entry.name
        assert entry.trained_with
        total += path.stat().st_size
    assert total <= 50e6
