"""The tracker variants by name, and building one from its config dataclass."""

from __future__ import annotations

from kprtrack.track.base import BaseTracker
from kprtrack.track.bytetrack_iou import ByteTrackIoU
from kprtrack.track.config import TrackerConfig
from kprtrack.track.state import IdCounter
from kprtrack.track.tracker import KPRTracker

#: Tracker variants by name (``configs/tracker/<name>.yaml`` holds each one's defaults; their config classes
#: are listed again, without importing the trackers, in :data:`kprtrack.track.config.TRACKER_CONFIGS`).
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
