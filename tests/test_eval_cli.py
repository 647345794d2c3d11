"""``kprtrack eval`` / ``tools/eval_posetrack21.py``: table, results.json, plot, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from kprtrack.cli import main
from kprtrack.cli.eval import command
from tests.conftest import REPO, require_fixture
from tests.eval_data import gt_doc, pred_doc, two_people, write_case

SUMMARY_KEYS = {
    "HOTA", "DetA", "AssA", "FragA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "RHOTA", "FA-HOTA", "FA-RHOTA",
    "HOTA_TP", "HOTA_FN", "HOTA_FP", "HOTA(0)", "LocA(0)", "HOTALocA(0)", "HOTA_TP(0)", "HOTA_FN(0)", "HOTA_FP(0)",
}  # fmt: skip


def test_results_json_shape_and_values(tmp_path) -> None:
    case = require_fixture("posetrack21_eval") / "04_missing_and_extra_person"
    expected = json.loads((case / "expected.json").read_text())
    out = tmp_path / "results.json"
    res = CliRunner().invoke(command, ["--gt", str(case / "gt"), "--pred", str(case / "pred"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "COMBINED" in res.output and "60.832" in res.output  # the kit's headline HOTA, in percent
    assert expected["kit_results_txt"]["raw_lines"][1] in res.output
    doc = json.loads(out.read_text())
    assert set(doc) == {"combined", "sequences"}
    assert set(doc["sequences"]) == {"900104_synth_test.json"}
    for block in (doc["combined"], *doc["sequences"].values()):
        assert SUMMARY_KEYS <= set(block)
        assert {len(v) for v in block["per_alpha"].values()} == {19}
        assert set(block["per_alpha"]) == SUMMARY_KEYS - {k for k in SUMMARY_KEYS if "(0)" in k}
        assert {"MOTA", "IDSW", "precision", "recall", "protocol", "per_joint"} <= set(block["clear"])
        assert all(0.0 <= block[k] <= 1.0 for k in ("HOTA", "DetA", "AssA", "LocA"))
    for k, v in expected["combined"]["HOTAeypoints"]["summary"].items():
        assert doc["combined"][k] == pytest.approx(v, abs=1e-12)
    assert doc["combined"]["Count"] == expected["combined"]["Count"]
    assert "per_alpha_per_joint" not in doc["combined"]


def test_plot_seqs_and_boxes(tmp_path) -> None:
    gt = {f"00000{i}_mpii_test.json": gt_doc(i, two_people(4)) for i in (1, 2)}
    pred = {name: pred_doc(doc, two_people(4)) for name, doc in gt.items()}
    gdir, pdir = write_case(tmp_path, gt, pred)
    out, png = tmp_path / "r.json", tmp_path / "c.png"
    args = ["--gt", str(gdir), "--pred", str(pdir), "--seqs", "000002_mpii_test", "--out", str(out), "--plot", str(png)]
    res = CliRunner().invoke(main, ["eval", *args, "--detailed"])
    assert res.exit_code == 0, res.output
    assert "Person boxes" in res.output
    doc = json.loads(out.read_text())
    assert list(doc["sequences"]) == ["000002_mpii_test.json"]
    assert doc["combined"]["boxes"]["IDF1"] == 1.0
    assert len(doc["combined"]["per_alpha_per_joint"]["HOTA"]) == 19
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_are_one_line_without_traceback(tmp_path) -> None:
    gt = gt_doc(1, two_people(3))
    pred = pred_doc(gt, two_people(3))
    pred["annotations"][0]["keypoints"] = [1.0] * 50
    gdir, pdir = write_case(tmp_path, {"000001_mpii_test.json": gt}, {"000001_mpii_test.json": pred})
    res = CliRunner().invoke(main, ["eval", "--gt", str(gdir), "--pred", str(pdir)])
    assert res.exit_code == 2
    assert res.stderr.startswith("kprtrack: error: ") and len(res.stderr.splitlines()) == 1
    assert "annotations[0].keypoints: expected 51 values" in res.stderr
    assert "Traceback" not in res.output
    res = CliRunner().invoke(main, ["eval", "--gt", str(gdir), "--pred", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "prediction folder not found" in res.stderr


def test_cli_module_imports_only_click() -> None:
    code = "import sys, kprtrack.cli.eval; print(sorted(m for m in ('numpy', 'scipy', 'shapely') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tool_script_runs_the_same_command(tmp_path) -> None:
    gt = gt_doc(1, two_people(3))
    gdir, pdir = write_case(tmp_path, {"000001_mpii_test.json": gt}, {})
    tool = REPO / "tools" / "eval_posetrack21.py"
    args = [sys.executable, str(tool), "--gt", str(gdir), "--pred", str(pdir), "--allow-missing", "--quiet"]
    out = subprocess.run([*args, "--out", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["combined"]["HOTA"] == 0.0
    out = subprocess.run(args[:-2], capture_output=True, text=True)
    assert out.returncode == 2 and "--allow-missing" in out.stderr


def test_cli_defaults_are_the_dataclass_defaults() -> None:
    from kprtrack.eval.options import EvalOptions

    text = " ".join(CliRunner().invoke(command, ["--help"]).output.split())
    defaults = EvalOptions()
    assert f"'{defaults.missing_frame_fn}' = the kit's rule (whole sequence's GT joints, default)" in text
    assert f"'{defaults.clear_protocol}' = the kit's labelled frames (default)" in text
    assert (defaults.allow_missing, defaults.boxes, defaults.sequences) == (False, True, None)
