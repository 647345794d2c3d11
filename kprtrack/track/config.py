"""Tracker configurations: every threshold of a tracker variant is a field of one dataclass.

The dataclass defaults are the single source of default values; ``configs/tracker/kprtrack.yaml`` and
``configs/tracker/bytetrack_iou.yaml`` restate them (a test checks that they agree). Load a YAML file with
:func:`kprtrack.config.load_dataclass` (unknown keys are errors). Each field's docstring says what raising
it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kprtrack.validate import check_in_range, check_whole

#: Motion cues the KPR tracker can add to the appearance cost.
MOTION_CUES: tuple[str, ...] = ("none", "iou", "oks")


@dataclass(frozen=True)
class TrackerConfig:
    """Lifecycle settings shared by every tracker variant (ByteTrack's tracklet lifecycle).

    Attributes:
        high_thresh: detections scoring at least this are *high-confidence*: they take part in the first
            pass (against tracked and lost tracks), the unconfirmed pass and can start new tracks. Raising it
            sends more detections to the low-confidence pass, which only continues tracks that are currently
            tracked and never starts or re-finds one.
        low_thresh: detections scoring below this are ignored by the tracker (track id -1). Raising it drops
            more weak detections (fewer false continuations, more fragmented tracks through occlusions).
        new_track_thresh: an unmatched high-confidence detection starts a new track only if its score is at
            least this. Raising it starts fewer tracks (fewer false tracks, people picked up later). Values
            below ``high_thresh`` behave like ``high_thresh``.
        track_buffer: how many frames (at 30 fps) a lost track is kept for re-identification before it is
            removed; scaled by the video frame rate (``int(frame_rate / 30 * track_buffer)``). Raising it
            re-identifies people after longer absences but keeps more tracks to compare against.
        min_hits: a new track is confirmed (gets an id) once it has been matched in this many consecutive
            frames, counting the frame that created it; an unconfirmed track missing one frame is removed.
            Raising it suppresses short false tracks but hides every person's first ``min_hits - 1`` frames.
        confirm_on_first_frame: tracks created in the first frame after construction or :meth:`reset`
            are confirmed at once, as ByteTrack does; ``false`` applies ``min_hits`` there too.
        duplicate_iou: after each frame, a tracked and a lost track whose boxes overlap with an IoU above
            this are considered duplicates and the shorter-lived one is removed (ByteTrack's 0.85); ``null``
            disables the step. Raising it removes fewer duplicates.
    """

    high_thresh: float = 0.5
    low_thresh: float = 0.1
    new_track_thresh: float = 0.6
    track_buffer: int = 30
    min_hits: int = 2
    confirm_on_first_frame: bool = True
    duplicate_iou: float | None = None

    _thresholds: ClassVar[tuple[str, ...]] = ("high_thresh", "low_thresh", "new_track_thresh")
    #: whether the variant's cost uses the detections' embeddings (then the pipeline needs an embedder).
    needs_appearance: ClassVar[bool] = False

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_in_range(self, self._thresholds, where=f"{name}.")
        if self.low_thresh > self.high_thresh:
            raise ValueError(f"{name}.low_thresh ({self.low_thresh}) must not exceed high_thresh ({self.high_thresh})")
        check_whole(self, ("track_buffer",), 0, where=f"{name}.")
        check_whole(self, ("min_hits",), 1, where=f"{name}.")
        if self.duplicate_iou is not None:
            check_in_range(self, ("duplicate_iou",), where=f"{name}.")

    def max_time_lost(self, frame_rate: float) -> int:
        """Frames a lost track is kept at ``frame_rate`` fps (ByteTrack's ``int(fps / 30 * buffer)``)."""
        if not frame_rate > 0:
            raise ValueError(f"{type(self).__name__}.frame_rate: expected a positive value, got {frame_rate!r}")
        return int(frame_rate / 30.0 * self.track_buffer)


@dataclass(frozen=True)
class KPRTrackerConfig(TrackerConfig):
    """Settings of :class:`kprtrack.track.KPRTracker` (defaults: ``configs/tracker/kprtrack.yaml``).

    The association cost is the KPR part distance (:func:`kprtrack.reid.distance.tracking_distance`, half
    the reference distance, in ``[0, 1]``); a track and a detection may only be matched if their cost is at
    most the pass's threshold. Lifecycle fields: see :class:`TrackerConfig`.

    Attributes:
        match_thresh: maximum cost of a match in pass 1 (high-confidence detections vs tracked and lost
            tracks). Raising it matches less similar pairs (fewer broken tracks, more identity switches).
        low_match_thresh: maximum cost of a match in pass 2 (low-confidence detections vs tracks still
            unmatched). Raising it continues more tracks through occlusion, at the risk of wrong matches.
        unconfirmed_match_thresh: maximum cost of a match in pass 3 (unconfirmed tracks vs the remaining
            high-confidence detections). Raising it confirms more new tracks.
        ema_alpha: momentum of each track's part-feature moving average: a part visible in both the track
            and the matched detection becomes ``ema_alpha * track + (1 - ema_alpha) * detection``. Raising
            it makes the appearance memory slower to change (robust to a few bad crops, slower to adapt).
        motion: ``none`` (appearance only, as in the paper), ``iou`` or ``oks``: add a box Kalman filter and
            use the IoU (or keypoint OKS) between a track's predicted box (or pose) and each detection as a
            second cue, see ``motion_weight`` and ``motion_gate``.
        motion_weight: with a motion cue, the cost becomes ``kpr * (1 - motion_weight * similarity)``:
            a perfect overlap shrinks the appearance distance by this fraction, no overlap leaves it as is
            (so lost tracks are still re-identified by appearance alone). Raising it lets overlapping
            detections match despite a worse appearance (robust to occlusion, less appearance purity).
        motion_gate: with a motion cue, a *currently tracked* track (seen in the previous frame) may only
            match detections whose motion similarity is at least this; 0 disables gating. Raising it forbids
            jumps to far-away look-alikes but breaks tracks of fast movers (they become lost, then are
            re-identified by appearance).
    """

    match_thresh: float = 0.2
    low_match_thresh: float = 0.2
    unconfirmed_match_thresh: float = 0.2
    ema_alpha: float = 0.9
    motion: str = "none"
    motion_weight: float = 0.5
    motion_gate: float = 0.0

    needs_appearance: ClassVar[bool] = True
    _thresholds: ClassVar[tuple[str, ...]] = TrackerConfig._thresholds + (
        "match_thresh",
        "low_match_thresh",
        "unconfirmed_match_thresh",
        "ema_alpha",
        "motion_weight",
        "motion_gate",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.motion not in MOTION_CUES:
            raise ValueError(f"KPRTrackerConfig.motion: expected one of {list(MOTION_CUES)}, got {self.motion!r}")


@dataclass(frozen=True)
class ByteTrackIoUConfig(TrackerConfig):
    """Settings of the IoU-only ByteTrack baseline (defaults: ``configs/tracker/bytetrack_iou.yaml``).

    Same lifecycle as the KPR tracker; the cost is ``1 - IoU`` between the Kalman-predicted track box and
    the detection box (ByteTrack's defaults). Lifecycle fields: see :class:`TrackerConfig`.

    Attributes:
        match_thresh: maximum cost (``1 - IoU``) of a match in pass 1. Raising it accepts matches with less
            overlap (fewer broken tracks, more identity switches).
        low_match_thresh: maximum cost of a match in pass 2 (low-confidence detections).
        unconfirmed_match_thresh: maximum cost of a match in pass 3 (unconfirmed tracks).
        fuse_score: multiply the IoU by the detection score before passes 1 and 3 (ByteTrack's
            ``fuse_score``), so weak detections need more overlap.
    """

    duplicate_iou: float | None = 0.85
    match_thresh: float = 0.8
    low_match_thresh: float = 0.5
    unconfirmed_match_thresh: float = 0.7
    fuse_score: bool = True

    _thresholds: ClassVar[tuple[str, ...]] = TrackerConfig._thresholds + (
        "match_thresh",
        "low_match_thresh",
        "unconfirmed_match_thresh",
    )


@dataclass(frozen=True)
class OutputFilterConfig:
    """Settings of the prediction output filters.

    Attributes:
        joint_thresh: joints with a score below this are written as absent. Raising it writes fewer,
            surer joints (higher precision, lower recall in keypoint metrics).
        min_joints: a pose with fewer joints left than this is not written. Raising it drops more
            partial poses.
        min_tracklet_length: rows of a track present in fewer frames than this are not written; 0 or 1
            keeps every track. Raising it removes short (often false) tracklets; it needs the whole video.
    """

    joint_thresh: float = 0.3
    min_joints: int = 3
    min_tracklet_length: int = 0

    def __post_init__(self) -> None:
        check_in_range(self, ("joint_thresh",), where="OutputFilterConfig.")
        check_whole(self, ("min_joints", "min_tracklet_length"), 0, where="OutputFilterConfig.")


#: tracker variant name (``tracker.kind``) -> its config dataclass (``configs/tracker/<name>.yaml``).
TRACKER_CONFIGS: dict[str, type[TrackerConfig]] = {"kprtrack": KPRTrackerConfig, "bytetrack_iou": ByteTrackIoUConfig}
