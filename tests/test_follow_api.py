"""``kprtrack follow`` and :func:`kprtrack.follow.api.follow_video` on a generated clip with ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from kprtrack.cli import main
from kprtrack.follow.evaluate import score_follow
from kprtrack.follow.result import FollowResult
from tests.follow_data import follow_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return follow_clip(tmp_path_factory)


def _point_args(clicks) -> list[str]:
    args = ["--frame", str(clicks.frame)]
    for x, y in clicks.positives:
        args += ["--point", f"{x:.1f},{y:.1f}"]
    for x, y in clicks.negatives:
        args += ["--negative", f"{x:.1f},{y:.1f}"]
    return args


@pytest.fixture(scope="module")
def followed(clip, tmp_path_factory):
    """One CLI run (clicks on the target, one negative click), with an overlay."""
    out = tmp_path_factory.mktemp("follow")
    result = CliRunner().invoke(
        main,
        ["follow", str(clip.video), *_point_args(clip.clicks), "--out", str(out / "follow.json")]
        + ["--render", str(out / "overlay.webm")],
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_cli_follows_the_clicked_person(clip, followed):
    out, output = followed
    assert "prompts used" in output
    result = FollowResult.from_json(json.loads((out / "follow.json").read_text()))
    assert len(result.frames) == len(clip.gt) == result.video["frames"]
    assert result.query["prompts_used"] and result.query["negative_prompt_joints"] >= 1
    score = score_follow(result.frames, clip.gt, clip.target)
    assert score.query_correct
    assert score.accuracy >= 0.9, score  # the followed track is the clicked person in >= 90 % of its frames
    assert score.recall >= 0.5, score
    clicked = [f for f in result.frames if f.clicked]
    assert len(clicked) == 1 and clicked[0].frame == clip.clicks.frame and clicked[0].confidence == 1.0
    present = [f for f in result.frames if f.present]
    assert all(0 <= f.confidence <= 1 and f.box is not None and f.visibility.shape == (9,) for f in present)


def test_cli_writes_a_playable_overlay(clip, followed):
    from kprtrack.video import FrameSource

    info = FrameSource(followed[0] / "overlay.webm").info
    assert (info.num_frames, info.width, info.height) == (len(clip.gt), 640, 360)


def test_follow_runs_with_an_embedder_without_prompts(clip):
    from kprtrack.follow.api import FollowRequest, follow_video

    done = []
    result = follow_video(
        FollowRequest(clip.video, clip.clicks, overrides=["reid.use_prompts=false"]), lambda d, t: done.append((d, t))
    )
    assert not result.query["prompts_used"]  # the clicks only selected the person
    assert done[-1] == (len(clip.gt), len(clip.gt))
    assert score_follow(result.frames, clip.gt, clip.target).query_correct


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frame", "999", "--point", "10,10"], "frame 999 is out of range: the video has 30 frames"),
        (["--frame", "0", "--point", "700,10"], "positive point (700, 10) is outside the 640x360 frame"),
        (["--frame", "0", "--point", "5,5", "--negative", "-1,5"], "negative point (-1, 5) is outside"),
        (["--frame", "0", "--point", "12"], "expected X,Y in pixels"),
        (["--frame", "0", "--point", "2,2"], "no detected person at (2, 2) in frame 0"),
    ],
)
def test_cli_bad_input_gives_one_line_errors(clip, tmp_path, args, message):
    result = CliRunner().invoke(main, ["follow", str(clip.video), *args, "--out", str(tmp_path / "f.json")])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "f.json").exists()


def test_cli_missing_video_and_config_without_embedder(clip, tmp_path):
    result = CliRunner().invoke(main, ["follow", str(tmp_path / "nope.mp4"), "--frame", "0", "--point", "1,1"]
                                + ["--out", str(tmp_path / "f.json")])  # fmt: skip
    assert result.exit_code != 0 and "video not found" in result.output
    result = CliRunner().invoke(
        main,
        ["follow", str(clip.video), *_point_args(clip.clicks), "--out", str(tmp_path / "f.json")]
        + ["--set", "reid.kind=none", "--set", "tracker.kind=bytetrack_iou", "--set", "tracker.params={}"],
    )
    assert result.exit_code != 0 and "needs an appearance embedder" in result.output


def test_overlay_frame_highlights_the_person():
    from kprtrack.follow.render import FOLLOW_COLOR, FollowPainter
    from kprtrack.follow.result import FollowFrame
    from kprtrack.structures import FrameRecord

    record = FrameRecord(np.array([[10, 10, 50, 90]], np.float32), np.ones(1, np.float32), np.zeros((1, 17, 3)))
    followed = FollowFrame(0, True, 0.8, 0.2, record.boxes[0], record.keypoints[0], np.array([True] * 3), row=0)
    painter = FollowPainter(["foreground", "head", "torso"])
    image = painter.draw(np.zeros((100, 120, 3), np.uint8), record, followed, np.random.rand(3, 8, 4))
    assert (image == FOLLOW_COLOR).all(axis=2).sum() > 100  # the highlighted box and label
