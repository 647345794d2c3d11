"""Reliability matrix (issue #15): bad inputs through every command and the Python API.

Every row states the exit code, that the message is one line naming the culprit (no traceback), and
what is on disk afterwards: no output, a complete output, an output holding the frames done before
the input broke, or an old file left intact. The commands run in-process through ``kprtrack``'s
group (``CliRunner``) except where a real process matters (signals, tracebacks). Pipelines use cheap
stub stages (``tests/reliability_stubs.py``) unless a row is about the real model loaders.
"""

from __future__ import annotations

import errno
import json
import math
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import time
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from kprtrack.cli import main
from kprtrack.io.posetrack21 import read_predictions
from tests.eval_data import gt_doc, pred_doc, two_people, write_case
from tests.reliability_stubs import CLI_CODE, KIND, REPO, STUB_CONFIG, StubDetector, StubPose, register, unregister

WEIGHTS = REPO / "weights"
DETECTOR_FILE = "yolox_nano_synth_192x320.pth"  # a shipped manifest entry (configs/demo.yaml)


# ============================================================================ helpers
def kprtrack(*args: object, env: dict[str, str] | None = None) -> Result:
    """``kprtrack ARGS`` in-process; stderr and stdout are kept apart."""
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


#: a plain progress line (``clip: 3/12 frames (25.0 %), 9.1 frames/s, 0.3 s``)
PROGRESS_LINE = re.compile(r"^.+: \d+(/\d+)? \w+s( \(.*\))?, [\d.]+ \w+s/s, [\d.]+ s$")


def error_line(result: Result, *needles: object) -> str:
    """Assert a user error: exit 2, one last ``kprtrack: error:`` line holding every needle, no traceback.

    Warnings and plain progress lines may come before it on stderr.
    """
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("kprtrack: error: "), result.stderr
    notes = ("kprtrack: warning: ", "kprtrack: models: ")
    assert all(line.startswith(notes) or PROGRESS_LINE.match(line) for line in lines[:-1]), lines
    for needle in needles:
        assert str(needle) in lines[-1], (needle, lines[-1])
    assert "Traceback" not in result.output
    return lines[-1]


def usage_error(result: Result, *needles: object) -> None:
    """Assert click's usage error (exit 2, the usage line and ``Error: ...``)."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Error:" in result.stderr and "Traceback" not in result.output
    for needle in needles:
        assert str(needle) in result.stderr


def files_in(folder: Path) -> set[str]:
    """Every file below ``folder`` (relative names)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def assert_no_temp_files(folder: Path) -> None:
    leftovers = [name for name in files_in(folder) if ".tmp" in name or ".probe" in name]
    assert not leftovers, leftovers


def video_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def assert_outputs(out_dir: Path, frames: int | None) -> None:
    """``frames=None``: no output at all; else a valid prediction file, MOT file and overlay of ``frames`` frames."""
    assert_no_temp_files(out_dir)
    names = {"p.json", "o.mp4", "m.txt"} & files_in(out_dir)
    if frames is None:
        assert not names, names
        return
    assert names == {"p.json", "o.mp4", "m.txt"}
    assert len(read_predictions(out_dir / "p.json").images) == frames
    assert video_frames(out_dir / "o.mp4") == frames
    rows = [line.split(",") for line in (out_dir / "m.txt").read_text().splitlines()]
    assert all(1 <= int(r[0]) <= frames for r in rows)


def write_video(path: Path, frames: int, size: tuple[int, int], noise: bool = False) -> Path:
    """A small clip with cv2 (MJPG for .avi, mp4v otherwise); ``size`` is (width, height)."""
    fourcc = "MJPG" if path.suffix in (".avi", ".mkv") else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, size)
    rng = np.random.default_rng(0)
    for i in range(frames):
        w, h = size
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8) if noise else np.full((h, w, 3), 8 * i % 250, np.uint8)
        writer.write(img)
    writer.release()
    return path


def make_vfr_mp4(src: Path, dst: Path, deltas: list[int]) -> Path:
    """Copy an mp4 with one sample duration per frame (``stts``): a variable-frame-rate video.

    OpenCV writes ``moov`` after ``mdat``, so growing ``stts`` moves no sample offset; only the sizes of
    its ancestor boxes change.
    """

    def rewrite(buf: bytes) -> bytes:
        out, off = b"", 0
        while off < len(buf):
            size, kind = struct.unpack(">I4s", buf[off : off + 8])
            body = buf[off + 8 : off + size]
            if kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
                body = rewrite(body)
            elif kind == b"stts":
                body = struct.pack(">II", 0, len(deltas)) + b"".join(struct.pack(">II", 1, d) for d in deltas)
            out += struct.pack(">I4s", len(body) + 8, kind) + body
            off += size
        return out

    dst.write_bytes(rewrite(src.read_bytes()))
    return dst


def image_folder(folder: Path, images: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True)
    for name, img in images.items():
        assert cv2.imwrite(str(folder / name), img)
    return folder


