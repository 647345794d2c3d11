"""``kprtrack batch`` on Ray: a local 2-CPU Ray instance (loopback only), shared by the module's tests.

Skipped with a reason when Ray is not installed (``pip install "kprtrack[ray]"``).
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from kprtrack.batch.inputs import discover_inputs
from kprtrack.batch.ray_backend import LOCAL_ENV
from kprtrack.batch.resume import settings_fingerprint, write_manifest
from kprtrack.batch.runner import BatchOptions, run_batch
from kprtrack.cli import main
from tests.batch_data import CONFIG, MAX_FRAMES, broken_video, sequential_outputs


@pytest.fixture(scope="module")
def ray() -> Iterator[Any]:
    """One Ray session for the module (starting Ray takes several seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in LOCAL_ENV.items():  # before `import ray`: listen on 127.0.0.1 only, no usage statistics
            mp.setenv(key, value)
        ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "kprtrack[ray]")')
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
        try:
            assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
            yield ray
        finally:
            ray.shutdown()


def test_ray_actor_pool_matches_sequential_runs_and_retries_a_killed_worker(ray, tiny, tmp_path, tmp_path_factory):
    expected = sequential_outputs(tmp_path_factory, tiny)
    inputs = discover_inputs([tiny])
    assert len(inputs) == 4  # two per actor: whichever actor finishes first still has an input queued
    out = tmp_path / "out"
    killed: list[str] = []

    def on_event(event):
        # kill the first actor that finished an input: it is now running its second one
        if event.kind == "done" and not killed:
            killed.append(event.outcome.worker)
            os.kill(int(event.outcome.worker.rsplit(":", 1)[1]), signal.SIGKILL)

    options = BatchOptions(out, config=CONFIG, max_frames=MAX_FRAMES, backend="ray", workers=2, max_in_flight=4)
    report = run_batch(inputs, options, on_event=on_event)
    assert report.backend == "ray" and report.workers == 2
    assert [o.status for o in report.outcomes] == ["done"] * 4, report.format()
    for name, data in expected.items():
        assert (out / f"{name}.json").read_bytes() == data, name  # identical to `kprtrack run`
    retried = [o for o in report.outcomes if o.attempts == 2]
    assert len(retried) == 1 and retried[0].worker != killed[0]  # it completed on the replacement actor
    assert ray.is_initialized()  # a session the batch did not start is left running


def test_cli_batch_on_ray_reports_a_failing_input(ray, tiny, tmp_path, tmp_path_factory):
    expected = sequential_outputs(tmp_path_factory, tiny)
    out = tmp_path / "out"
    fingerprint = settings_fingerprint(CONFIG, [], 0, None, MAX_FRAMES)
    for item in discover_inputs([tiny]):
        out.mkdir(exist_ok=True)
        (out / f"{item.name}.json").write_bytes(expected[item.name])
        write_manifest(out, item, fingerprint, MAX_FRAMES, 1.0)
    bad = broken_video(tmp_path / "bad")
    args = ["batch", str(bad), str(tiny), "--out", str(out), "--config", CONFIG, "--max-frames", str(MAX_FRAMES)]
    result = CliRunner().invoke(main, [*args, "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert re.search(r"\nbroken +failed +- +- +1 +VideoSourceError: .*cannot decode", result.output)
    assert "done 0, failed 1, skipped 4" in result.output and "ray worker(s)" in result.output
