"""Shared generated data for the synth tests: each configuration is generated once per test session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

_CACHE: dict[tuple, Path] = {}


def generated(tmp_path_factory: pytest.TempPathFactory, preset: str = "tiny", **overrides: Any) -> Path:
    """Folder holding ``preset`` generated with ``overrides`` (written on first use)."""
    from kprtrack.synth.config import make_config
    from kprtrack.synth.writer import write_dataset

    key = (preset, *sorted(overrides.items()))
    if key not in _CACHE:
        root = tmp_path_factory.mktemp(f"synth_{preset}")
        write_dataset(make_config(preset, **overrides), root)
        _CACHE[key] = root
    return _CACHE[key]


def occ_ptrack(tmp_path_factory: pytest.TempPathFactory, with_train: bool = True) -> Path:
    """An Occluded-PoseTrack-ReID folder built from the tiny preset, once per session (tests only read it).

    Args:
        tmp_path_factory: pytest's factory.
        with_train: build the ``train`` split too (else only query / gallery).
    """
    from kprtrack.reid.train.occ_ptrack import OccPTrackConfig, build_occ_ptrack

    key = ("occ_ptrack", with_train)
    if key not in _CACHE:
        root = generated(tmp_path_factory, "tiny", write_video=False)
        out = tmp_path_factory.mktemp("occ_ptrack")
        build_occ_ptrack(out, root if with_train else None, root, OccPTrackConfig())
        _CACHE[key] = out
    return _CACHE[key]


def tiny_with_crowd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny preset with a crowd zone (ignore region) in every sequence."""
    return generated(tmp_path_factory, "tiny", crowd_probability=1.0)
