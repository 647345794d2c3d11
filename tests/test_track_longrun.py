"""A long video with people constantly entering, leaving and returning: storage stays bounded."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

from kprtrack.track import Track
from kprtrack.track.kalman import BoxKalmanState
from kprtrack.track.memory import PartMemory
from tests.track_helpers import Det, box_at, frame, identity, make_tracker

FRAMES = 5000
FEATURES = 512  # real KPR size: a leak of the ~350 removed tracks would hold > 6 MiB of features


def _live(cls: type) -> int:
    return sum(type(o) is cls for o in gc.get_objects())


def _rss_bytes() -> int:
    """Current resident set size (Linux), 0 where /proc is unavailable."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


class Churn:
    """About 8 people in view; each leaves with 2 % chance per frame, for good or for a while."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.present: dict[int, tuple[np.ndarray, float]] = {}
        self.away: dict[int, tuple[np.ndarray, float, int]] = {}  # person -> (features, x, frame of return)
        self.next_person = 0
        for _ in range(8):
            self._enter()

    def _enter(self) -> None:
        self.present[self.next_person] = (identity(self.rng, FEATURES), float(self.rng.uniform(50, 1800)))
        self.next_person += 1

    def step(self, t: int) -> tuple[list[Det], list[int]]:
        for person in list(self.present):
            if self.rng.random() < 0.02:
                features, x = self.present.pop(person)
                if self.rng.random() < 0.5:  # comes back after 1-60 frames (within or beyond the buffer)
                    self.away[person] = (features, x, t + int(self.rng.integers(1, 60)))
        for person in [p for p, (_, _, back) in self.away.items() if back <= t]:
            features, x, _ = self.away.pop(person)
            self.present[person] = (features, x)
        while len(self.present) + len(self.away) // 2 < 8:
            self._enter()
        people = sorted(self.present)
        dets = [Det(self.present[p][0], box_at(self.present[p][1] + self.rng.normal(0, 1))) for p in people]
        return dets, people


@pytest.mark.parametrize("variant", ["kpr", "bytetrack_iou"])
def test_storage_and_memory_stay_bounded(variant):
    tracker = make_tracker(variant)
    churn = Churn(seed=1)
    rng = np.random.default_rng(2)
    bank = rng.standard_normal((256, 9, FEATURES), dtype=np.float32)
    window = tracker.max_time_lost + 1
    recent: list[list[int]] = []
    max_tracks = 0
    rss = 0
    for t in range(FRAMES):
        dets, people = churn.step(t)
        out = tracker.update(frame(dets, t, rng, noise_bank=bank))
        assert len(out.track_ids) == len(dets)
        recent = (recent + [people])[-window:]
        seen = len(set().union(*map(set, recent)))
        # every stored track belongs to someone seen within the buffer (+ slack for a spurious new track)
        assert len(tracker.tracks) <= seen + 2, f"frame {t}: {len(tracker.tracks)} tracks, {seen} people"
        max_tracks = max(max_tracks, len(tracker.tracks))
        if t == 1000:
            gc.collect()
            rss = _rss_bytes()
    gc.collect()
    rss_end = _rss_bytes()
    assert churn.next_person > 300  # many people came and went
    assert tracker.id_counter.issued > 250
    assert max_tracks < 40
    # nothing holds on to removed tracks
    stored = len(tracker.tracks)
    assert _live(Track) == stored
    assert _live(PartMemory) == (stored if variant == "kpr" else 0)
    assert _live(BoxKalmanState) == (stored if tracker.uses_kalman else 0)
    assert rss_end - rss < 4 * 2**20, f"process memory (RSS) grew by {(rss_end - rss) / 2**20:.1f} MiB"
