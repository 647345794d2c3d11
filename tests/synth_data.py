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


def tiny_with_crowd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny preset with a crowd zone (ignore region) in every sequence."""
    return generated(tmp_path_factory, "tiny", crowd_probability=1.0)