# ============================================================================ fixtures
@pytest.fixture(scope="module", autouse=True)
def stubs():
    register()
    yield
    unregister()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every input of the video matrix, generated once."""
    root = tmp_path_factory.mktemp("media")
    write_video(root / "clip.mp4", 12, (96, 64))
    write_video(root / "one_frame.mp4", 1, (96, 64))
    write_video(root / "portrait.mp4", 6, (48, 96))
    write_video(root / "odd.avi", 5, (33, 17))
    write_video(root / "tiny.avi", 4, (1, 1))
    write_video(root / "zero.avi", 0, (32, 32))
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n")
    noisy = write_video(root / "noisy.mp4", 30, (96, 64), noise=True)
    data = bytearray(noisy.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4000] = bytes(4000)  # zeroed in the middle of mdat
    (root / "damaged.mp4").write_bytes(bytes(data))
    full = write_video(root / "full.avi", 30, (96, 64), noise=True).read_bytes()
    (root / "truncated.avi").write_bytes(full[: int(len(full) * 0.6)])
    mkv = write_video(root / "full.mkv", 30, (96, 64), noise=True).read_bytes()  # MJPG in Matroska
    (root / "truncated.mkv").write_bytes(mkv[: int(len(mkv) * 0.6)])
    durations = [256 if i % 3 else 1024 for i in range(30)]  # 20 ms and 80 ms frames (timescale 12800)
    make_vfr_mp4(write_video(root / "cfr.mp4", 30, (96, 64)), root / "vfr.mp4", durations)
    image_folder(root / "px1", {"000000.png": np.zeros((1, 1, 3), np.uint8)})
    image_folder(root / "uhd", {"000000.jpg": np.full((2160, 3840, 3), 90, np.uint8)})
    mixed = image_folder(
        root / "mixed",
        {"000000.png": np.zeros((48, 64, 3), np.uint8), "000001.png": np.zeros((60, 80, 3), np.uint8),
         "000002.jpg": np.zeros((30, 50, 3), np.uint8)},
    )  # fmt: skip
    (mixed / "notes.txt").write_text("not an image")
    image_folder(
        root / "depths",
        {"000000.png": np.full((40, 60), 100, np.uint8), "000001.png": np.full((40, 60), 40000, np.uint16),
         "000002.png": np.full((40, 60, 3), (1000, 30000, 65535), np.uint16),
         "000003.png": np.full((40, 60, 4), (10, 20, 30, 0), np.uint8)},
    )  # fmt: skip
    image_folder(root / "frames", {f"{i:06d}.png": np.full((48, 64, 3), 30 * i, np.uint8) for i in range(5)})
    broken = image_folder(root / "broken", {f"{i:06d}.png": np.zeros((48, 64, 3), np.uint8) for i in range(4)})
    (broken / "000002.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # a damaged PNG
    assert cv2.imwrite(str(root / "photo.jpg"), np.full((64, 96, 3), 100, np.uint8))
    return root


@pytest.fixture(scope="module")
def stub_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "stub.yaml"
    path.write_text(STUB_CONFIG)
    return path


def run_args(video: Path, out_dir: Path, config: Path | str, *extra: object) -> list[object]:
    return ["run", video, "--out", out_dir / "p.json", "--render", out_dir / "o.mp4", "--mot", out_dir / "m.txt",
            "--config", config, *extra]  # fmt: skip


# ============================================================================ videos
def _deny(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Simulate an unreadable file (the suite runs as root, which reads everything): ``os.access`` says
    no and OpenCV reads nothing from it, as it does for a file without read permission."""
    access, imread, capture = os.access, cv2.imread, cv2.VideoCapture

    def is_denied(path: object) -> bool:
        return Path(os.fsdecode(path)) == denied

    monkeypatch.setattr(os, "access", lambda path, mode, *a, **k: not is_denied(path) and access(path, mode, *a, **k))
    monkeypatch.setattr(cv2, "imread", lambda path, *a: None if is_denied(path) else imread(path, *a))
    monkeypatch.setattr(cv2, "VideoCapture", lambda path, *a: capture("/no/such.mp4" if is_denied(path) else path, *a))


def test_unreadable_video(media: Path, tmp_path: Path, monkeypatch) -> None:
    from kprtrack.video import FrameSource, VideoSourceError

    video = media / "clip.mp4"
    _deny(monkeypatch, video)
    with pytest.raises(VideoSourceError, match="clip.mp4: permission denied"):
        FrameSource(video)
    usage_error(kprtrack("run", video, "--out", tmp_path / "p.json"), "clip.mp4", "is not readable")  # click checks it
    assert files_in(tmp_path) == set()


VIDEO_ROWS = {
    # name: (input, exit code, needle, frames on disk: None = no output, int, or "partial")
    "missing": ("nope.mp4", 2, "input not found", None),
    "empty file": ("empty.mp4", 2, "empty file (0 bytes)", None),
    "not a video": ("text.mp4", 2, "cannot decode any frame", None),
    "zero frames": ("zero.avi", 2, "holds no decodable frame", None),
    "damaged mid-way": ("damaged.mp4", 2, "cannot be decoded (damaged stream)", "partial"),
    "truncated": ("truncated.avi", 2, "truncated file?", "partial"),
    "truncated, estimated count (mkv)": ("truncated.mkv", 0, "", "partial"),
    "1x1 image": ("px1", 0, "", 1),
    "1x1 video": ("tiny.avi", 0, "", 4),
    "odd size 33x17": ("odd.avi", 0, "", 5),
    "4K image": ("uhd", 0, "", 1),
    "portrait": ("portrait.mp4", 0, "", 6),
    "one frame": ("one_frame.mp4", 0, "", 1),
    "variable frame rate": ("vfr.mp4", 0, "", 30),
    "mixed sizes + non-image file": ("mixed", 0, "", 3),
    "grayscale, 16-bit and RGBA PNGs": ("depths", 0, "", 4),
    "unreadable image mid-way": ("frames", 2, "frame 2 of", 2),
    "damaged image mid-way": ("broken", 2, "frame 2 of", 2),
    "a single image file": ("photo.jpg", 0, "", 1),
}


@pytest.mark.parametrize("row", list(VIDEO_ROWS))
def test_video_inputs(row: str, media: Path, stub_config: Path, tmp_path: Path, monkeypatch) -> None:
    name, code, needle, frames = VIDEO_ROWS[row]
    video = media / name
    if row == "unreadable image mid-way":
        _deny(monkeypatch, video / "000002.png")
    result = kprtrack(*run_args(video, tmp_path, stub_config))
    if code == 0:
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        if frames == "partial":  # an early end a container cannot tell from its estimate: a warning
            assert "kprtrack: warning: " in result.stderr and "the stream ends at frame" in result.stderr
            frames = int(result.stdout.split("frames: ")[1].split(" in ")[0])
            assert 0 < frames < 30
        assert_outputs(tmp_path, frames)
    else:
        line = error_line(result, needle, name)
        if frames == "partial":
            done, total = map(int, result.stdout.split("stopped after ")[1].split(" frames")[0].split(" of "))
            assert 0 < done < total and line.endswith(("(damaged stream)", "(truncated file?)"))
            frames = done
        elif frames is not None:
            assert f"stopped after {frames} of " in result.stdout
        assert_outputs(tmp_path, frames)
    if row == "mixed sizes + non-image file":
        assert "ignoring 1 file(s) that are not images: notes.txt" in result.stderr
        assert "images of different sizes" in result.stderr
        cap = cv2.VideoCapture(str(tmp_path / "o.mp4"))
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (64, 48)


@pytest.mark.parametrize(
    "args", [["--start", -1], ["--start", 5, "--end", 3], ["--max-frames", 0], ["--start", 50]], ids=str
)
def test_bad_frame_ranges(args: list, media: Path, stub_config: Path, tmp_path: Path) -> None:
    result = kprtrack(*run_args(media / "clip.mp4", tmp_path, stub_config, *args))
    error_line(result, "invalid frame range" if args != ["--start", 50] else "no frames in the selected range")
    assert_outputs(tmp_path, None)


def test_frames_are_rgb_uint8_whatever_the_image_depth(media: Path) -> None:
    from kprtrack.video import FrameSource

    frames = [f for _, f in FrameSource(media / "depths")]
    assert all(f.dtype == np.uint8 and f.shape == (40, 60, 3) for f in frames)
    assert frames[0][0, 0].tolist() == [100, 100, 100]  # 8-bit gray
    assert frames[1][0, 0].tolist() == [156, 156, 156]  # 16-bit gray 40000 >> 8
    assert frames[2][0, 0].tolist() == [255, 117, 3]  # 16-bit BGR file, RGB out
    assert frames[3][0, 0].tolist() == [30, 20, 10]  # alpha dropped


