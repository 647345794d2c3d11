"""Shared test helpers: the reference fixtures (``../shared/fixtures``) and real assets (``../shared/real``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def fixtures_root() -> Path:
    """``$KPRTRACK_FIXTURES`` or ``<repo>/../shared/fixtures``."""
    env = os.environ.get("KPRTRACK_FIXTURES")
    return Path(env) if env else REPO.parent / "shared" / "fixtures"


def require_fixture(name: str) -> Path:
    """Path of ``fixtures/<name>``; skip the test if absent, fail if KPRTRACK_REQUIRE_FIXTURES=1."""
    path = fixtures_root() / name
    if not path.exists():
        msg = f"reference fixture {path} is not present"
        if os.environ.get("KPRTRACK_REQUIRE_FIXTURES") == "1":
            pytest.fail(msg + " (KPRTRACK_REQUIRE_FIXTURES=1)")
        pytest.skip(msg)
    return path


def real_root() -> Path:
    """``$KPRTRACK_REAL`` or ``<repo>/../shared/real`` (real models, photos and clips made by others)."""
    env = os.environ.get("KPRTRACK_REAL")
    return Path(env) if env else REPO.parent / "shared" / "real"


def require_real(name: str) -> Path:
    """Path of ``real/<name>``; skip the test if absent, fail if KPRTRACK_REQUIRE_FIXTURES=1."""
    path = real_root() / name
    if not path.exists():
        msg = f"real asset {path} is not present"
        if os.environ.get("KPRTRACK_REQUIRE_FIXTURES") == "1":
            pytest.fail(msg + " (KPRTRACK_REQUIRE_FIXTURES=1)")
        pytest.skip(msg)
    return path


@pytest.fixture
def fixture_dir():
    """Call as ``fixture_dir('kpr_reference')``."""
    return require_fixture


@pytest.fixture(scope="session")
def _weights_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kprtrack_user_cache")


@pytest.fixture(autouse=True)
def _no_weight_downloads(monkeypatch, _weights_cache):
    """Tests never download weights (KPRTRACK_OFFLINE=1, inherited by subprocesses) and never read or
    write the developer's weights cache (the user cache folder is a per-session temporary one)."""
    monkeypatch.setenv("KPRTRACK_OFFLINE", "1")
    monkeypatch.setattr("kprtrack.weights.user_cache_dir", lambda: _weights_cache)
