"""``kprtrack batch`` without Ray: inputs, resume, scheduling and retries, the local process-pool backend, the CLI."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kprtrack.batch.inputs import BatchInput, BatchInputError, discover_inputs, safe_name
from kprtrack.batch.report import BatchReport, Outcome
from kprtrack.batch.resume import (
    MANIFEST_DIR,
    completion_state,
    manifest_path,
    plan_resume,
    settings_fingerprint,
    write_manifest,
)
from kprtrack.batch.runner import BatchOptions, run_batch
from kprtrack.batch.scheduler import Completion, schedule
from kprtrack.batch.worker import TaskResult
from kprtrack.cli import main
from tests.batch_data import CONFIG, MAX_FRAMES, broken_video, sequential_outputs

# ----------------------------------------------------------------------------- inputs


def test_a_posetrack21_root_gives_its_sequences_only(tiny):
    names = [i.name for i in discover_inputs([tiny])]
    # images/<split>/<seq> folders; the masks/ tree (also PNG folders) and the videos/ of the dataset are not inputs
    assert names == sorted(p.name for split in (tiny / "images").iterdir() for p in split.iterdir())
    assert all(i.path.is_absolute() for i in discover_inputs([tiny]))
    one = sorted((tiny / "images" / "val").iterdir())[0]
    assert [i.name for i in discover_inputs([one, one, tiny / "images" / "val"])][0] == one.name  # each path once
    assert len(discover_inputs([one, tiny / "images" / "val"])) == 2


def test_folders_of_videos_names_are_unique_and_safe(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for p in (tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.avi", tmp_path / "a" / "x y;z.mkv"):
        p.write_bytes(b"")
    (tmp_path / "a" / "notes.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.mp4").write_bytes(b"")
    items = discover_inputs([tmp_path])
    names = [i.name for i in items]
    assert len(names) == 3 and len(set(names)) == 3
    assert "x_y_z" in names
    clips = [n for n in names if n.startswith("clip-")]  # both called clip: a hash of the path tells them apart
    assert len(clips) == 2
    assert safe_name("../../etc/passwd") == "_.._etc_passwd" and safe_name("...") == "input"
    assert len(safe_name("v" * 500)) == 120


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(BatchInputError, match="input not found"):
        discover_inputs([tmp_path / "nope.mp4"])
    (tmp_path / "list.txt").write_text("")
    with pytest.raises(BatchInputError, match="not a video file"):
        discover_inputs([tmp_path / "list.txt"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match="no video files and no image folders"):
        discover_inputs([tmp_path / "empty"])


# ----------------------------------------------------------------------------- resume


def test_settings_fingerprint_tracks_what_changes_results():
    base = settings_fingerprint(CONFIG, [], 0, None, None)
    assert settings_fingerprint(CONFIG, ["threads=2"], 0, None, None) == base  # speed only
    assert settings_fingerprint(CONFIG, ["output.joint_thresh=0.5"], 0, None, None) != base
    assert settings_fingerprint(CONFIG, [], 0, None, 10) != base
    assert settings_fingerprint(None, [], 0, None, None) != base


def test_completion_states_and_plan(tmp_path, tiny):
    item = discover_inputs([tiny / "images" / "val"])[0]
    other = BatchInput(item.name, tmp_path / "elsewhere")
    out = tmp_path / "out"
    assert completion_state(out, item, "f1") == "missing"
    out.mkdir()
    pred = out / f"{item.name}.json"
    pred.write_text('{"images": [], "annotations": []}')
    assert completion_state(out, item, "f1") == "no manifest"  # e.g. written by `kprtrack run`
    write_manifest(out, item, "f1", frames=0, seconds=0.0)
    assert completion_state(out, item, "f1") == "complete"
    assert completion_state(out, item, "f2") == "settings changed"
    assert completion_state(out, other, "f1") == "other input"
    pred.write_text('{"images": [')  # truncated
    assert completion_state(out, item, "f1") == "invalid"
    pred.write_text('{"images": [], "annotations": []}')

    stale = out / f".{item.name}.json.abc123.tmp"  # left by a killed worker
    stale.write_text("partial")
    plan = plan_resume(out, [item], "f1")
    assert plan.complete == [item] and plan.todo == [] and stale.exists()
    plan = plan_resume(out, [item], "f1", force=True)
    assert plan.todo == [item] and plan.reasons == {item.name: "forced"}
    # an input to run loses its manifest (its old file no longer counts as complete) and its temporaries
    assert not stale.exists() and not manifest_path(out, item).exists()
    assert completion_state(out, item, "f1") == "no manifest"


# ----------------------------------------------------------------------------- scheduling


class ScriptedBackend:
    """Runs nothing: each submission's fate is scripted per input (``ok``, ``error``, ``crash`` per attempt)."""

    name = "scripted"

    def __init__(self, workers: int, script: dict[str, list[str]]) -> None:
        self.workers = workers
        self.script = {k: list(v) for k, v in script.items()}
        self.queue: list[tuple[int, BatchInput]] = []
        self.most_in_flight = 0
        self.submitted: list[str] = []

    def submit(self, ticket: int, item: BatchInput) -> None:
        self.queue.append((ticket, item))
        self.submitted.append(item.name)
        self.most_in_flight = max(self.most_in_flight, len(self.queue))

    def wait(self, timeout: float | None) -> list[Completion]:
        ticket, item = self.queue.pop(0)
        fate = self.script[item.name].pop(0)
        if fate == "crash":
            return [Completion(ticket, crash="ActorDiedError: killed")]
        ok = fate == "ok"
        return [Completion(ticket, result=TaskResult(item.name, ok, "" if ok else "ValueError: bad", frames=3))]

    def close(self) -> None:
        pass