def test_variable_frame_rate_video_keeps_every_frame_and_a_usable_rate(media: Path) -> None:
    from kprtrack.video import FrameSource

    cap = cv2.VideoCapture(str(media / "vfr.mp4"))
    stamps = []
    while cap.read()[0]:
        stamps.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    assert len(set(np.diff(stamps).round(3))) > 1  # the file really has uneven frame durations
    source = FrameSource(media / "vfr.mp4")
    assert len(list(source)) == 30 and 0 < source.info.fps <= 1000


def test_videos_longer_than_10000_frames_get_unique_image_ids(tmp_path: Path) -> None:
    """The PoseTrack image id has a 4-digit frame field; a long video must not overflow it."""
    from kprtrack.io.posetrack21 import PredictionWriter, video_images
    from kprtrack.structures import FrameRecord

    images = video_images(0, 12_000, "long")
    ids = [img["id"] for img in images]
    assert len(set(ids)) == 12_000 and ids == sorted(ids) and ids[:2] == [10000000000, 10000000001]
    writer = PredictionWriter(tmp_path / "p.json", images)
    for t in (0, 9_999, 10_000, 11_999):
        box = np.array([[10, 10, 50, 90]], np.float32)
        writer.add(ids[t], FrameRecord(box, [0.9], np.full((1, 17, 3), 20.0), track_ids=[1], frame_index=t,
                                       keypoint_format="posetrack21"))  # fmt: skip
    assert writer.close() == 4
    assert len(read_predictions(tmp_path / "p.json").images) == 12_000


