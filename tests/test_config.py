from dataclasses import dataclass, field, fields

import pytest

from kprtrack.config import (
    ConfigError,
    apply_overrides,
    dataclass_from_dict,
    dataclass_to_dict,
    load_dataclass,
    load_yaml,
)
from kprtrack.detect.training import DetectorTrainConfig
from kprtrack.pose.training import PoseTrainConfig
from kprtrack.reid.train.config import KPRTrainConfig
from kprtrack.track.config import ByteTrackIoUConfig, KPRTrackerConfig
from tests.conftest import REPO

#: configs/<file> -> the dataclass whose defaults it restates, field for field.
RESTATED_DEFAULTS = {
    "train/detector.yaml": DetectorTrainConfig,
    "train/pose.yaml": PoseTrainConfig,
    "train/kpr.yaml": KPRTrainConfig,
    "tracker/kprtrack.yaml": KPRTrackerConfig,
    "tracker/bytetrack_iou.yaml": ByteTrackIoUConfig,
}


@dataclass
class Inner:
    thresh: float = 0.5
    name: str = "x"


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    steps: int = 3
    sizes: tuple[int, ...] = (1, 2)
    device: str | None = None


def test_nested_and_defaults():
    cfg = dataclass_from_dict(Outer, {"inner": {"thresh": 1}, "sizes": [4, 5]})
    assert cfg.inner.thresh == 1.0 and cfg.inner.name == "x" and cfg.sizes == (4, 5) and cfg.steps == 3
    assert dataclass_from_dict(Outer, dataclass_to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "data,msg",
    [
        ({"stepz": 1}, "unknown key(s) stepz"),
        ({"inner": {"tresh": 1}}, "inner: unknown key(s) tresh"),
        ({"steps": "many"}, "steps: expected an integer"),
        ({"steps": True}, "steps: expected an integer"),
        ({"inner": {"thresh": "high"}}, "inner.thresh: expected a number"),
        ({"inner": 3}, "inner: expected a mapping"),
    ],
)
def test_errors_name_the_key(data, msg):
    with pytest.raises(ConfigError) as err:
        dataclass_from_dict(Outer, data, "cfg.yaml")
    assert msg in str(err.value) and "cfg.yaml" in str(err.value)


def test_yaml_file_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("steps: 7\ninner:\n  name: y\n")
    cfg = load_dataclass(Outer, p)
    assert cfg.steps == 7 and cfg.inner.name == "y"
    data = apply_overrides({"inner": {"name": "y"}}, ["inner.thresh=0.25", "steps=9"])
    assert dataclass_from_dict(Outer, data) == Outer(Inner(0.25, "y"), 9)
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["oops"])
    with pytest.raises(ConfigError, match="not found"):
        load_dataclass(Outer, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_dataclass(Outer, bad)


@pytest.mark.parametrize(
    "text, msg",
    [
        ("a: &x [1, 2]\nb: *x\n", "anchors"),
        ("a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n", "anchors"),
        ("threads: [1, 2\n", r"invalid YAML: .*\(line 2, column 1\)"),
        ("- 1\n- 2\n", "expected a mapping"),
    ],
)
def test_yaml_bombs_and_broken_files_are_one_line_errors(tmp_path, text, msg):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=msg) as info:
        load_yaml(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_oversized_and_undecodable_configs_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (2 << 20) + "\n")
    with pytest.raises(ConfigError, match="too large"):
        load_yaml(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00 not utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(binary)
    with pytest.raises(ConfigError, match="aliases"):
        apply_overrides({}, ["a=*x"])


@pytest.mark.parametrize("name", sorted(RESTATED_DEFAULTS))
def test_yaml_states_the_dataclass_defaults(name):
    cls = RESTATED_DEFAULTS[name]
    path = REPO / "configs" / name
    assert load_dataclass(cls, path) == cls()
    assert set(load_yaml(path)) == {f.name for f in fields(cls)}  # every field stated
