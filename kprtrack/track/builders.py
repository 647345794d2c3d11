"""Tracker builders registered with :data:`kprtrack.registry.TRACKERS` (the trackers import lap: inside)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kprtrack.registry import BuildContext, register_tracker

if TYPE_CHECKING:
    from kprtrack.pipeline_config import TrackerSection
    from kprtrack.stages import Tracker


def _build(section: TrackerSection, context: BuildContext) -> Tracker:
    from kprtrack.track.variants import build_tracker

    return build_tracker(section.build_config(), frame_rate=context.frame_rate)


@register_tracker("kprtrack")
def build_kprtrack(section: TrackerSection, context: BuildContext) -> Tracker:
    """KPRTrack: ByteTrack lifecycle on the visibility-weighted part distance (``configs/tracker/kprtrack.yaml``)."""
    return _build(section, context)


@register_tracker("bytetrack_iou")
def build_bytetrack_iou(section: TrackerSection, context: BuildContext) -> Tracker:
    """The IoU-only ByteTrack baseline (``configs/tracker/bytetrack_iou.yaml``)."""
    return _build(section, context)
