"""Shared data of the batch tests: tiny synthetic sequences and their sequential ``run_video`` outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

#: frames per input: enough for tracks to form, few enough to keep the tests fast.
MAX_FRAMES = 4
CONFIG = "demo"

_CACHE: dict[str, dict[str, bytes]] = {}


def sequential_outputs(tmp_path_factory: pytest.TempPathFactory, root: Path) -> dict[str, bytes]:
    """``name -> prediction file bytes`` of every sequence of ``root``, tracked one by one with ``run_video``
    (what ``kprtrack run SEQ --config demo --max-frames 4`` writes); computed once per session."""
    from kprtrack.batch.inputs import discover_inputs
    from kprtrack.run import RunOptions, run_video

    key = str(root)
    if key not in _CACHE:
        out = tmp_path_factory.mktemp("batch_sequential")
        outputs = {}
        for item in discover_inputs([root]):
            path = out / f"{item.name}.json"
            run_video(RunOptions(video=item.path, out=path, config=CONFIG, max_frames=MAX_FRAMES))
            outputs[item.name] = path.read_bytes()
        _CACHE[key] = outputs
    return _CACHE[key]


def broken_video(folder: Path) -> Path:
    """A ``.mp4`` file that no decoder can read (the injected failing input)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "broken.mp4"
    path.write_bytes(b"not a video" * 100)
    return path
