"""Tracker configs: YAML files restate the dataclass defaults; bad values and keys are errors."""

from __future__ import annotations

import pytest

from kprtrack.config import ConfigError, dataclass_to_dict, load_dataclass
from kprtrack.track import (
    TRACKER_CONFIGS,
    TRACKERS,
    ByteTrackIoU,
    ByteTrackIoUConfig,
    KPRTracker,
    KPRTrackerConfig,
    build_tracker,
)
from tests.conftest import REPO

CONFIGS = {"kprtrack": KPRTrackerConfig, "bytetrack_iou": ByteTrackIoUConfig}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_yaml_equals_dataclass_defaults(name):
    cls = CONFIGS[name]
    path = REPO / "configs" / "tracker" / f"{name}.yaml"
    assert load_dataclass(cls, path) == cls()  # every field stated: tests/test_config.py
    assert TRACKERS[name].config_class is cls
    assert TRACKER_CONFIGS[name] is cls  # the light table the pipeline config reads


def test_unknown_key_is_an_error(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("match_thresh: 0.3\nmatch_treshold: 0.2\n")
    with pytest.raises(ConfigError, match="match_treshold"):
        load_dataclass(KPRTrackerConfig, path)
    path.write_text("motion: kalman\n")
    with pytest.raises(ConfigError, match="motion"):
        load_dataclass(KPRTrackerConfig, path)
    path.write_text("track_buffer: 1.5\n")
    with pytest.raises(ConfigError, match="track_buffer"):
        load_dataclass(KPRTrackerConfig, path)


def test_overrides_and_defaults():
    cfg = KPRTrackerConfig(match_thresh=0.25, motion="oks")
    assert dataclass_to_dict(cfg)["match_thresh"] == 0.25
    assert KPRTrackerConfig().match_thresh == 0.2 and KPRTrackerConfig().ema_alpha == 0.9
    assert KPRTrackerConfig().motion == "none"
    assert KPRTrackerConfig().max_time_lost(25) == 25 and KPRTrackerConfig().max_time_lost(60) == 60


def test_build_tracker_picks_the_variant():
    assert isinstance(build_tracker(KPRTrackerConfig()), KPRTracker)
    assert isinstance(build_tracker(ByteTrackIoUConfig(), frame_rate=10), ByteTrackIoU)
    with pytest.raises(TypeError, match="no tracker variant"):
        build_tracker(object())


@pytest.mark.parametrize(
    "field, value",
    [("high_thresh", 1.2), ("low_thresh", -0.1), ("track_buffer", -1), ("min_hits", 0), ("ema_alpha", 2.0),
     ("motion_gate", -1.0), ("duplicate_iou", 3.0), ("motion", "ioU")],
)  # fmt: skip
def test_invalid_values(field, value):
    with pytest.raises(ValueError, match=field):
        KPRTrackerConfig(**{field: value})
