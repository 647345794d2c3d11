"""Parity with the official PoseTrack21 kit (expected.json) and with poseval (expected_poseval.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kprtrack.eval.evaluate import EvalResult, evaluate_folders
from kprtrack.eval.options import ALPHAS, COLUMNS, EvalOptions
from kprtrack.eval.report import kit_summary_lines
from tests.conftest import fixtures_root, require_fixture

TOL = 1e-9
CASES = sorted(p.name for p in (fixtures_root() / "posetrack21_eval").glob("[0-9]*") if p.is_dir()) or ["absent"]

# poseval joint name -> kit joint name
POSEVAL_JOINTS = {
    "right_ankle": "RA", "right_knee": "RK", "right_hip": "RH", "left_hip": "LH", "left_knee": "LK",
    "left_ankle": "LA", "right_wrist": "RW", "right_elbow": "RE", "right_shoulder": "RS", "left_shoulder": "LS",
    "left_elbow": "LE", "left_wrist": "LW", "neck": "Neck", "nose": "Nose", "head_top": "Head",
}  # fmt: skip


def _case(name: str) -> Path:
    return require_fixture("posetrack21_eval") / name


_cache: dict[tuple[str, str], EvalResult] = {}


def _result(name: str, protocol: str = "posetrack21") -> EvalResult:
    if (name, protocol) not in _cache:
        case = _case(name)
        _cache[(name, protocol)] = evaluate_folders(case / "gt", case / "pred", EvalOptions(clear_protocol=protocol))
    return _cache[(name, protocol)]


def _assert_block(mine, expected: dict, where: str) -> None:
    """Every array and summary of one HOTAeypoints block."""
    h = mine.hota
    for field, values in expected["per_alpha_per_joint"].items():
        np.testing.assert_allclose(h.arrays[field], np.array(values), rtol=0, atol=TOL, err_msg=f"{where} {field}")
    for field, values in expected["first_alpha_per_joint"].items():
        np.testing.assert_allclose(h.first_alpha[field], values, rtol=0, atol=TOL, err_msg=f"{where} {field}")
    summary = h.summary()
    for field, value in {**expected["summary"], **expected["at_first_alpha"]}.items():
        assert summary[field] == pytest.approx(value, abs=TOL), f"{where} {field}"
    for field, values in expected["per_alpha"].items():
        np.testing.assert_allclose(h.per_alpha()[field], values, rtol=0, atol=TOL, err_msg=f"{where} {field}")
    for field, values in expected["alpha_averaged_per_joint"].items():
        np.testing.assert_allclose(h.per_joint()[field], values, rtol=0, atol=TOL, err_msg=f"{where} {field}")


@pytest.mark.parametrize("name", CASES)
def test_hota_equals_kit(name: str) -> None:
    expected = json.loads((_case(name) / "expected.json").read_text())
    assert np.array_equal(ALPHAS, np.array(expected["alphas"]))
    assert list(COLUMNS) == expected["joint_columns"]
    result = _result(name)
    assert list(result.sequences) == sorted(expected["sequences"])
    for seq, block in expected["sequences"].items():
        _assert_block(result.sequences[seq], block["HOTAeypoints"], seq)
        assert result.sequences[seq].count == block["Count"]
    _assert_block(result.combined, expected["combined"]["HOTAeypoints"], "COMBINED")
    assert result.combined.count == expected["combined"]["Count"]
    assert kit_summary_lines(result.combined.hota) == expected["kit_results_txt"]["raw_lines"]


@pytest.mark.parametrize("name", CASES)
def test_results_json_equals_kit(name: str) -> None:
    expected = json.loads((_case(name) / "expected.json").read_text())
    doc = json.loads(json.dumps(_result(name).to_json(detailed=True)))
    for key, block in [("combined", expected["combined"]), *expected["sequences"].items()]:
        mine = doc["combined"] if key == "combined" else doc["sequences"][key]
        h = block["HOTAeypoints"]
        for field, value in {**h["summary"], **h["at_first_alpha"]}.items():
            assert mine[field] == pytest.approx(value, abs=TOL), f"{key} {field}"
        for field, values in h["per_alpha"].items():
            np.testing.assert_allclose(mine["per_alpha"][field], values, rtol=0, atol=TOL)
        for field, values in h["per_alpha_per_joint"].items():
            np.testing.assert_allclose(mine["per_alpha_per_joint"][field], values, rtol=0, atol=TOL)
        assert mine["Count"] == block["Count"]


def _poseval_permutation(names: list[str]) -> list[int]:
    from kprtrack.eval.options import JOINT_NAMES

    return [JOINT_NAMES.index(POSEVAL_JOINTS[n]) for n in names[:15]]


def _assert_poseval(clear: dict, expected: dict, perm: list[int], where: str) -> None:
    pairs = (
        ("mota", "MOTA", 100), ("motp", "MOTP", 100), ("pre", "precision", 100), ("rec", "recall", 100),
        ("num_misses", "FN", 1), ("num_switches", "IDSW", 1), ("num_false_positives", "FP", 1),
        ("num_objects", "GT", 1), ("num_detections", "TP", 1),
    )  # fmt: skip
    for theirs, mine, scale in pairs:
        per_joint = np.array(clear["per_joint"][mine], float)[perm] * scale
        np.testing.assert_allclose(per_joint, expected[theirs][:15], rtol=0, atol=1e-7, err_msg=f"{where} {theirs}")
        assert clear[mine] * scale == pytest.approx(expected[theirs][15], abs=1e-7), f"{where} {theirs} total"


@pytest.mark.parametrize("name", CASES)
def test_poseval_protocol_equals_poseval(name: str) -> None:
    expected = json.loads((_case(name) / "expected_poseval.json").read_text())
    perm = _poseval_permutation(expected["joint_names"])
    result = _result(name, "poseval")
    _assert_poseval(result.combined.clear("poseval"), expected["total"], perm, "total")
    for seq, block in expected["sequences"].items():
        _assert_poseval(result.sequences[seq].clear("poseval"), block, perm, seq)


@pytest.mark.parametrize("name", CASES)
def test_default_protocol_differs_from_poseval_only_as_documented(name: str) -> None:
    """The default (posetrack21) protocol counts the same identity switches as poseval on every public case;
    its other counts differ by poseval's frame rules (is_labeled ignored, last frame dropped, stand-ins)."""
    expected = json.loads((_case(name) / "expected_poseval.json").read_text())
    clear = _result(name).combined.clear("posetrack21")
    assert clear["IDSW"] == expected["total"]["num_switches"][15]
    pj = {k: np.array(v, float) for k, v in clear["per_joint"].items()}
    assert clear["MOTA"] == pytest.approx(np.mean(1 - (pj["FN"] + pj["FP"] + pj["IDSW"]) / pj["GT"]))
    if name in ("01_perfect", "02_id_swap", "03_constant_noise"):
        # every frame labelled and non-empty: the only difference is poseval's dropped last frame
        case = _case(name)
        gt = json.loads(next((case / "gt").glob("*.json")).read_text())
        last = gt["images"][-1]["id"]
        last_joints = sum(
            1
            for a in gt["annotations"]
            if a["image_id"] == last
            for j in range(17)
            if j not in (3, 4) and a["keypoints"][3 * j] > 0 and a["keypoints"][3 * j + 1] > 0
        )
        assert clear["GT"] - expected["total"]["num_objects"][15] == last_joints
        assert clear["FN"] == expected["total"]["num_misses"][15]
        assert clear["FP"] == expected["total"]["num_false_positives"][15]
