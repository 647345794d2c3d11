"""Online multi-person trackers: KPRTrack (appearance, part-based KPR distance) and an IoU ByteTrack baseline.

Use::

    from kprtrack.config import load_dataclass
    from kprtrack.track import KPRTracker, KPRTrackerConfig

    tracker = KPRTracker(load_dataclass(KPRTrackerConfig, "configs/tracker/kprtrack.yaml"), frame_rate=25)
    tracked = tracker.update(record)  # FrameRecord -> FrameRecord with track_ids (-1 = untracked)

The names below load lazily: ``import kprtrack.track.config`` (the config dataclasses) needs neither
``lap`` nor the trackers. See ``docs/tracker.md``.
"""

from __future__ import annotations

from kprtrack.lazy import lazy_getattr

_EXPORTS = {
    "Pass": "kprtrack.track.association",
    "linear_assignment": "kprtrack.track.association",
    "BaseTracker": "kprtrack.track.base",
    "ByteTrackIoU": "kprtrack.track.bytetrack_iou",
    "ByteTrackIoUConfig": "kprtrack.track.config",
    "KPRTrackerConfig": "kprtrack.track.config",
    "OutputFilterConfig": "kprtrack.track.config",
    "TRACKER_CONFIGS": "kprtrack.track.config",
    "TrackerConfig": "kprtrack.track.config",
    "filter_frame": "kprtrack.track.filters",
    "filter_sequence": "kprtrack.track.filters",
    "filter_short_tracklets": "kprtrack.track.filters",
    "IdCounter": "kprtrack.track.state",
    "Track": "kprtrack.track.state",
    "TrackState": "kprtrack.track.state",
    "KPRTracker": "kprtrack.track.tracker",
    "TRACKERS": "kprtrack.track.variants",
    "build_tracker": "kprtrack.track.variants",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("kprtrack.track", _EXPORTS)
