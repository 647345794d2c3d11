import numpy as np
import pytest

from kprtrack.render import TrackPainter, overlay_heatmap, track_color
from kprtrack.structures import FrameRecord
from kprtrack.weights import WeightsNotFoundError, load_manifest, resolve


def test_colors_are_stable_and_distinct():
    assert track_color(3) == track_color(3)
    assert len({track_color(i) for i in range(1, 30)}) == 29


def test_painter_draws_where_tracks_are():
    frame = np.zeros((120, 160, 3), np.uint8)
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, 5] = [60, 40, 0.9]
    kps[0, 11] = [60, 90, 0.9]
    rec = FrameRecord(boxes=[[50, 30, 90, 110]], scores=[0.9], keypoints=kps, track_ids=[4])
    painter = TrackPainter(trail_length=5)
    out = painter.draw(frame, rec)
    assert out[40, 60].any() and out[65, 60].any()  # joints and the limb between them
    assert out[30, 70].any()  # box edge
    assert not out[5:20, 120:150].any()  # away from the track nothing changes
    assert not frame.any()  # input untouched


def test_painter_trails_are_bounded():
    painter = TrackPainter(trail_length=3)
    frame = np.zeros((50, 50, 3), np.uint8)
    for t in range(20):
        rec = FrameRecord(boxes=[[t, 0, t + 5, 5]], scores=[1], keypoints=np.zeros((1, 17, 3)), track_ids=[t])
        painter.draw(frame, rec)
    assert len(painter._trails) <= 5


def test_overlay_heatmap_changes_only_box():
    frame = np.full((40, 40, 3), 100, np.uint8)
    out = overlay_heatmap(frame, np.array([10, 10, 20, 30]), np.ones((8, 4)))
    assert (out[15, 15] != 100).any() and (out[35, 35] == 100).all()


def test_manifest_and_missing_weights_message(tmp_path, monkeypatch):
    manifest = load_manifest()
    assert "kpr_occ_posetrack_solider" in manifest
    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as err:
        resolve("yolox_x_coco", manifest)
    assert "yolox_x.pth" in str(err.value) and "github.com/Megvii" in str(err.value) and str(tmp_path) in str(err.value)
    (tmp_path / "yolox_x.pth").write_bytes(b"x")
    assert resolve("yolox_x_coco", manifest) == tmp_path / "yolox_x.pth"
    with pytest.raises(WeightsNotFoundError, match="unknown weights"):
        resolve("nonexistent", manifest)
    with pytest.raises(WeightsNotFoundError, match="file not found"):
        resolve(tmp_path / "nope.pth", manifest)


def test_attention_painter_overlays_only_the_chosen_track():
    import torch

    from kprtrack.reid import KPREmbedder
    from kprtrack.reid.build import build_kpr
    from kprtrack.render import AttentionPainter

    torch.manual_seed(0)
    embedder = KPREmbedder(build_kpr("kpr_swin_nano_k8"))
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    rec = FrameRecord(
        boxes=[[10, 10, 50, 110], [100, 10, 140, 110]], scores=[1, 1], keypoints=np.zeros((2, 17, 3)), track_ids=[3, 8]
    )
    painter = AttentionPainter(embedder, track_id=8, part="torso")
    out = painter.draw(frame, frame.copy(), rec)
    assert (out[20:100, 105:135] != frame[20:100, 105:135]).any()
    assert (out[20:100, 15:45] == frame[20:100, 15:45]).all()
    assert (painter.draw(frame, frame.copy(), rec.with_track_ids([1, 2])) == frame).all()  # track absent
    with pytest.raises(ValueError, match="unknown part"):
        AttentionPainter(embedder, 1, "tail")


def test_render_cli_draws_tracks_on_decoded_video(tmp_path):
    import cv2
    from click.testing import CliRunner

    from kprtrack.cli import main
    from kprtrack.io.posetrack21 import read_predictions

    demo = tmp_path / "demo"
    args = ["demo", "--config", "oracle_iou", "--frames", "12", "--out", str(demo), "--no-render"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    video = next((demo / "data" / "videos").rglob("*.mp4"))
    preds = next((demo / "predictions").glob("*.json"))
    out = tmp_path / "overlay.mp4"
    args = ["render", str(video), str(preds), "--out", str(out), "--frames", str(tmp_path / "png")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    rec = read_predictions(preds).to_records()[5]
    src, dst = cv2.VideoCapture(str(video)), cv2.VideoCapture(str(out))
    for _ in range(6):
        ok_a, a = src.read()
        ok_b, b = dst.read()
    assert ok_a and ok_b and a.shape == b.shape
    diff = np.abs(a.astype(int) - b.astype(int)).sum(2) > 60
    x1, y1, x2, y2 = rec.boxes[0].astype(int)
    assert diff[max(y1, 0) : y2 + 1, max(x1, 0) : x2 + 1].any()  # drawn where a track is
    assert diff.mean() < 0.25  # and not everywhere
    assert len(list((tmp_path / "png").glob("*.png"))) == 12
