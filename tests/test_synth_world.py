"""Behaviour of the synthetic world: determinism, re-entries, multi-person boxes, CLI and stats."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kprtrack.cli import main
from kprtrack.io.posetrack21 import read_ground_truth
from kprtrack.synth.config import SplitSpec, make_config
from kprtrack.synth.dataset import SynthDataset
from kprtrack.synth.parts import TORSO
from kprtrack.synth.stats import REENTRY_GAP, dataset_stats, format_stats, multi_person_flags
from kprtrack.synth.writer import write_dataset
from tests.synth_data import generated

SMALL = {"splits": (SplitSpec("val", 1, 12, 2, 3, 1),), "people_per_sequence": (4, 5)}


def _all_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_output_is_deterministic_in_the_seed(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_dataset(make_config("tiny", seed=7, **SMALL), a)
    write_dataset(make_config("tiny", seed=7, **SMALL), b)
    write_dataset(make_config("tiny", seed=8, **SMALL), c)
    files = _all_files(a)
    assert files == _all_files(b)
    assert {f.suffix for f in files} >= {".jpg", ".png", ".json", ".mp4"}
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files], shallow=False)
    assert not mismatch and not errors
    gt = "posetrack_data/val/920000_synth_test.json"
    assert (a / gt).read_bytes() != (c / gt).read_bytes()


def test_tiny_preset_runs_through_the_cli_in_seconds(tmp_path):
    out = tmp_path / "tiny"
    runner = CliRunner()
    res = runner.invoke(main, ["synth", "--preset", "tiny", "--out", str(out), "--quiet", "--stats", str(out)])
    assert res.exit_code == 0, res.output
    assert "multi-person boxes" in res.output and "re-entries" in res.output
    stats = dataset_stats(out)
    assert set(stats) == {"train", "val"}
    assert format_stats(stats) in res.output
    for split in ("train", "val"):
        seqs = sorted((out / "images" / split).iterdir())
        assert len(seqs) == 2 and len(list(seqs[0].glob("*.jpg"))) == 40
        assert len(list((out / "videos" / split).glob("*.mp4"))) == 2
        assert len(list((out / "masks" / split / seqs[0].name / "parts").glob("*.png"))) == 40
    # a second run into the same folder must not silently mix with the first
    again = runner.invoke(main, ["synth", "--preset", "tiny", "--out", str(out), "--quiet"])
    assert again.exit_code != 0 and "already exists" in again.output
    assert (
        runner.invoke(main, ["synth", "--preset", "tiny", "--out", str(out), "--quiet", "--overwrite"]).exit_code == 0
    )


def test_cli_needs_out_or_stats_and_reports_missing_data(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["synth"])
    assert res.exit_code == 2 and "--out" in res.output
    res = runner.invoke(main, ["synth", "--stats", str(tmp_path)])
    assert res.exit_code == 2 and "posetrack_data" in res.output


def test_cli_module_imports_only_click():
    code = "import sys, kprtrack.cli.synth; print(sorted(m for m in ('numpy', 'cv2', 'torch') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    )
    assert out.stdout.strip() == "[]"


def _torso_color(seq, t: int, track_id: int) -> np.ndarray | None:
    sel = (seq.instances(t) == track_id + 1) & (seq.parsing(t) == TORSO)
    if sel.sum() < 30:
        return None
    return np.median(seq.frame(t)[sel].astype(float), axis=0)


def test_reentering_people_keep_track_and_person_id(tmp_path_factory):
    ds = SynthDataset(generated(tmp_path_factory, "tiny"))
    reentries = 0
    for split in ds.splits:
        ids = ds.identities(split)
        for seq in ds.sequences(split):
            frames_of: dict[int, list[int]] = {}
            person_of: dict[int, set[int]] = {}
            for t in range(len(seq)):
                for a in seq.annotations(t):
                    frames_of.setdefault(a["track_id"], []).append(t)
                    person_of.setdefault(a["track_id"], set()).add(a["person_id"])
            # one identity per track, one track per identity
            assert all(len(p) == 1 for p in person_of.values())
            pids = [next(iter(p)) for p in person_of.values()]
            assert len(pids) == len(set(pids)) and set(pids) <= set(ids)
            for tid, ts in frames_of.items():
                gaps = [(a, b) for a, b in zip(ts, ts[1:]) if b - a > REENTRY_GAP]
                for before, after in gaps:
                    reentries += 1
                    c0, c1 = _torso_color(seq, before, tid), _torso_color(seq, after, tid)
                    if c0 is not None and c1 is not None:  # the same person is drawn again
                        assert np.abs(c0 - c1).max() < 60, (seq.name, tid, c0, c1)
    assert reentries >= 2


def test_identities_reappear_across_sequences(tmp_path_factory):
    root = generated(tmp_path_factory, "tiny")
    stats = dataset_stats(root)
    assert all(s.identities_in_several_sequences >= 1 for s in stats.values())
    meta = json.loads((root / "synth_meta.json").read_text())
    for split, info in meta["splits"].items():
        seen = [set(s["person_ids"]) for s in info["sequences"]]
        ids = SynthDataset(root).identities(split)
        assert set().union(*seen) <= set(ids)
    train_ids = set(SynthDataset(root).identities("train"))
    assert not train_ids & set(SynthDataset(root).identities("val")), "splits have disjoint identities"


@pytest.mark.parametrize("target", [0.2, 0.5, 0.8])
def test_multi_person_boxes_occur_at_the_configured_rate(tmp_path_factory, target):
    root = generated(tmp_path_factory, "tiny", occlusion=target, write_video=False, write_masks=False)
    stats = dataset_stats(root)
    boxes = sum(s.annotations for s in stats.values())
    share = sum(s.multi_person_share * s.annotations for s in stats.values()) / boxes
    assert abs(share - target) < 0.08, f"target {target}, measured {share:.3f}"


def test_multi_person_flags():
    boxes = np.array([[0, 0, 10, 20], [8, 0, 18, 20], [50, 50, 60, 60]], float)
    kps = [np.array([[5, 5], [9, 10]]), np.array([[12, 5], [15, 18]]), np.array([[55, 55]])]
    assert multi_person_flags(boxes, kps).tolist() == [False, True, False]
    assert multi_person_flags(boxes[:1], kps[:1]).tolist() == [False]


def test_stats_count_what_the_ground_truth_holds(tmp_path_factory):
    root = generated(tmp_path_factory, "tiny")
    stats = dataset_stats(root)["val"]
    seqs = [read_ground_truth(f) for f in sorted((root / "posetrack_data" / "val").glob("*.json"))]
    anns = [a for s in seqs for a in s.annotations]
    assert stats.annotations == len(anns)
    assert stats.identities == len({a["person_id"] for a in anns})
    assert stats.frames == sum(len(s.images) for s in seqs)
    kp = np.array([a["keypoints"] for a in anns]).reshape(-1, 17, 3)[:, [0, 1, 2, *range(5, 17)]]
    present = (kp[..., 0] > 0) & (kp[..., 1] > 0)
    assert stats.occluded_joint_share == pytest.approx((present & (kp[..., 2] == 0)).sum() / present.sum())
    assert 0.2 < stats.occluded_joint_share < 0.6
    assert stats.persons_per_frame > 2