def _items(names: list[str]) -> list[BatchInput]:
    return [BatchInput(n, Path("/in") / n) for n in names]


def test_scheduler_retries_crashes_not_errors_and_bounds_submissions():
    names = [f"v{i}" for i in range(50)]
    script = {n: ["ok"] for n in names}
    script["v3"] = ["crash", "crash", "ok"]  # worker killed twice, then fine
    script["v7"] = ["crash", "crash", "crash"]  # dies every time
    script["v9"] = ["error", "ok"]  # a bad input: not retried by default
    backend = ScriptedBackend(workers=3, script=script)
    events = []
    outcomes = schedule(
        backend, _items(names), max_retries=2, on_event=lambda e: events.append((e.kind, e.outcome.name))
    )
    by = {o.name: o for o in outcomes}
    assert [o.name for o in outcomes] == names  # input order
    assert backend.most_in_flight == 6  # twice the workers, never all 50
    assert by["v3"].status == "done" and by["v3"].attempts == 3
    assert by["v7"].status == "failed" and by["v7"].attempts == 3 and "worker died 3 time(s)" in by["v7"].reason
    assert by["v9"].status == "failed" and by["v9"].attempts == 1 and by["v9"].reason == "ValueError: bad"
    assert sum(o.status == "done" for o in outcomes) == 48
    assert events.count(("retry", "v3")) == 2 and ("failed", "v7") in events and ("done", "v3") in events


def test_scheduler_error_retries_and_limits():
    backend = ScriptedBackend(workers=1, script={"a": ["error", "ok"], "b": ["ok"]})
    outcomes = schedule(backend, _items(["a", "b"]), error_retries=1, max_in_flight=1)
    assert [(o.status, o.attempts) for o in outcomes] == [("done", 2), ("done", 1)]
    assert backend.most_in_flight == 1 and backend.submitted == ["a", "a", "b"]  # a retry goes first
    with pytest.raises(ValueError, match="retry counts"):
        schedule(backend, [], max_retries=-1)
    with pytest.raises(ValueError, match="max_in_flight"):
        schedule(backend, [], max_in_flight=0)


def test_report_table():
    outcomes = [
        Outcome("a", Path("a"), "done", attempts=2, frames=40, seconds=4.0),
        Outcome("b", Path("b"), "failed", "VideoSourceError: unreadable", attempts=1),
        Outcome("c", Path("c"), "skipped", "complete"),
    ]
    report = BatchReport(outcomes, seconds=30.0, backend="local", workers=2)
    text = report.format()
    assert "a      done     40      10.0      2" in text and "VideoSourceError: unreadable" in text
    assert text.splitlines()[-1].startswith("done 1, failed 1, skipped 1 in 30.0 s on 2 local worker(s): 40 frames")
    assert "2.00 sequences/min" in text
    short = report.format(max_rows=2)  # many inputs: only the failed rows
    assert "a      done" not in short and "VideoSourceError" in short and "2 rows not shown" in short
    assert report.to_json()["counts"] == {"done": 1, "failed": 1, "skipped": 1}


def test_pipeline_cache_loads_models_once_and_rebuilds_per_video_stages(tiny):
    from kprtrack.batch.pipeline_cache import PipelineCache
    from kprtrack.pipeline_config import load_pipeline_config

    cache = PipelineCache()
    config = load_pipeline_config(CONFIG)
    first = cache(config, frame_rate=25.0)
    second = cache(config, frame_rate=50.0)
    assert cache.builds == 1
    assert second.detector is first.detector and second.pose is first.pose and second.embedder is first.embedder
    assert second.tracker is not first.tracker and second.tracker.frame_rate == 50.0
    # the oracle reads one sequence's ground truth: rebuilt for every video
    oracle = load_pipeline_config("oracle_iou")
    gts = sorted((tiny / "posetrack_data" / "val").glob("*.json"))
    a, b = cache(oracle, gt_path=gts[0]), cache(oracle, gt_path=gts[1])
    assert cache.builds == 3 and a.detector is not b.detector


# ----------------------------------------------------------------------------- the local backend, end to end


def _pid(worker: str) -> int:
    return int(worker.rsplit(":", 1)[1])


