import numpy as np
import pytest

from kprtrack.video import FrameSource, VideoSourceError, VideoWriter


def make_video(path, n=20, size=(64, 48)):
    with VideoWriter(path, 25, size) as w:
        for i in range(n):
            w.write(np.full((size[1], size[0], 3), (i * 10) % 250, np.uint8))
    return path


def test_video_file_range_and_rgb(tmp_path):
    path = make_video(tmp_path / "v.mp4")
    src = FrameSource(path, start=3, end=15, max_frames=5)
    assert src.info.kind == "video" and src.info.num_frames == 5 and len(src.info.images) == 5
    assert (src.info.width, src.info.height) == (64, 48) and src.info.fps == pytest.approx(25)
    frames = list(src)
    assert [i for i, _ in frames] == [3, 4, 5, 6, 7]
    assert all(f.dtype == np.uint8 and f.shape == (48, 64, 3) for _, f in frames)
    assert abs(float(frames[0][1].mean()) - 30) < 4  # decoded value of frame 3 (lossy codec)


def test_image_folder_and_posetrack_sequence(tmp_path):
    import cv2

    seq = tmp_path / "images" / "val" / "000001_synth_val"
    seq.mkdir(parents=True)
    for i in range(4):
        img = np.zeros((30, 40, 3), np.uint8)
        img[..., 2] = 200  # red in BGR
        cv2.imwrite(str(seq / f"{i:06d}.png"), img)
    src = FrameSource(seq)
    assert src.info.kind == "images" and src.info.num_frames == 4
    _, frame = next(iter(src))
    assert frame[0, 0, 0] == 200 and frame[0, 0, 2] == 0  # RGB
    # with a ground-truth file the image ids come from it
    from kprtrack.io.posetrack21 import PoseTrackSequence, write_ground_truth
    from tests.test_io_posetrack21 import gt_doc

    doc = gt_doc(4, 1)
    gt_path = tmp_path / "posetrack_data" / "val" / "000001_synth_val.json"
    write_ground_truth(gt_path, PoseTrackSequence(gt_path.name, doc["images"], doc["annotations"]))
    src = FrameSource(seq)
    assert src.info.kind == "posetrack21" and src.info.gt_path == gt_path
    assert [img["id"] for img in src.info.images] == [img["id"] for img in doc["images"]]


@pytest.mark.parametrize("kind", ["missing", "empty_dir", "not_video", "bad_range", "past_end"])
def test_bad_inputs(tmp_path, kind):
    if kind == "missing":
        args, match = (tmp_path / "nope.mp4",), "not found"
    elif kind == "empty_dir":
        (tmp_path / "d").mkdir()
        args, match = (tmp_path / "d",), "no images"
    elif kind == "not_video":
        (tmp_path / "x.mp4").write_text("hello")
        args, match = (tmp_path / "x.mp4",), "cannot decode"
    elif kind == "bad_range":
        args, match = (make_video(tmp_path / "v.mp4"), -1), "invalid frame range"
    else:
        args, match = (make_video(tmp_path / "v.mp4"), 50), "no frames in the selected range"
    with pytest.raises(VideoSourceError, match=match):
        FrameSource(*args)


def test_early_stop_releases_decoder(tmp_path):
    path = make_video(tmp_path / "v.mp4", n=40)
    src = FrameSource(path, prefetch=2)
    for i, _ in src:
        if i == 3:
            break
    import threading

    assert not any(t.name == "kprtrack-decode" and t.is_alive() for t in threading.enumerate())


def test_writer_rejects_wrong_size(tmp_path):
    with VideoWriter(tmp_path / "o.mp4", 25, (32, 32)) as w:
        with pytest.raises(ValueError, match="frame size"):
            w.write(np.zeros((10, 10, 3), np.uint8))
