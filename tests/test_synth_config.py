"""Synth configuration: presets, defaults in one place, validation, names and ids."""

from __future__ import annotations

import dataclasses

import pytest

from kprtrack.synth.config import PRESETS, SplitSpec, SynthConfig, make_config, sequence_name, video_id


def test_val_preset_is_the_dataclass_defaults():
    assert PRESETS["val"] == {}
    assert make_config("val") == SynthConfig()
    val = make_config("val")
    assert (val.width, val.height, val.fps) == (640, 360, 25)
    spec = val.split("val")
    assert (spec.num_sequences, spec.num_frames) == (10, 150)


def test_presets_only_name_real_fields_and_scale_as_documented():
    names = {f.name for f in dataclasses.fields(SynthConfig)}
    for preset, overrides in PRESETS.items():
        assert set(overrides) <= names, preset
    tiny, val, train = make_config("tiny"), make_config("val"), make_config("train")
    assert sum(s.num_sequences * s.num_frames for s in tiny.splits) < 200
    assert {s.name for s in tiny.splits} == {"train", "val"}
    tr = train.split("train")
    assert tr.num_identities > val.split("val").num_identities
    assert tr.num_sequences * tr.num_frames > 4 * 1500
    assert tiny.preset == "tiny" and train.to_dict()["preset"] == "train"


def test_overrides_and_errors():
    cfg = make_config("tiny", seed=3, occlusion=0.7, label_every=None)
    assert cfg.seed == 3 and cfg.occlusion == 0.7 and cfg.label_every == SynthConfig.label_every
    with pytest.raises(ValueError, match="unknown synth preset"):
        make_config("huge")
    with pytest.raises(ValueError, match="occlusio"):
        make_config("tiny", occlusio=0.5)
    with pytest.raises(ValueError, match="occlusion"):
        make_config("tiny", occlusion=1.5)
    with pytest.raises(ValueError, match="label_every"):
        make_config("tiny", label_every=0)
    with pytest.raises(ValueError, match="people_per_sequence"):
        make_config("tiny", people_per_sequence=(5, 2))
    with pytest.raises(ValueError, match="duplicate split"):
        make_config("tiny", splits=(SplitSpec("val", 1, 5, 1, 2, 0), SplitSpec("val", 1, 5, 1, 2, 0)))
    with pytest.raises(ValueError, match="SplitSpec.name"):
        SplitSpec("dev", 1, 5, 1, 2, 0)
    with pytest.raises(KeyError, match="no split"):
        make_config("val").split("train")


def test_sequence_names_and_video_ids():
    assert sequence_name("val", 3) == "920003_synth_test"
    assert sequence_name("test", 0) == "930000_synth_test"
    assert sequence_name("train", 12) == "910012_synth_train"
    ids = {video_id(s, i) for s in ("train", "val", "test") for i in range(50)}
    assert len(ids) == 150 and all(100000 <= v < 1000000 for v in ids)


def test_docs_state_the_current_defaults():
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "synth.md").read_text()
    cfg = SynthConfig()
    assert f"(default {cfg.occlusion})" in doc
    assert f"(default {cfg.seed})" in doc
    for name in PRESETS:
        c = make_config(name)
        rows = [line for line in doc.splitlines() if line.startswith(f"| `{name}` |")]
        assert len(rows) == 1, name
        assert f"{c.width}x{c.height}" in rows[0]
        for s in c.splits:
            assert f"{s.name} {s.num_sequences} x {s.num_frames}" in rows[0]
            assert str(s.num_identities) in rows[0]
        lo, hi = c.people_per_sequence
        assert f"{lo}-{hi}" in rows[0]
