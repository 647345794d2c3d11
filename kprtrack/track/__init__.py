"""Online multi-person trackers: KPRTrack (appearance, part-based KPR distance) and an IoU ByteTrack baseline.

Use::

    from kprtrack.config import load_dataclass
    from kprtrack.track import KPRTracker, KPRTrackerConfig

    tracker = KPRTracker(load_dataclass(KPRTrackerConfig, "configs/tracker/kprtrack.yaml"), frame_rate=25)
    tracked = tracker.update(record)  # FrameRecord -> FrameRecord with track_ids (-1 = untracked)

See ``docs/tracker.md``.
"""

from __future__ import annotations

from kprtrack.track.association import Pass, linear_assignment
from kprtrack.track.base import BaseTracker
from kprtrack.track.bytetrack_iou import ByteTrackIoU
from kprtrack.track.config import ByteTrackIoUConfig, KPRTrackerConfig, TrackerConfig
from kprtrack.track.filters import OutputFilterConfig, filter_frame, filter_sequence, filter_short_tracklets
from kprtrack.track.state import IdCounter, Track, TrackState
from kprtrack.track.tracker import KPRTracker

#: Tracker variants by name (``configs/tracker/<name>.yaml`` holds each one's defaults).
TRACKERS: dict[str, type[BaseTracker]] = {"kprtrack": KPRTracker, "bytetrack_iou": ByteTrackIoU}


def build_tracker(config: TrackerConfig, frame_rate: float = 30.0, id_counter: IdCounter | None = None) -> BaseTracker:
    """The tracker variant whose config class is ``type(config)``.

    Raises:
        TypeError: if no variant takes this config type.
    """
    for cls in TRACKERS.values():
        if type(config) is cls.config_class:
            return cls(config, frame_rate=frame_rate, id_counter=id_counter)
    raise TypeError(
        f"no tracker variant takes a {type(config).__name__}; expected one of "
        f"{[c.config_class.__name__ for c in TRACKERS.values()]}"
    )


__all__ = [
    "TRACKERS",
    "BaseTracker",
    "ByteTrackIoU",
    "ByteTrackIoUConfig",
    "IdCounter",
    "KPRTracker",
    "KPRTrackerConfig",
    "OutputFilterConfig",
    "Pass",
    "Track",
    "TrackState",
    "TrackerConfig",
    "build_tracker",
    "filter_frame",
    "filter_sequence",
    "filter_short_tracklets",
    "linear_assignment",
]