# ============================================================================ outputs
def test_unwritable_output_folder(media: Path, stub_config: Path, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    error_line(kprtrack("run", media / "clip.mp4", "--out", tmp_path / "blocker" / "p.json", "--config", stub_config),
               "cannot write", "blocker")  # fmt: skip
    assert files_in(tmp_path) == {"blocker"}


def test_permission_denied_output_folder(media: Path, stub_config: Path, tmp_path: Path, monkeypatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("kprtrack.io.atomic.tempfile.mkstemp", denied)
    error_line(kprtrack(*run_args(media / "clip.mp4", tmp_path, stub_config)), "cannot write", "Permission denied")
    assert files_in(tmp_path) == set()


def test_existing_outputs_are_replaced_atomically_keeping_their_permissions(
    media: Path, stub_config: Path, tmp_path: Path
) -> None:
    for name in ("p.json", "o.mp4", "m.txt"):
        (tmp_path / name).write_text("old")
        os.chmod(tmp_path / name, 0o640)
    result = kprtrack(*run_args(media / "clip.mp4", tmp_path, stub_config))
    assert result.exit_code == 0, result.output
    assert_outputs(tmp_path, 12)
    assert all((tmp_path / n).stat().st_mode & 0o777 == 0o640 for n in ("p.json", "o.mp4", "m.txt"))


def test_new_outputs_get_ordinary_permissions(media: Path, stub_config: Path, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        assert kprtrack(*run_args(media / "clip.mp4", tmp_path, stub_config)).exit_code == 0
    finally:
        os.umask(umask)
    assert all((tmp_path / n).stat().st_mode & 0o777 == 0o644 for n in ("p.json", "o.mp4", "m.txt"))


def test_a_failed_run_leaves_an_existing_output_intact(media: Path, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text("old")
    error_line(kprtrack("run", media / "clip.mp4", "--out", tmp_path / "p.json", "--set", "bogus=1"), "bogus")
    assert (tmp_path / "p.json").read_text() == "old"


@pytest.mark.parametrize("command", ["run", "eval"])
def test_disk_full_while_writing_keeps_the_old_file(command: str, media: Path, stub_config, tmp_path, monkeypatch):
    out = tmp_path / "out" / "p.json"
    out.parent.mkdir()
    out.write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("kprtrack.io.atomic.os.fsync", full)
    if command == "run":
        result = kprtrack("run", media / "clip.mp4", "--out", out, "--config", stub_config)
    else:
        gdir, pdir = write_case(tmp_path, {SEQ: _eval_docs()[0]}, {SEQ: _eval_docs()[1]})
        result = kprtrack("eval", "--gt", gdir, "--pred", pdir, "--out", out, "--quiet")
    error_line(result, f"{out}: No space left on device")
    assert out.read_text() == "old"
    assert_no_temp_files(tmp_path)


OUTPUT_CLASHES = {
    # name: (arguments after the input, needle)
    "--out is the input video": (["--out", "{video}"], "is the input"),
    "--render is the input video": (["--out", "{tmp}/p.json", "--render", "{video}"], "--render"),
    "--out and --mot are one file": (["--out", "{tmp}/p.json", "--mot", "{tmp}/p.json"], "are the same file"),
    "--out resolves to the input": (["--out", "{tmp}/link.mp4"], "is the input"),
}


@pytest.mark.parametrize("row", list(OUTPUT_CLASHES))
def test_outputs_never_overwrite_inputs(row: str, media: Path, stub_config: Path, tmp_path: Path) -> None:
    video = tmp_path / "in.mp4"
    video.write_bytes((media / "clip.mp4").read_bytes())
    (tmp_path / "link.mp4").symlink_to(video)
    args, needle = OUTPUT_CLASHES[row]
    before = video.read_bytes()
    error_line(kprtrack("run", video, *[a.format(video=video, tmp=tmp_path) for a in args], "--config", stub_config),
               needle)  # fmt: skip
    assert video.read_bytes() == before and files_in(tmp_path) == {"in.mp4", "link.mp4"}


def test_outputs_never_land_on_the_frames_of_an_input_folder(media: Path, stub_config: Path, tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "seq", {f"{i:06d}.png": np.zeros((32, 32, 3), np.uint8) for i in range(3)})
    before = files_in(folder)
    result = kprtrack("run", folder, "--out", folder / "000001.png", "--config", stub_config)
    error_line(result, "inside the input folder")
    # a JSON next to the frames is fine: the folder's reader takes only images
    assert kprtrack("run", folder, "--out", folder / "p.json", "--config", stub_config).exit_code == 0
    assert files_in(folder) == before | {"p.json"}


def test_other_commands_refuse_to_overwrite_their_inputs(media: Path, tmp_path: Path) -> None:
    gt, pred = _eval_docs()
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred})
    error_line(kprtrack("eval", "--gt", gdir, "--pred", pdir, "--out", pdir / SEQ), "is inside the input folder")
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({"images": [{"id": 1}], "annotations": []}))
    error_line(kprtrack("render", media / "clip.mp4", preds, "--out", media / "clip.mp4"), "is the input")
    folder = media / "frames"
    error_line(kprtrack("render", folder, preds, "--frames", folder), "inside the input folder")
    assert files_in(folder) == {f"{i:06d}.png" for i in range(5)}


# ============================================================================ interruption
def _progress_done(line: str) -> int:
    """Frames done in a plain progress line ``name: 3/40 frames (...)``."""
    return int(line.split(": ", 1)[1].split("/")[0])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_finishes_valid_outputs_and_says_how_far(signum: int, media: Path, stub_config, tmp_path):
    frames = 40
    video = write_video(tmp_path / "in.avi", frames, (64, 48))
    out = tmp_path / "out"
    env = dict(os.environ, RELIABILITY_STUB_DELAY="0.05", KPRTRACK_PROGRESS_INTERVAL="0")
    args = [str(a) for a in run_args(video, out, stub_config)]
    proc = subprocess.Popen([sys.executable, "-c", CLI_CODE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        for line in proc.stderr:  # one progress line per frame
            if "frames (" in line and _progress_done(line) >= 3:
                break
            assert time.monotonic() < deadline, "no progress"
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, (stdout, stderr)
    assert stderr.strip().splitlines()[-1] == "kprtrack: interrupted" and "Traceback" not in stderr
    done, total = map(int, stdout.split("interrupted after ")[1].split(" frames")[0].split(" of "))
    assert 3 <= done < total == frames
    assert_outputs(out, done)


class InterruptingDetector(StubDetector):
    """Raises KeyboardInterrupt (what Ctrl-C does) when asked for frame ``at``."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def detect(self, frames: list[np.ndarray]) -> list:
        if self.calls == self.at:
            raise KeyboardInterrupt
        self.calls += 1
        return super().detect(frames)


@pytest.mark.parametrize("at", [0, 3])
def test_api_interruption_finishes_outputs_or_leaves_the_old_ones(at: int, media: Path, stub_config, tmp_path):
    from kprtrack.errors import RunInterrupted
    from kprtrack.registry import DETECTORS
    from kprtrack.run import RunOptions, run_video

    DETECTORS.register("reliability_interrupt")(lambda section, context: InterruptingDetector(at))
    try:
        (tmp_path / "p.json").write_text("old")
        options = RunOptions(media / "clip.mp4", tmp_path / "p.json", config=stub_config,
                             overrides=["detector.kind=reliability_interrupt"], render=tmp_path / "o.mp4",
                             mot=tmp_path / "m.txt")  # fmt: skip
        with pytest.raises(RunInterrupted) as info:
            run_video(options)
    finally:
        DETECTORS._builders.pop("reliability_interrupt")
    summary = info.value.summary
    assert (summary.frames, summary.total, summary.stopped) == (at, 12, "interrupted")
    assert f"interrupted after {at} of 12 frames" in summary.format()
    if at == 0:
        assert (tmp_path / "p.json").read_text() == "old" and files_in(tmp_path) == {"p.json"}
        assert "nothing written" in summary.format()
    else:
        assert_outputs(tmp_path, at)


# ============================================================================ eval
SEQ = "000001_mpii_test.json"


def _eval_docs() -> tuple[dict, dict]:
    gt = gt_doc(1, two_people(4))
    return gt, pred_doc(gt, two_people(4))


def _set(path: str, value: object):
    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


EVAL_ROWS = {
    # name: (which file, mutation of its document or raw text, needles)
    "malformed JSON": ("pred", '{"images": [}', ["not valid JSON", "line 1"]),
    "truncated JSON": ("pred", "TRUNCATE", ["not valid JSON"]),
    "empty file": ("gt", "", ["not valid JSON"]),
    "binary file": ("pred", b"\x89PNG\r\n\x1a\n\xff\xfe", ["not valid JSON"]),
    "absurd nesting": ("pred", "[" * 100_000 + "]" * 100_000, ["nested too deeply"]),
    "top level is a list": ("pred", "[]", ["expected a JSON object at the top level"]),
    "annotations not a list": ("gt", _set("annotations", {}), ["'annotations' must be a list"]),
    "missing images": ("pred", lambda d: d.pop("images"), ["missing top-level key 'images'"]),
    "missing keypoints": ("pred", lambda d: d["annotations"][2].pop("keypoints"), ["annotations[2].keypoints"]),
    "keypoints not numbers": ("pred", _set("annotations.1.keypoints", "x"), ["annotations[1].keypoints", "a list"]),
    "NaN keypoint": ("pred", _set("annotations.3.keypoints.4", math.nan), ["annotations[3].keypoints", "NaN or inf"]),
    "inf keypoint": ("gt", _set("annotations.0.keypoints.1", math.inf), ["annotations[0].keypoints", "NaN or inf"]),
    "NaN head box": ("gt", _set("annotations.1.bbox_head.2", math.nan), ["annotations[1].bbox_head", "NaN or inf"]),
    "duplicate image id": ("gt", _set("images.2.id", 10000010001), ["images[2].id", "duplicate image id"]),
    "duplicate track id in a frame": ("pred", _set("annotations.1.track_id", 1), ["annotations[1].track_id", "twice"]),
    "huge track id": ("pred", _set("annotations.0.track_id", 2**64), ["annotations[0].track_id", "not fit 64 bits"]),
    "negative track id": ("gt", _set("annotations.0.track_id", -3), ["annotations[0].track_id", "negative"]),
    "float track id": ("pred", _set("annotations.0.track_id", 1.5), ["annotations[0].track_id", "integer"]),
    "unknown image id": ("pred", _set("annotations.0.image_id", 42), ["annotations[0].image_id", "unknown image"]),
    "prediction misses an image": ("pred", lambda d: d["images"].pop(1), ["prediction has 3 images"]),
}


@pytest.mark.parametrize("row", list(EVAL_ROWS))
def test_eval_inputs(row: str, tmp_path: Path) -> None:
    which, change, needles = EVAL_ROWS[row]
    gt, pred = _eval_docs()
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred})
    target = (gdir if which == "gt" else pdir) / SEQ
    if change == "TRUNCATE":
        target.write_text(target.read_text()[: len(target.read_text()) // 2])
    elif isinstance(change, bytes):
        target.write_bytes(change)
    elif isinstance(change, str):
        target.write_text(change)
    else:
        doc = gt if which == "gt" else pred
        change(doc)
        target.write_text(json.dumps(doc))
    result = kprtrack("eval", "--gt", gdir, "--pred", pdir, "--out", tmp_path / "r.json")
    error_line(result, f"{which}/{SEQ}", *needles)
    assert not (tmp_path / "r.json").exists()


def test_eval_huge_but_valid_track_ids_score(tmp_path: Path) -> None:
    gt, pred = _eval_docs()
    for ann in pred["annotations"]:
        ann["track_id"] = 2**63 - ann["track_id"]
    gdir, pdir = write_case(tmp_path, {SEQ: gt}, {SEQ: pred})
    result = kprtrack("eval", "--gt", gdir, "--pred", pdir, "--out", tmp_path / "r.json", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["combined"]["HOTA"] == pytest.approx(1.0)


EVAL_FOLDER_ROWS = {
    "missing prediction file": (lambda g, p: (p / SEQ).unlink(), [], ["prediction file(s) missing", "--allow-missing"]),
    "unknown sequence": (lambda g, p: None, ["--seqs", "000009_mpii_test"], ["'000009_mpii_test' is not in"]),
    "missing folder": (lambda g, p: None, ["--pred", "{tmp}/nope"], ["prediction folder not found"]),
    "no ground truth": (lambda g, p: (g / SEQ).unlink(), [], ["no ground-truth sequence"]),
}


@pytest.mark.parametrize("row", list(EVAL_FOLDER_ROWS))
def test_eval_folders(row: str, tmp_path: Path) -> None:
    change, args, needles = EVAL_FOLDER_ROWS[row]
    gdir, pdir = write_case(tmp_path, {SEQ: _eval_docs()[0]}, {SEQ: _eval_docs()[1]})
    change(gdir, pdir)
    result = kprtrack("eval", "--gt", gdir, "--pred", pdir, *[a.format(tmp=tmp_path) for a in args])
    error_line(result, *needles)


# ============================================================================ configs
CONFIG_ROWS = {
    # name: (--config, --set overrides or a YAML text for a config file, needles)
    "unknown key": ("demo", ["bogus=1"], ["unknown key(s) bogus"]),
    "unknown nested key": ("demo", ["tracker.params.match_tresh=0.2"], ["tracker.params", "match_tresh"]),
    "unknown key in a file": (None, "detector:\n  kind: yolox\n  wieghts: x\n", ["bad.yaml", "wieghts"]),
    "wrong type": ("demo", ["max_people=many"], ["max_people", "expected an integer"]),
    "wrong type in a file": (None, "reid:\n  use_prompts: sometimes\n", ["bad.yaml", "use_prompts", "true/false"]),
    "negative threshold": ("demo", ["tracker.params.high_thresh=-0.1"], ["high_thresh", "[0, 1]"]),
    "negative detector threshold": ("demo", ["detector.score_threshold=-1"], ["detector.score_threshold"]),
    "NMS threshold above 1": ("demo", ["detector.nms_threshold=1.5"], ["detector.nms_threshold"]),
    "batch 0": ("demo", ["reid.batch_size=0"], ["reid.batch_size"]),
    "max_people 0": ("demo", ["max_people=0"], ["max_people"]),
    "threads 0": ("demo", ["threads=0"], ["threads"]),
    "joint threshold above 1": ("demo", ["output.joint_thresh=2"], ["joint_thresh"]),
    "negative track buffer": ("demo", ["tracker.params.track_buffer=-5"], ["track_buffer"]),
    "unknown kind": ("demo", ["detector.kind=yolov9"], ["detector.kind", "yolov9"]),
    "unknown device": ("demo", ["device=gpu"], ["device", "gpu"]),
    "unknown config name": ("nonexistent", [], ["config file not found: nonexistent"]),
    "YAML anchors and aliases (bomb)": (None, "a: &a [1, 1]\nb: [*a, *a]\n", ["bad.yaml", "anchors"]),
    "invalid YAML": (None, "detector: [\n", ["bad.yaml", "invalid YAML", "line"]),
    "not a mapping": (None, "- 1\n- 2\n", ["bad.yaml", "expected a mapping"]),
    "huge file": (None, "# " + "x" * (1 << 20) + "\n", ["bad.yaml", "too large"]),
    "bad override syntax": ("demo", ["max_people"], ["expected key=value"]),
}


@pytest.mark.parametrize("row", list(CONFIG_ROWS))
def test_config_errors(row: str, media: Path, tmp_path: Path) -> None:
    config, overrides, needles = CONFIG_ROWS[row]
    sets: list[str] = []
    if isinstance(overrides, str):
        config = tmp_path / "bad.yaml"
        config.write_text(overrides)
    else:
        sets = [a for o in overrides for a in ("--set", o)]
    result = kprtrack("run", media / "clip.mp4", "--out", tmp_path / "p.json", "--config", config, *sets)
    error_line(result, *needles)
    assert not (tmp_path / "p.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_unavailable_device(media: Path, tmp_path: Path) -> None:
    result = kprtrack("run", media / "clip.mp4", "--out", tmp_path / "p.json", "--config", "demo", "--device", "cuda")
    error_line(result, "device 'cuda'", "no CUDA device")


def test_config_errors_in_demo_and_render(media: Path, tmp_path: Path) -> None:
    error_line(kprtrack("demo", "--out", tmp_path / "d", "--set", "bogus=1", "--frames", 10), "unknown key(s) bogus")
    assert not (tmp_path / "d" / "predictions").exists()
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"images": [{"id": 1}], "annotations": []}))
    result = kprtrack("render", media / "clip.mp4", preds, "--out", tmp_path / "o.mp4", "--attention", 1,
                      "--config", "nonexistent")  # fmt: skip
    error_line(result, "nonexistent")
    assert not (tmp_path / "o.mp4").exists()


def test_bad_progress_interval(media: Path, stub_config: Path, tmp_path: Path) -> None:
    result = kprtrack(*run_args(media / "clip.mp4", tmp_path, stub_config), env={"KPRTRACK_PROGRESS_INTERVAL": "soon"})
    error_line(result, "KPRTRACK_PROGRESS_INTERVAL", "soon")


# ============================================================================ checkpoints
class Payload:
    """Pickles the call ``func(*args)``: unpickling it runs the call."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _state(extra: object) -> dict:
    return {"state_dict": OrderedDict(w=torch.zeros(2)), "meta": {"note": extra}}


def write_malicious(kind: str, path: Path, sentinel: Path) -> Path:
    """A checkpoint whose unpickling would create ``sentinel``."""
    import builtins
    import subprocess as sp

    shell = Payload(os.system, f"touch {sentinel}")
    code = f"open({str(sentinel)!r}, 'w').close()"
    if kind == "reduce, torch zip":
        torch.save(_state(shell), path)
    elif kind == "reduce, torch legacy":
        torch.save(_state(shell), path, _use_new_zipfile_serialization=False)
    elif kind == "raw pickle, protocol 0":
        path.write_bytes(pickle.dumps(shell, protocol=0))
    elif kind == "raw pickle, protocol 4 (STACK_GLOBAL)":
        path.write_bytes(pickle.dumps(shell, protocol=4))
    elif kind == "INST opcode":
        path.write_bytes(f"(S'touch {sentinel}'\nios\nsystem\n.".encode())
    elif kind == "OBJ opcode":
        path.write_bytes(f"(cos\nsystem\nS'touch {sentinel}'\no.".encode())
    elif kind == "builtins.exec":
        torch.save(_state(Payload(builtins.exec, code)), path)
    elif kind == "builtins.eval":
        torch.save(_state(Payload(builtins.eval, code)), path)
    elif kind == "subprocess.Popen":
        torch.save(_state(Payload(sp.Popen, ["touch", str(sentinel)])), path)
    elif kind == "getattr/__import__ chain":
        path.write_bytes(
            f"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(S'touch {sentinel}'\ntR.".encode()
        )
    elif kind == "torch.storage._load_from_bytes":
        torch.save(_state(Payload(torch.storage._load_from_bytes, pickle.dumps(shell))), path)
    elif kind == "object array in numpy":
        torch.save(_state(np.array([shell, 1], dtype=object)), path)
    elif kind == "inside the state dict":
        torch.save({"state_dict": OrderedDict(w=torch.zeros(2), evil=shell)}, path)
    else:
        raise AssertionError(kind)
    return path


MALICIOUS_KINDS = [
    "reduce, torch zip", "reduce, torch legacy", "raw pickle, protocol 0", "raw pickle, protocol 4 (STACK_GLOBAL)",
    "INST opcode", "OBJ opcode", "builtins.exec", "builtins.eval", "subprocess.Popen", "getattr/__import__ chain",
    "torch.storage._load_from_bytes", "object array in numpy", "inside the state dict",
]  # fmt: skip


@pytest.mark.parametrize("kind", MALICIOUS_KINDS)
def test_malicious_pickles_are_refused_by_the_loader_and_the_cli(kind: str, media: Path, tmp_path: Path) -> None:
    from kprtrack.checkpoints import UnsafeCheckpointError, load_checkpoint

    sentinel = tmp_path / "PWNED"
    path = write_malicious(kind, tmp_path / "evil.pth", sentinel)
    with pytest.raises(UnsafeCheckpointError, match="refused: checkpoint references the global") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    result = kprtrack("run", media / "clip.mp4", "--out", tmp_path / "p.json", "--config", "demo",
                      "--set", f"detector.weights={path}")  # fmt: skip
    error_line(result, path, "refused")
    assert not sentinel.exists() and not (tmp_path / "p.json").exists()


def _malicious_entry(point: str, evil: Path, media: Path, tmp: Path) -> Result:
    """Run the malicious checkpoint ``evil`` through one entry point; returns the CLI result."""
    out = tmp / "p.json"
    if point in ("detector.weights", "pose.weights", "reid.weights"):
        return kprtrack("run", media / "clip.mp4", "--out", out, "--config", "demo", "--set", f"{point}={evil}")
    if point == "config file":
        config = tmp / "evil.yaml"
        config.write_text((REPO / "configs" / "demo.yaml").read_text().replace("kpr_synth_nano_k8", str(evil)))
        return kprtrack("run", media / "clip.mp4", "--out", out, "--config", config)
    shadow = tmp / "shadow"
    shadow.mkdir()
    os.replace(evil, shadow / DETECTOR_FILE)
    env = {"KPRTRACK_WEIGHTS": str(shadow)}
    if point == "KPRTRACK_WEIGHTS, run":
        return kprtrack("run", media / "clip.mp4", "--out", out, "--config", "demo", env=env)
    if point == "KPRTRACK_WEIGHTS, demo":
        return kprtrack("demo", "--out", tmp / "demo", "--frames", 10, "--no-render", env=env)
    if point == "KPRTRACK_WEIGHTS, render --attention":
        config = tmp / "attention.yaml"
        config.write_text(f"reid:\n  weights: {shadow / DETECTOR_FILE}\n")
        preds = tmp / "preds.json"
        preds.write_text(json.dumps({"images": [{"id": 1}], "annotations": []}))
        return kprtrack("render", media / "clip.mp4", preds, "--out", tmp / "o.mp4", "--attention", 1,
                        "--config", config, env=env)  # fmt: skip
    if point == "KPRTRACK_WEIGHTS, weights verify":
        return kprtrack("weights", "verify", "yolox_nano_synth_192x320", env=env)
    if point == "check-fixture":
        np.savez(shadow / "inputs.npz", num_images=0)
        return kprtrack("check-fixture", "yolox", shadow)
    raise AssertionError(point)


ENTRY_POINTS = [
    "detector.weights", "pose.weights", "reid.weights", "config file", "KPRTRACK_WEIGHTS, run",
    "KPRTRACK_WEIGHTS, demo", "KPRTRACK_WEIGHTS, render --attention", "KPRTRACK_WEIGHTS, weights verify",
    "check-fixture",
]  # fmt: skip


@pytest.mark.parametrize("point", ENTRY_POINTS)
def test_malicious_checkpoint_through_every_entry_point(point: str, media: Path, tmp_path: Path) -> None:
    sentinel = tmp_path / "PWNED"
    evil = write_malicious("reduce, torch zip", tmp_path / "evil.pth", sentinel)
    result = _malicious_entry(point, evil, media, tmp_path)
    if point.endswith("weights verify"):  # a report, one line per checked file
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "mismatch" in result.stdout.lower() and DETECTOR_FILE in result.stdout
    else:
        error_line(result, "evil" if "KPRTRACK" not in point and point != "check-fixture" else DETECTOR_FILE)
    assert not sentinel.exists()
    assert not {"p.json", "o.mp4"} & files_in(tmp_path)


def test_malicious_checkpoint_through_the_python_api(tmp_path: Path, monkeypatch) -> None:
    from kprtrack import Pipeline
    from kprtrack.checkpoints import UnsafeCheckpointError
    from kprtrack.errors import KprtrackError

    sentinel = tmp_path / "PWNED"
    evil = write_malicious("reduce, torch legacy", tmp_path / "evil.pth", sentinel)
    with pytest.raises(UnsafeCheckpointError, match="evil.pth: refused"):
        Pipeline.from_config("demo", [f"pose.weights={evil}"])
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    write_malicious("subprocess.Popen", shadow / DETECTOR_FILE, sentinel)
    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(shadow))
    with pytest.raises(KprtrackError, match=DETECTOR_FILE):  # refused, or a checksum mismatch once #14 lands
        Pipeline.from_config("demo")
    assert not sentinel.exists()


def _shipped(name: str) -> dict:
    from kprtrack.checkpoints import load_checkpoint

    return load_checkpoint(WEIGHTS / name)


def _reshaped_pose(path: Path) -> Path:
    ckpt = _shipped("hrnet_w8_synth_128x96.pth")
    key = next(k for k in ckpt["state_dict"] if k.endswith("final_layer.weight"))
    ckpt["state_dict"][key] = torch.zeros(5, *ckpt["state_dict"][key].shape[1:])
    torch.save(ckpt, path)
    return path


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _saved(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


def _truncated(path: Path) -> Path:
    data = (WEIGHTS / DETECTOR_FILE).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


CHECKPOINT_ROWS = {
    # name: (section, make the file, needles)
    "pose checkpoint as detector": ("detector", lambda p: WEIGHTS / "hrnet_w8_synth_128x96.pth",
                                    ["detector.weights", "cannot infer the YOLOX architecture"]),
    "detector checkpoint as pose": ("pose", lambda p: WEIGHTS / DETECTOR_FILE,
                                    ["pose.weights", "cannot infer the architecture"]),
    "pose checkpoint as reid": ("reid", lambda p: WEIGHTS / "hrnet_w8_synth_128x96.pth",
                                ["reid.weights", "does not match the KPR model"]),
    "wrong shapes": ("pose", _reshaped_pose, ["shape mismatch", "final_layer.weight: checkpoint (5, 8, 1, 1)"]),
    "truncated file": ("detector", _truncated, ["not a readable PyTorch checkpoint", "truncated"]),
    "empty file": ("reid", lambda p: _written(p, b""), ["not a readable PyTorch checkpoint"]),
    "text file": ("pose", lambda p: _written(p, b"hello"), ["not a readable PyTorch checkpoint"]),
    "no state dict inside": ("detector", lambda p: _saved(p, [1, 2]), ["detector.weights", "is a dict, got list"]),
    "malformed arch entry": ("detector", lambda p: _saved(p, {"model": {"w": torch.zeros(1)}, "arch": {"bogus": 1}}),
                             ["detector.weights", "unexpected keyword argument 'bogus'"]),
    "state dict of non-tensors": ("pose", lambda p: _saved(p, {"state_dict": {"backbone.conv1.weight": [1]}}),
                                  ["pose.weights", "no state dict of tensors"]),
    "missing file": ("reid", lambda p: p, ["weights file not found"]),
}  # fmt: skip


@pytest.mark.parametrize("row", list(CHECKPOINT_ROWS))
def test_bad_checkpoints(row: str, media: Path, tmp_path: Path) -> None:
    section, make, needles = CHECKPOINT_ROWS[row]
    path = make(tmp_path / "bad.pth")
    result = kprtrack("run", media / "clip.mp4", "--out", tmp_path / "p.json", "--config", "demo",
                      "--set", f"{section}.weights={path}")  # fmt: skip
    error_line(result, path, *needles)
    assert not (tmp_path / "p.json").exists()


def _altered_copy(folder: Path) -> Path:
    """A loadable copy of the shipped detector with one weight changed (its sha256 no longer matches)."""
    folder.mkdir()
    ckpt = _shipped(DETECTOR_FILE)
    sd = ckpt["model"] if "model" in ckpt else ckpt["state_dict"]
    key = next(iter(sd))
    sd[key] = sd[key] + 1e-3
    torch.save(ckpt, folder / DETECTOR_FILE)
    return folder


def test_checksum_mismatch_on_load_cli(media: Path, tmp_path: Path) -> None:
    shadow = _altered_copy(tmp_path / "shadow")
    result = kprtrack("run", media / "clip.mp4", "--out", tmp_path / "p.json", "--config", "demo",
                      env={"KPRTRACK_WEIGHTS": str(shadow)})  # fmt: skip
    assert "mismatch" in error_line(result, DETECTOR_FILE).lower()  # size checked first, then sha256
    assert not (tmp_path / "p.json").exists()


def test_checksum_mismatch_on_load_api(tmp_path: Path, monkeypatch) -> None:
    from kprtrack import Pipeline
    from kprtrack.errors import KprtrackError

    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(_altered_copy(tmp_path / "shadow")))
    with pytest.raises(KprtrackError, match="(?i)mismatch"):
        Pipeline.from_config("demo")


def test_traceback_only_with_debug(media: Path, tmp_path: Path) -> None:
    """The issue's report, in a real process: a malicious checkpoint named by a config file."""
    sentinel = tmp_path / "PWNED"
    evil = write_malicious("reduce, torch zip", tmp_path / "evil.pth", sentinel)
    config = tmp_path / "evil.yaml"
    config.write_text(f"detector:\n  kind: yolox\n  weights: {evil}\n")
    cmd = [sys.executable, "-m", "kprtrack", "run", str(media / "clip.mp4"), "--out", str(tmp_path / "p.json"),
           "--config", str(config)]  # fmt: skip
    plain = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.startswith(f"kprtrack: error: {evil}: refused: checkpoint references the global 'posix.system'")
    # --debug or KPRTRACK_DEBUG=1: the error propagates with its traceback (exit 1, like any uncaught exception)
    args = ["run", media / "clip.mp4", "--out", tmp_path / "p.json", "--config", config]
    for result in (kprtrack("--debug", *args), kprtrack(*args, env={"KPRTRACK_DEBUG": "1"})):
        assert result.exit_code == 1 and type(result.exception).__name__ == "UnsafeCheckpointError"
    assert not sentinel.exists()


# ============================================================================ other commands
def test_render_bad_inputs(media: Path, tmp_path: Path) -> None:
    preds = tmp_path / "preds.json"
    preds.write_text('{"images": [')
    error_line(kprtrack("render", media / "clip.mp4", preds, "--out", tmp_path / "o.mp4"), preds, "not valid JSON")
    preds.write_text(json.dumps({"images": [], "annotations": []}))
    error_line(kprtrack("render", media / "clip.mp4", preds, "--out", tmp_path / "o.mp4"), preds, "no images")
    preds.write_text(json.dumps({"images": [{"id": 1}], "annotations": []}))
    error_line(kprtrack("render", media / "nope.mp4", preds, "--out", tmp_path / "o.mp4"), "input not found")
    error_line(kprtrack("render", media / "text.mp4", preds, "--out", tmp_path / "o.mp4"), "cannot decode")
    error_line(kprtrack("render", media / "clip.mp4", tmp_path / "nope.json", "--out", tmp_path / "o.mp4"), "nope.json")
    usage_error(kprtrack("render", media / "clip.mp4", preds), "--out")
    assert files_in(tmp_path) == {"preds.json"}


def test_synth_bad_inputs(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    error_line(kprtrack("synth", "--preset", "tiny", "--out", tmp_path / "file" / "d", "--quiet"), "file")
    error_line(kprtrack("synth", "--stats", tmp_path / "nothing"), "posetrack_data")
    usage_error(kprtrack("synth", "--preset", "huge"), "huge")
    usage_error(kprtrack("synth", "--preset", "tiny", "--out", tmp_path / "d", "--occlusion", 2), "--occlusion")
    usage_error(kprtrack("synth", "--preset", "tiny", "--out", tmp_path / "d", "--seed", -5), "--seed")
    assert files_in(tmp_path) == {"file"}


def test_weights_bad_inputs() -> None:
    error_line(kprtrack("weights", "path", "no_such_weights"), "unknown weights 'no_such_weights'")
    error_line(kprtrack("weights", "verify", "no_such_weights"), "no_such_weights")
    result = kprtrack("weights", "path", "yolox_x_coco", env={"KPRTRACK_WEIGHTS": "/nonexistent"})
    error_line(result, "yolox_x.pth", "github.com/Megvii")


def test_demo_bad_inputs(tmp_path: Path) -> None:
    usage_error(kprtrack("demo", "--frames", 3, "--out", tmp_path / "d"), "--frames")
    usage_error(kprtrack("demo", "--seed", -1, "--out", tmp_path / "d"), "--seed")
    (tmp_path / "file").write_text("x")
    usage_error(kprtrack("demo", "--frames", 10, "--out", tmp_path / "file", "--no-render"), "is a file")
    assert files_in(tmp_path) == {"file"}


# ============================================================================ Python API
def _pipeline(detector: object = None, max_people: int = 100):
    from kprtrack.pipeline import Pipeline
    from kprtrack.track import ByteTrackIoU

    return Pipeline(detector or StubDetector(), StubPose(), None, ByteTrackIoU(), max_people=max_people)


BAD_FRAMES = {
    "float32": (np.zeros((48, 64, 3), np.float32), "expected dtype uint8, got float32"),
    "int64": (np.zeros((48, 64, 3), np.int64), "expected dtype uint8, got int64"),
    "bool": (np.zeros((48, 64, 3), bool), "expected dtype uint8, got bool"),
    "grayscale (H, W)": (np.zeros((48, 64), np.uint8), "got shape (48, 64) (convert grayscale"),
    "one channel": (np.zeros((48, 64, 1), np.uint8), "got shape (48, 64, 1)"),
    "RGBA": (np.zeros((48, 64, 4), np.uint8), "got shape (48, 64, 4) (convert grayscale or RGBA"),
    "channels first": (np.zeros((3, 48, 64), np.uint8), "got shape (3, 48, 64) (channels first?"),
    "empty": (np.zeros((0, 0, 3), np.uint8), "empty frame"),
    "a list": ([[[0, 0, 0]]], "expected a numpy array, got list"),
}


@pytest.mark.parametrize("row", list(BAD_FRAMES))
def test_api_bad_frames(row: str) -> None:
    frame, needle = BAD_FRAMES[row]
    with pytest.raises(ValueError, match=r"^frame 7: .*" + re.escape(needle)):
        _pipeline().process(frame, 7)
    good = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="frame 2: "):
        list(_pipeline().track([good, good, frame, good]))


def test_api_bad_sources_are_user_errors(media: Path) -> None:
    from kprtrack.errors import KprtrackError
    from kprtrack.video import VideoSourceError

    with pytest.raises(VideoSourceError, match="input not found"):
        list(_pipeline().track(media / "nope.mp4"))
    with pytest.raises(KprtrackError, match="damaged stream"):
        list(_pipeline().track(media / "damaged.mp4"))


class NonFiniteDetector:
    def detect(self, frames: list) -> list:
        boxes = np.array([[0, 0, 10, 20], [np.nan, 0, 10, 20], [5, 5, np.inf, 20], [20, 0, 40, 30]], np.float32)
        return [(boxes, np.array([0.9, 0.9, 0.9, np.nan], np.float32)) for _ in frames]


def test_api_nan_boxes_from_a_custom_detector_are_dropped_with_a_warning(caplog) -> None:
    record = _pipeline(NonFiniteDetector()).process(np.zeros((48, 64, 3), np.uint8), 4)
    assert len(record) == 1 and record.boxes.tolist() == [[0, 0, 10, 20]]
    assert "frame 4: dropped 3 of 4 detections with a NaN or infinite box or score" in caplog.text


class BadShapeDetector:
    def detect(self, frames: list) -> list:
        return [(np.zeros((3, 5), np.float32), np.zeros(3, np.float32)) for _ in frames]


def test_api_detector_with_wrong_output_shapes() -> None:
    with pytest.raises(ValueError, match=r"frame 0: the detector returned boxes of shape \(3, 5\)"):
        _pipeline(BadShapeDetector()).process(np.zeros((48, 64, 3), np.uint8), 0)


@pytest.mark.parametrize("people", [0, 200])
def test_api_zero_and_200_people_through_the_registry(people: int, monkeypatch) -> None:
    """The stub detector as ``detector.kind`` of the shipped demo config: real pose and KPR models."""
    from kprtrack import Pipeline

    monkeypatch.setenv("RELIABILITY_STUB_PEOPLE", str(people))
    pipeline = Pipeline.from_config("demo", [f"detector.kind={KIND}", "reid.batch_size=64"])
    assert pipeline.max_people == 100
    record = pipeline.process(np.full((360, 640, 3), 127, np.uint8), 0)
    kept = min(people, 100)
    assert len(record) == kept and record.keypoints.shape == (kept, 17, 3)
    assert record.embeddings.shape[0] == kept and record.track_ids.shape == (kept,)
    if people:
        assert record.scores.min() >= np.sort(np.linspace(0.9, 0.5, people))[-100] - 1e-6  # the highest scores


def test_api_one_pixel_frame_with_a_person_through_real_models() -> None:
    from kprtrack import Pipeline

    pipeline = Pipeline.from_config("demo", [f"detector.kind={KIND}"])
    record = pipeline.process(np.zeros((1, 1, 3), np.uint8), 0)
    assert len(record) == 2 and np.isfinite(record.embeddings).all()


# ============================================================================ progress
class FakeStream:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_log() -> None:
    from kprtrack.progress import Progress

    tty = FakeStream(tty=True)
    with Progress(5, "clip", stream=tty, interval=0) as bar:
        for _ in range(5):
            bar.update()
    assert "\r" in tty.text and "5/5" in tty.text
    log = FakeStream(tty=False)
    with Progress(5, "clip", stream=log, interval=0) as bar:
        for _ in range(5):
            bar.update()
    lines = log.text.splitlines()
    assert "\r" not in log.text and len(lines) == 6  # one a frame with interval 0, plus the last
    assert lines[2].startswith("clip: 3/5 frames (60.0 %), ") and "frames/s" in lines[2]
    quiet = FakeStream(tty=False)
    with Progress(5, "clip", stream=quiet, interval=3600) as bar:
        for _ in range(5):
            bar.update()
    assert quiet.text.count("\n") == 1 and quiet.text.startswith("clip: 5/5 frames")


def test_run_in_a_log_prints_plain_progress_lines(media: Path, stub_config: Path, tmp_path: Path) -> None:
    result = kprtrack(*run_args(media / "clip.mp4", tmp_path, stub_config), env={"KPRTRACK_PROGRESS_INTERVAL": "0"})
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr
    assert [line.split(" frames")[0] for line in result.stderr.splitlines()][-1] == "clip: 12/12"
