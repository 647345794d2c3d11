"""Shared test helpers: the reference fixtures (``../shared/fixtures``) and real assets (``../shared/real``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_dir(env: str, name: str) -> Path:
    """``$<env>`` or ``<repo>/../shared/<name>``."""
    value = os.environ.get(env)
    return Path(value) if value else REPO.parent / "shared" / name


def _require(path: Path, what: str) -> Path:
    """``path``; skip the test if it is absent, fail if KPRTRACK_REQUIRE_FIXTURES=1."""
    if not path.exists():
        msg = f"{what} {path} is not present"
        if os.environ.get("KPRTRACK_REQUIRE_FIXTURES") == "1":
            pytest.fail(msg + " (KPRTRACK_REQUIRE_FIXTURES=1)")
        pytest.skip(msg)
    return path


def fixtures_root() -> Path:
    """``$KPRTRACK_FIXTURES`` or ``<repo>/../shared/fixtures``."""
    return _shared_dir("KPRTRACK_FIXTURES", "fixtures")


def require_fixture(name: str) -> Path:
    """Path of ``fixtures/<name>``; skip the test if absent, fail if KPRTRACK_REQUIRE_FIXTURES=1."""
    return _require(fixtures_root() / name, "reference fixture")


def real_root() -> Path:
    """``$KPRTRACK_REAL`` or ``<repo>/../shared/real`` (real models, photos and clips made by others)."""
    return _shared_dir("KPRTRACK_REAL", "real")


def require_real(name: str) -> Path:
    """Path of ``real/<name>``; skip the test if absent, fail if KPRTRACK_REQUIRE_FIXTURES=1."""
    return _require(real_root() / name, "real asset")


@pytest.fixture
def fixture_dir():
    """Call as ``fixture_dir('kpr_reference')``."""
    return require_fixture


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """Run the suite's torch work on one thread.

    The CI machines are small and shared: oversubscribed intra-op threads make the small networks many
    times slower, and one thread keeps their float sums in a fixed order. A test that measures threading
    sets the count itself.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic ``tiny`` preset, generated once per test session."""
    from tests.synth_data import generated

    return generated(tmp_path_factory, "tiny")


@pytest.fixture(scope="session")
def _weights_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kprtrack_user_cache")


@pytest.fixture(autouse=True)
def _no_weight_downloads(monkeypatch, _weights_cache):
    """Tests never download weights (KPRTRACK_OFFLINE=1, inherited by subprocesses) and never read or
    write the developer's weights cache (the user cache folder is a per-session temporary one)."""
    monkeypatch.setenv("KPRTRACK_OFFLINE", "1")
    monkeypatch.setattr("kprtrack.weights.user_cache_dir", lambda: _weights_cache)


@pytest.fixture(scope="session")
def occ_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Occluded-PoseTrack-ReID folder (train, query, gallery) built from the tiny preset, once per session."""
    from tests.synth_data import occ_ptrack

    return occ_ptrack(tmp_path_factory)
