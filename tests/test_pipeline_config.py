"""Pipeline configs: one source of defaults, sub-config files, clear errors."""

import pytest

from kprtrack.config import ConfigError
from kprtrack.pipeline_config import PipelineConfig, configs_dir, load_pipeline_config


def test_paper_config_equals_dataclass_defaults():
    from dataclasses import replace

    loaded, defaults = load_pipeline_config(configs_dir() / "kprtrack.yaml"), PipelineConfig()
    # the tracker sub-config lists every parameter; compare the effective tracker configs
    assert loaded.tracker.kind == defaults.tracker.kind
    assert loaded.tracker.build_config() == defaults.tracker.build_config()
    assert replace(loaded, tracker=defaults.tracker) == defaults


@pytest.mark.parametrize("path", sorted(configs_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_pipeline_config_loads(path):
    cfg = load_pipeline_config(path)
    cfg.tracker.build_config()


def test_overrides_and_errors(tmp_path):
    cfg = load_pipeline_config("kprtrack", ["reid.use_prompts=false", "tracker.params.match_thresh=0.3", "device=cuda"])
    assert cfg.reid.use_prompts is False and cfg.tracker.build_config().match_thresh == 0.3 and cfg.device == "cuda"
    with pytest.raises(ConfigError, match="unknown key"):
        load_pipeline_config("kprtrack", ["detector.weightz=x"])
    with pytest.raises(ConfigError, match="detector.kind"):
        load_pipeline_config(None, ["detector.kind=yolov9"])
    with pytest.raises(ConfigError, match="not found"):
        load_pipeline_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pose: pose/nope.yaml\n")
    with pytest.raises(ConfigError, match="sub-config"):
        load_pipeline_config(bad)
    with pytest.raises(ConfigError, match="dtype"):
        load_pipeline_config(None, ["dtype=float8"])


def test_prompt_threshold_reaches_the_kpr_embedder():
    from kprtrack.assembly import build_embedder

    config = load_pipeline_config("demo", ["reid.prompt_threshold=0.7"])
    assert build_embedder(config).config.vis_thresh == 0.7
    assert build_embedder(load_pipeline_config("demo")).config.vis_thresh == 0.3  # the checkpoint's value
    with pytest.raises(ConfigError, match="prompt_threshold"):
        load_pipeline_config("demo", ["reid.prompt_threshold=1.5"])