def test_local_backend_matches_sequential_runs_survives_a_killed_worker_and_resumes(tiny, tmp_path, tmp_path_factory):
    expected = sequential_outputs(tmp_path_factory, tiny)
    inputs = discover_inputs([broken_video(tmp_path / "bad"), tiny])
    out = tmp_path / "out"
    options = BatchOptions(out, config=CONFIG, max_frames=MAX_FRAMES, backend="local", workers=2)
    killed: list[str] = []

    def on_event(event):
        # kill the worker that finished first: it has taken the next input, which dies with it
        if event.kind == "done" and not killed:
            killed.append(event.outcome.worker)
            os.kill(_pid(event.outcome.worker), signal.SIGKILL)

    report = run_batch(inputs, options, on_event=on_event)
    by = {o.name: o for o in report.outcomes}
    assert by["broken"].status == "failed" and by["broken"].attempts == 1
    assert by["broken"].reason.startswith("VideoSourceError:") and "cannot decode" in by["broken"].reason
    for name, data in expected.items():
        assert by[name].status == "done" and by[name].frames == MAX_FRAMES
        assert (out / f"{name}.json").read_bytes() == data, name  # identical to `kprtrack run`
    assert any(o.attempts == 2 for o in report.outcomes)  # the killed worker's input ran again
    assert report.count("done") == len(expected) and report.backend == "local"
    saved = json.loads((out / MANIFEST_DIR / "report.json").read_text())
    assert saved["counts"] == {"done": len(expected), "failed": 1, "skipped": 0}
    assert not list(out.glob(".*.tmp"))

    # resume: nothing left to do but the broken input, and no pool is started for complete outputs
    events = []
    again = run_batch(inputs[1:], options, on_event=lambda e: events.append(e.kind))
    assert events == ["skipped"] * len(expected) and again.workers == 0
    assert all((out / f"{n}.json").read_bytes() == d for n, d in expected.items())


def test_cli_batch_reports_failures_skips_complete_outputs_and_exits_1(tiny, tmp_path, tmp_path_factory):
    expected = sequential_outputs(tmp_path_factory, tiny)
    out = tmp_path / "out"
    fingerprint = settings_fingerprint(CONFIG, [], 0, None, MAX_FRAMES)
    for item in discover_inputs([tiny]):  # outputs already complete for these settings
        (out / f"{item.name}.json").parent.mkdir(parents=True, exist_ok=True)
        (out / f"{item.name}.json").write_bytes(expected[item.name])
        write_manifest(out, item, fingerprint, MAX_FRAMES, 1.0)
    bad = broken_video(tmp_path / "bad")
    args = ["batch", str(tiny), str(bad), "--out", str(out), "--config", CONFIG, "--max-frames", str(MAX_FRAMES)]
    result = CliRunner().invoke(main, [*args, "--local", "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert "failed broken: VideoSourceError" in result.output  # progress line (not a terminal)
    assert f"done 0, failed 1, skipped {len(expected)}" in result.output
    r = CliRunner().invoke(main, [*args, "--local", "--num-gpus", "1"])
    assert r.exit_code == 2 and "need the Ray backend" in r.output
    r = CliRunner().invoke(main, [*args, "--eval", str(tiny / "posetrack_data" / "val")])
    assert r.exit_code == 2 and "--eval scores whole sequences" in r.output
    r = CliRunner().invoke(main, ["batch", str(tmp_path / "missing"), "--out", str(out), "--local"])
    assert r.exit_code != 0 and "input not found" in r.output


def test_without_ray_the_message_says_how_to_install_it_or_run_locally(tmp_path, monkeypatch):
    from kprtrack.batch.ray_backend import RayNotInstalledError, import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    with pytest.raises(RayNotInstalledError, match=r'pip install "kprtrack\[ray\]"'):
        import_ray()
    bad = broken_video(tmp_path / "bad")
    r = CliRunner().invoke(main, ["batch", str(bad), "--out", str(tmp_path / "out")])
    assert r.exit_code != 0 and "Ray is not installed" in r.output and "kprtrack batch --local" in r.output


def test_eval_headline_scores_complete_outputs(tiny, tmp_path):
    from kprtrack.cli.batch import _evaluate

    gt_dir = tiny / "posetrack_data" / "val"
    out = tmp_path / "out"
    out.mkdir()
    outcomes = []
    for gt in sorted(gt_dir.glob("*.json")):  # the ground truth as predictions: a perfect score
        (out / gt.name).write_bytes(gt.read_bytes())
        outcomes.append(Outcome(gt.stem, gt, "skipped", "complete"))
    outcomes.append(Outcome("broken", Path("broken.mp4"), "failed", "VideoSourceError: x"))
    text = _evaluate(BatchReport(outcomes, 1.0, "local", 1), gt_dir, out)
    assert f"eval ({len(outcomes) - 1} sequences): keypoint HOTA 100, DetA 100, AssA 100" in text
