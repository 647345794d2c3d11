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

from kprtrack.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        ".association": ("Pass", "linear_assignment"),
        ".base": ("BaseTracker",),
        ".bytetrack_iou": ("ByteTrackIoU",),
        ".config": ("ByteTrackIoUConfig", "KPRTrackerConfig", "OutputFilterConfig", "TRACKER_CONFIGS", "TrackerConfig"),
        ".filters": ("filter_frame", "filter_sequence", "filter_short_tracklets"),
        ".state": ("IdCounter", "Track", "TrackState"),
        ".tracker": ("KPRTracker",),
        ".variants": ("TRACKERS", "build_tracker"),
    },
)
