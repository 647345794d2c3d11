"""KPR training end to end on the tiny world: a few iterations, released-format checkpoints, resume, CLIs.

Small enough for CI (a 64 x 32 nano model, two iterations per epoch).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from kprtrack.config import ConfigError
from kprtrack.reid.checkpoint import load_kpr_checkpoint
from kprtrack.reid.train.config import KPRTrainConfig, default_config_path, load_train_config
from kprtrack.reid.train.occ_ptrack import OccPTrackConfig, build_occ_ptrack
from kprtrack.reid.train.trainer import KPRTrainer
from tests.conftest import REPO
from tests.synth_data import generated


def _config(data: Path, out: Path, **changes) -> KPRTrainConfig:
    base = dict(
        data_root=str(data),
        output_dir=str(out),
        image_size=(64, 32),
        embedding_dim=32,
        epochs=2,
        ids_per_batch=4,
        samples_per_id=2,
        max_iters_per_epoch=2,
        warmup_epochs=0.5,
        log_every=1,
        progress=False,
        eval_batch_size=32,
        keep_last_checkpoints=0,
    )
    base.update(changes)
    return KPRTrainConfig(**base)


def test_default_config_path_holds_the_defaults():
    path = REPO / "configs" / "train" / "kpr.yaml"  # every field: tests/test_config.py
    assert path == default_config_path()
    assert load_train_config(path) == KPRTrainConfig()


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: 0.1\nlearning_rate: 0.2\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_train_config(bad)
    with pytest.raises(ConfigError, match="bipo_p"):
        load_train_config(None, ["bipo_p=1.5"])
    with pytest.raises(ValueError, match="model"):
        KPRTrainConfig(model="kpr_resnet")
    cfg = load_train_config(None, ["use_prompts=false", "image_size=[96, 48]"])
    assert cfg.use_prompts is False and cfg.image_size == (96, 48)


def test_training_smoke_checkpoints_and_eval(occ_root, tmp_path):
    cfg = _config(occ_root, tmp_path / "run", eval_every=2)  # evaluates the last epoch only
    trainer = KPRTrainer(cfg)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.fit()
    assert result.epochs_run == 2 and result.last_epoch == 2 and trainer.step == 4
    # weights changed; the frozen prompt tokenizer only moved after the first epoch
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("image_encoder"))
    # released-format checkpoints for every epoch, readable by the project's loader
    ckpts = sorted((tmp_path / "run" / "checkpoints").glob("kpr_epoch*.pth.tar"))
    assert [c.name for c in ckpts] == ["kpr_epoch001.pth.tar", "kpr_epoch002.pth.tar"]
    model, info = load_kpr_checkpoint(ckpts[-1])
    assert info.config.image_size == (64, 32) and info.config.dim_reduce_output == 32
    assert info.config.num_classes == trainer.num_classes and info.meta["epoch"] == 2
    for k, v in model.state_dict().items():
        assert torch.equal(v, after[k]), k
    # logs and evaluation
    rows = (tmp_path / "run" / "epochs.csv").read_text().splitlines()
    assert len(rows) == 3 and "multi_person_rank1" in rows[0]
    assert len((tmp_path / "run" / "train_log.csv").read_text().splitlines()) == 5
    assert set(result.metrics) == {"all_rank1", "all_mAP", "multi_person_rank1", "multi_person_mAP"}
    assert 0 <= result.metrics["all_rank1"] <= 100


def test_prompt_tokenizer_frozen_during_first_epochs(occ_root, tmp_path):
    cfg = _config(occ_root, tmp_path / "run", freeze_prompt_epochs=1, eval_every=0)
    trainer = KPRTrainer(cfg)
    w0 = trainer.model.prompt_encoder.masks_patch_embed.projection.weight.clone()
    trainer.fit(max_epochs=1)
    assert torch.equal(trainer.model.prompt_encoder.masks_patch_embed.projection.weight, w0)
    trainer.fit()
    assert not torch.equal(trainer.model.prompt_encoder.masks_patch_embed.projection.weight, w0)


def test_resume_continues_at_the_next_epoch_and_matches_an_uninterrupted_run(occ_root, tmp_path):
    straight = KPRTrainer(_config(occ_root, tmp_path / "a", eval_every=0))
    straight.fit()
    first = KPRTrainer(_config(occ_root, tmp_path / "b", eval_every=0))
    part = first.fit(max_epochs=1)
    assert part.last_epoch == 1 and (tmp_path / "b" / "resume.pth").is_file()
    second = KPRTrainer(_config(occ_root, tmp_path / "b", eval_every=0))
    rest = second.fit(resume="auto")
    assert rest.epochs_run == 1 and rest.last_epoch == 2 and second.step == straight.step
    for k, v in straight.model.state_dict().items():
        assert torch.allclose(v.float(), second.model.state_dict()[k].float(), atol=1e-5), k
    epochs = [line.split(",")[0] for line in (tmp_path / "b" / "epochs.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2"]
    # a finished run resumes to nothing
    done = KPRTrainer(_config(occ_root, tmp_path / "b", eval_every=0)).fit(resume="auto")
    assert done.epochs_run == 0
    # changing what is learned is refused, naming the setting
    with pytest.raises(ValueError, match="lr"):
        KPRTrainer(_config(occ_root, tmp_path / "b", eval_every=0, lr=0.5)).fit(resume="auto")


def test_no_prompt_ablation_builds_the_model_without_prompting(occ_root, tmp_path):
    trainer = KPRTrainer(_config(occ_root, tmp_path / "np", use_prompts=False, epochs=1, eval_every=0))
    assert trainer.model.config.masks_prompting is False
    result = trainer.fit()
    assert result.metrics == {}
    _, info = load_kpr_checkpoint(result.checkpoint)
    assert info.config.masks_prompting is False


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_command_line_tools(tmp_path_factory, tmp_path, capsys):
    root = generated(tmp_path_factory, "tiny", write_video=False)
    data = tmp_path / "occ"
    assert _tool("build_occ_ptrack").main(["--root", str(root), "--out", str(data), "--quiet"]) == 0
    assert json.loads((data / "meta.json").read_text())["counts"]["query"]["images"] > 0
    out = tmp_path / "run"
    sets = ["image_size=[64, 32]", "embedding_dim=32", "epochs=1", "ids_per_batch=4", "samples_per_id=2",
            "max_iters_per_epoch=1", "progress=false", "eval_every=0"]  # fmt: skip
    args = ["--data", str(data), "--out", str(out), "--copy-to", str(tmp_path / "w.pth.tar")]
    assert _tool("train_kpr").main(args + [x for s in sets for x in ("--set", s)]) == 0
    assert (out / "config.yaml").is_file() and (tmp_path / "w.pth.tar").is_file()
    report = tmp_path / "eval.json"
    assert (
        _tool("eval_reid").main(["--weights", str(tmp_path / "w.pth.tar"), "--data", str(data), "--json", str(report)])
        == 0
    )
    rows = json.loads(report.read_text())
    assert {(r["prompts"], r["subset"]) for r in rows} == {
        (True, "all"), (True, "multi_person"), (False, "all"), (False, "multi_person")
    }  # fmt: skip
    assert "multi_person" in capsys.readouterr().out
    assert _tool("train_kpr").main(["--data", str(data), "--set", "nope=1"]) == 2


def test_shipped_small_weights(tmp_path_factory):
    from kprtrack.weights import load_manifest, resolve, sha256sum

    entry = load_manifest()["kpr_synth_nano_k8"]
    path = resolve("kpr_synth_nano_k8")
    assert entry.shipped and sha256sum(path) == entry.sha256
    assert path.stat().st_size <= 15 * 2**20
    model, info = load_kpr_checkpoint(path)
    assert info.config.image_size == (128, 64) and info.config.masks_prompting and info.config.num_parts == 8
    assert info.meta["kprtrack_train"]["config"]["use_prompts"] is True
    # it re-identifies people of the tiny world (never seen in training) far above chance
    from kprtrack.reid.train.evaluate import evaluate_reid

    root = generated(tmp_path_factory, "tiny", write_video=False)
    out = tmp_path_factory.mktemp("occ_shipped")
    build_occ_ptrack(out, None, root, OccPTrackConfig())
    res = evaluate_reid(model, out, use_prompts=True)
    assert res["all"].rank1 >= 0.7 and res["all"].mAP >= 0.5
